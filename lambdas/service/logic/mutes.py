"""Which mute, if any, silences a kill (pure): the victim's ``comm`` (a glob), its systemd units (a glob, with or
without the ``.service`` suffix), the instance id, its Auto Scaling group and tags (from EC2, never from the log).

A critical kill of a host that ran out of memory (constraint ``global``) breaks through every mute when
``mute_breakthrough_critical`` is on: the host itself is in danger, whatever was muted on it.
"""

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import NamedTuple

from oomwatch.event import OomEvent
from oomwatch.mutes import Mute

from service.logic.severity import _unit_stem, units
from service.models.decisions import Severity
from service.models.instance import InstanceInfo


def matches(mute: Mute, event: OomEvent, instance_id: str | None, info: InstanceInfo | None) -> bool:
    """Whether ``mute`` covers this kill (whatever its time: see :func:`mute_of`)."""
    if mute.kind == "process":
        return fnmatchcase(str(event["victim"].get("comm") or ""), mute.value)
    if mute.kind == "unit":
        return any(fnmatchcase(u, mute.value) or fnmatchcase(_unit_stem(u), mute.value) for u in units(event))
    if mute.kind == "instance":
        return instance_id is not None and instance_id == mute.value
    if mute.kind == "asg":
        return info is not None and info.asg is not None and info.asg == mute.value
    if mute.kind == "tag":
        key, _, want = mute.value.partition("=")
        return info is not None and info.tags.get(key) == want
    return False


class MuteDecision(NamedTuple):
    """A kill's mute: ``muted`` (no alert) or ``broke_through`` (alerted despite it)."""

    mute: Mute
    muted: bool


def mute_of(
    mutes: Sequence[Mute],
    event: OomEvent,
    sev: Severity,
    instance_id: str | None,
    info: InstanceInfo | None,
    *,
    now_s: float,
    max_hours: int,
    breakthrough_critical: bool,
) -> MuteDecision | None:
    """The first active mute (oldest first) that covers the kill, and whether it silences it."""
    for mute in mutes:
        if mute.active(now_s, max_hours) and matches(mute, event, instance_id, info):
            host_wide = sev.level == "critical" and event.get("constraint") == "global"
            return MuteDecision(mute, not (breakthrough_critical and host_wide))
    return None


def breakthrough_note(mute: Mute) -> str:
    """The line a critical host-wide kill's alert carries when it broke through a mute."""
    return (
        f"This alert broke through mute {mute.id} ({mute.label}, set by {mute.by}: {mute.reason}):"
        " the whole host ran out of memory (mute_breakthrough_critical)."
    )
