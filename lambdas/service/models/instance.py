"""What an alert says about the host: parsed from DescribeInstances / DescribeInstanceTypes output.

The parsing is pure so the handler's EC2 adapter stays a thin batch-and-cache layer.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from oomwatch.sanitise import sanitise

from service.models.event_record import InstanceLog

_INSTANCE_ID = re.compile(r"(?<![0-9a-z-])(i-[0-9a-f]{8}(?:[0-9a-f]{9})?)(?![0-9a-z])")

# Sizes in the order AWS names them; used to find "the next size" when RAM data is missing.
_SIZE_ORDER = (
    "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "3xlarge", "4xlarge",
    "6xlarge", "8xlarge", "9xlarge", "10xlarge", "12xlarge", "16xlarge", "18xlarge",
    "24xlarge", "32xlarge", "48xlarge", "56xlarge", "112xlarge",
)  # fmt: skip


MAX_TAGS = 20


def instance_id_from_stream(stream: str) -> str | None:
    """The EC2 instance id in a log stream name (the agent's ``{instance_id}`` default), if any."""
    match = _INSTANCE_ID.search(stream or "")
    return match.group(1) if match else None


class InstanceInfo(NamedTuple):
    instance_id: str
    name: str | None = None
    instance_type: str | None = None
    az: str | None = None
    private_ip: str | None = None
    image_id: str | None = None
    launch_time: datetime | None = None
    asg: str | None = None
    state: str | None = None
    tags: Mapping[str, str] = MappingProxyType({})
    memory_mib: int | None = None
    next_type: str | None = None
    next_memory_mib: int | None = None

    @property
    def memory_kb(self) -> int | None:
        return None if self.memory_mib is None else self.memory_mib * 1024

    def as_log(self) -> InstanceLog:
        """The ``instance`` block of the structured event."""
        return {
            "id": self.instance_id,
            "name": self.name,
            "type": self.instance_type,
            "memory_mib": self.memory_mib,
            "az": self.az,
            "private_ip": self.private_ip,
            "image_id": self.image_id,
            "launch_time": self.launch_time.isoformat() if self.launch_time else None,
            "asg": self.asg,
            "state": self.state,
            "tags": dict(list(self.user_tags().items())[:MAX_TAGS]),
        }

    def user_tags(self) -> dict[str, str]:
        """Tags other than Name and AWS's own (``aws:``), which the alert already shows or cannot use."""
        return {k: v for k, v in sorted(self.tags.items()) if k != "Name" and not k.startswith("aws:")}


def parse_instances(reservations: Iterable[Mapping[str, Any]]) -> dict[str, InstanceInfo]:
    """Map instance id -> :class:`InstanceInfo` (without RAM) from DescribeInstances reservations."""
    out: dict[str, InstanceInfo] = {}
    for reservation in reservations:
        for inst in reservation.get("Instances", []):
            # Tags are typed by whoever may tag the instance: sanitised here, where they enter (EC2 allows
            # 128-character keys and 256-character values; the ASG name, a tag too, up to 255).
            tags = {
                sanitise(t.get("Key", ""), 128): sanitise(t.get("Value", ""), 256) for t in inst.get("Tags", []) or []
            }
            launch = inst.get("LaunchTime")
            out[inst["InstanceId"]] = InstanceInfo(
                instance_id=inst["InstanceId"],
                name=tags.get("Name") or None,
                instance_type=inst.get("InstanceType"),
                az=(inst.get("Placement") or {}).get("AvailabilityZone"),
                private_ip=inst.get("PrivateIpAddress"),
                image_id=inst.get("ImageId"),
                launch_time=launch if isinstance(launch, datetime) else None,
                asg=tags.get("aws:autoscaling:groupName") or None,
                state=(inst.get("State") or {}).get("Name"),
                tags=tags,
            )
    return out


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def _size_rank(instance_type: str) -> int:
    size = instance_type.split(".", 1)[-1]
    try:
        return _SIZE_ORDER.index(size)
    except ValueError:
        return len(_SIZE_ORDER)  # metal and unknown sizes sort last


def next_size(instance_type: str, memory_by_type: Mapping[str, int]) -> tuple[str, int] | None:
    """The smallest type of the same family with more RAM (metal excluded), with its RAM in MiB."""
    current = memory_by_type.get(instance_type)
    if current is None:
        return None
    family = family_of(instance_type)
    bigger = [
        (mem, _size_rank(t), t)
        for t, mem in memory_by_type.items()
        if family_of(t) == family and mem > current and "metal" not in t
    ]
    if not bigger:
        return None
    mem, _, name = min(bigger)
    return name, mem


def with_memory(info: InstanceInfo, memory_by_type: Mapping[str, int]) -> InstanceInfo:
    """Attach RAM and the next size's RAM to ``info``."""
    if not info.instance_type:
        return info
    nxt = next_size(info.instance_type, memory_by_type)
    return info._replace(
        memory_mib=memory_by_type.get(info.instance_type),
        next_type=nxt[0] if nxt else None,
        next_memory_mib=nxt[1] if nxt else None,
    )
