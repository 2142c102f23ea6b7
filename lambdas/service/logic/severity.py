"""Severity, noise fingerprint and allow-list decisions for one parsed kill.

All three read the parser's event (:class:`oomwatch.event.OomEvent`) defensively: fields may be null when the
report was cut short.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import TypeGuard, get_args

from oomwatch.event import OomEvent, Workload, WorkloadKind

from service.models.decisions import Fingerprint, Severity
from service.models.instance import InstanceInfo
from service.models.settings import AllowList

COMM_LEN = 15  # TASK_COMM_LEN - 1: the kernel truncates process names to 15 characters
# Workload kinds whose name identifies one service (a unit, a container, a pod).
_NAMED_KINDS = frozenset({"systemd-unit", "user-unit", "docker", "containerd", "kubernetes", "ecs", "lxc", "podman"})


def units(event: OomEvent) -> list[str]:
    """Every systemd unit the report ties to the victim (cgroup workload and systemd's own lines)."""
    found = [str(u) for u in event.get("units") or [] if u]
    w = cg.get("workload") if (cg := event.get("cgroup")) else None
    if w and w.get("kind") == "systemd-unit":
        for value in (w.get("unit"), w.get("name")):
            if value and value not in found:
                found.append(value)
    return found


def workload_label(event: OomEvent) -> str | None:
    """Short human name of the workload: unit, container or pod name."""
    w = cg.get("workload") if (cg := event.get("cgroup")) else None
    if not w:
        return None
    if w.get("kind") == "systemd-unit":
        return w.get("unit") or w.get("name") or None
    name = w.get("name") or w.get("unit")
    if name:
        return name
    ident = w.get("id") or w.get("pod_uid")
    return ident[:12] if ident else None


def name_matches(name: str, pattern: str) -> bool:
    """Process-name match that survives kernel truncation and versioned names.

    ``php-fpm`` matches ``php-fpm``, ``php-fpm8.1`` and ``php-fpm7.4``; ``node`` does not match
    ``nodemon``; patterns with ``*?[`` are shell globs.
    """
    if not name or not pattern:
        return False
    if any(ch in pattern for ch in "*?["):
        return fnmatchcase(name, pattern)
    pat = pattern[:COMM_LEN]
    if name == pat:
        return True
    return name.startswith(pat) and not name[len(pat)].isalpha()


def _unit_stem(unit: str) -> str:
    for suffix in (".service", ".scope", ".slice"):
        if unit.endswith(suffix):
            return unit[: -len(suffix)]
    return unit


def matches_any(names: Iterable[str], patterns: Iterable[str]) -> str | None:
    pats = tuple(patterns)
    for name in names:
        for pat in pats:
            if name_matches(name, pat):
                return pat
    return None


def severity(event: OomEvent, critical: Iterable[str]) -> Severity:
    """Critical when the whole host ran out of memory or a critical service was killed."""
    reasons = []
    if event.get("constraint") == "global":
        reasons.append("host-wide out of memory")
    hit = matches_any([event["victim"]["comm"] or "unknown", *(_unit_stem(u) for u in units(event))], critical)
    if hit:
        reasons.append(f"{hit} is on the critical list")
    if reasons:
        return Severity("critical", "; ".join(reasons))
    return Severity("warning", "not host-wide, and the process is not on the critical list")


_MEMCG_STATS = "Memory cgroup stats for "
_SCAN_LINES = 400  # bounded: the report's own lines, looked at once


def reported_memcg(event: OomEvent) -> str | None:
    """The memory cgroup the report names in its ``Memory cgroup stats for <path>:`` line (a kernel
    line of this report: the parser kept it by its sender and position), or None."""
    for line in (event.get("lines") or [])[:_SCAN_LINES]:
        at = line.find(_MEMCG_STATS)
        if at >= 0:
            path = line[at + len(_MEMCG_STATS) :].strip().removesuffix(":")
            if path.startswith("/") and len(path) < 600 and " " not in path:
                return path
    return None


_WORKLOAD_KINDS: frozenset[str] = frozenset(get_args(WorkloadKind))


def is_workload(found: Mapping[str, object] | None) -> TypeGuard[Workload]:
    """Whether :func:`oomwatch.cgroup.workload`'s plain dict is a schema workload (a known kind and a name):
    that function returns ``dict[str, object]``, so its answer is checked here rather than cast."""
    return found is not None and found.get("kind") in _WORKLOAD_KINDS and isinstance(found.get("name"), str)


def group_workload(event: OomEvent) -> Workload | None:
    """The workload noise control groups a kill by: the victim's cgroup workload when it names a
    service (unit, container, pod, ECS task), else the one the report's memcg line names, else None
    (then the process name)."""
    w = cg.get("workload") if (cg := event.get("cgroup")) else None
    if w and w.get("kind") in _NAMED_KINDS:
        return w
    path = reported_memcg(event)
    if path:
        from oomwatch.cgroup import workload as classify_path

        found = classify_path(path)
        if is_workload(found) and found["kind"] in _NAMED_KINDS:
            return found
    return None


def _group_label(w: Workload) -> str | None:
    if w.get("kind") == "kubernetes" and w.get("pod_uid"):
        return f"pod {w.get('pod_uid')}"  # every container of the pod
    if w.get("kind") == "ecs" and w.get("task_id"):
        return f"task {w.get('task_id')}"
    if w.get("kind") == "systemd-unit":
        return w.get("unit") or w.get("name") or None
    name = w.get("name") or w.get("unit") or w.get("id")
    return name[:64] if name else None


def fingerprint(
    event: OomEvent,
    instance_id: str | None,
    info: InstanceInfo | None,
    group: Workload | None = None,
) -> Fingerprint:
    """Identity of "the same problem": (ASG else instance; source; workload or process).

    Kills of one worker across an Auto Scaling group fold together; so do repeated kills of
    one systemd unit, container, pod or ECS task even when the kernel picks a different pid or
    process each time. ``group`` is a workload the handler inferred for a kill whose own lines
    name none (see :func:`group_workload`); the process name is used only when nothing is known.
    """
    if info is not None and info.asg:
        scope = f"asg:{info.asg}"
    elif instance_id:
        scope = f"instance:{instance_id}"
    else:
        scope = f"host:{event.get('host') or event.get('stream') or 'unknown'}"
    source = str(event.get("source") or "kernel")
    w = group or group_workload(event)
    subject = event["victim"]["comm"] or "unknown"
    if w is not None:
        subject = _group_label(w) or subject
    digest = hashlib.sha256(f"{scope}\x1f{source}\x1f{subject}".encode()).hexdigest()[:24]
    where = scope.split(":", 1)
    label = f"{subject} on {where[0]} {where[1]} ({source})"
    return Fingerprint(key=digest, scope=scope, source=source, subject=subject, label=label)


def allow_listed(event: OomEvent, info: InstanceInfo | None, allow: AllowList) -> str | None:
    """Why this kill is expected (so event-only), or None."""
    if allow.processes:
        hit = matches_any([event["victim"]["comm"] or "unknown"], allow.processes)
        if hit:
            return f"process {hit} is allow-listed"
    if allow.units:
        for unit in units(event):
            if any(fnmatchcase(unit, pat) or fnmatchcase(_unit_stem(unit), pat) for pat in allow.units):
                return f"unit {unit} is allow-listed"
    if allow.tags and info is not None:
        for key, want in allow.tags.items():
            have = info.tags.get(key)
            if have is not None and (want in ("*", have)):
                return f"instance tag {key}={have} is allow-listed"
    return None
