"""Instance enrichment: DescribeInstances + DescribeInstanceTypes, batched per invocation and
cached across warm invocations.

A failed call never stops an alert: the lookup returns what it has plus a note saying which
part is missing and why (throttled, access denied, timed out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from service.dal.clients import AwsError, Clients, error_code
from service.models.instance import InstanceInfo, family_of, parse_instances, with_memory

INSTANCE_TTL_S = 300.0  # tags and ASG membership change rarely; state may
TYPE_TTL_S = 24 * 3600.0  # instance type sizes never change
MISSING_TTL_S = 60.0  # an id DescribeInstances did not return (terminated, other account)
FILTER_VALUES_MAX = 200  # EC2 filter value limit per request


class Lookup:
    """What EC2 said of a delivery's instances, and what it could not say (the enrichment notes)."""

    def __init__(self) -> None:
        self.instances: dict[str, InstanceInfo] = {}
        self.notes: list[str] = []
        self.failed: list[str] = []  # API names that failed


class InstanceDirectory:
    def __init__(self, clients: Clients, clock: Callable[[], float]) -> None:
        self._clients = clients
        self._clock = clock
        self._instances: dict[str, tuple[float, InstanceInfo | None]] = {}
        self._families: dict[str, tuple[float, dict[str, int]]] = {}

    def clear(self) -> None:
        self._instances.clear()
        self._families.clear()

    def lookup(self, instance_ids: Iterable[str]) -> Lookup:
        """Describe every id (one batched call for the uncached ones) and attach RAM."""
        now = self._clock()
        result = Lookup()
        wanted = list(dict.fromkeys(i for i in instance_ids if i))
        missing = [i for i in wanted if self._instances.get(i, (0.0, None))[0] <= now]
        if missing:
            try:
                found = self._describe_instances(missing)
            except AwsError as exc:
                result.failed.append("DescribeInstances")
                result.notes.append(f"Instance details left out: ec2:DescribeInstances failed ({error_code(exc)}).")
                found = None
            if found is not None:
                for iid in missing:
                    info = found.get(iid)
                    self._instances[iid] = (now + (INSTANCE_TTL_S if info else MISSING_TTL_S), info)
                for iid in missing:
                    if iid not in found:
                        result.notes.append(f"{iid} was not found by ec2:DescribeInstances (terminated?).")
        infos = {i: self._instances[i][1] for i in wanted if i in self._instances and self._instances[i][1]}
        families = {family_of(info.instance_type) for info in infos.values() if info and info.instance_type}
        memory = self._memory(families, now, result)
        for iid, info in infos.items():
            if info is not None:
                result.instances[iid] = with_memory(info, memory)
        return result

    def _describe_instances(self, ids: list[str]) -> dict[str, InstanceInfo]:
        out: dict[str, InstanceInfo] = {}
        ec2 = self._clients.ec2
        for start in range(0, len(ids), FILTER_VALUES_MAX):
            chunk = ids[start : start + FILTER_VALUES_MAX]
            kwargs: dict[str, Any] = {"Filters": [{"Name": "instance-id", "Values": chunk}]}
            for _ in range(5):  # bounded pagination
                page = ec2.describe_instances(**kwargs)
                out.update(parse_instances(page.get("Reservations", [])))
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return out

    def _memory(self, families: set[str], now: float, result: Lookup) -> dict[str, int]:
        """RAM (MiB) of every size of the given families; one call for all uncached families."""
        memory: dict[str, int] = {}
        todo = sorted(f for f in families if self._families.get(f, (0.0, {}))[0] <= now)
        if todo:
            try:
                fetched = self._describe_types(todo)
            except AwsError as exc:
                result.failed.append("DescribeInstanceTypes")
                result.notes.append(f"RAM size left out: ec2:DescribeInstanceTypes failed ({error_code(exc)}).")
            else:
                for fam in todo:
                    sizes = {t: m for t, m in fetched.items() if family_of(t) == fam}
                    self._families[fam] = (now + TYPE_TTL_S, sizes)
        for fam in families:
            memory.update(self._families.get(fam, (0.0, {}))[1])
        return memory

    def _describe_types(self, families: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        ec2 = self._clients.ec2
        kwargs: dict[str, Any] = {"Filters": [{"Name": "instance-type", "Values": [f"{f}.*" for f in families]}]}
        for _ in range(10):
            page = ec2.describe_instance_types(**kwargs)
            for t in page.get("InstanceTypes", []):
                mem = (t.get("MemoryInfo") or {}).get("SizeInMiB")
                if t.get("InstanceType") and mem:
                    out[t["InstanceType"]] = int(mem)
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return out
