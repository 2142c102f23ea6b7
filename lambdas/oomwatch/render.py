"""The readable form of an event, for ``oomwatch scan`` and anything else that shows a kill to a person.

The parser sanitised every string of the event when it built it; each value is capped again here and each
output line goes through :func:`oomwatch.sanitise.sanitise` once more, so that no event, whoever built it,
can write a control character, a line break or a bidi override to a terminal.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from oomwatch.sanitise import sanitise


def mib(kb: int | None) -> str:
    if kb is None:
        return "?"
    if kb >= 1024 * 1024:
        return f"{kb / 1024 / 1024:.1f} GiB"
    return f"{kb / 1024:.1f} MiB"


def _who(pid: object, comm: object) -> str:
    name = sanitise(comm, 64) if comm is not None else "?"
    return f"{name} (pid {pid})" if pid not in (None, -1) else name


def describe_workload(workload: dict[str, Any] | None) -> str | None:
    if not workload:
        return None
    kind = str(workload.get("kind"))
    name = sanitise(str(workload.get("name")), 128)
    if kind == "kubernetes":
        qos = workload.get("qos")
        cid = workload.get("id")
        return (
            f"Kubernetes pod {workload.get('pod_uid') or name}"
            + (f" ({qos})" if qos else "")
            + (f", container {str(cid)[:12]}" if cid else "")
        )
    labels = {
        "systemd-unit": "systemd unit",
        "user-unit": "user unit",
        "user-session": "user session",
        "docker": "Docker container",
        "containerd": "containerd container",
        "podman": "Podman container",
        "crio": "CRI-O container",
        "ecs": "ECS",
        "lxc": "LXC container",
        "cgroup": "cgroup",
    }
    text = f"{labels.get(kind, kind)} {name}"
    if workload.get("lxc") and kind != "lxc":
        text += f" in LXC {sanitise(workload['lxc'], 64)}"
    return text


def render_event(event: dict[str, Any], number: int) -> str:
    v = event.get("victim") or {}
    when = event.get("timestamp") or event.get("log_time") or "time unknown"
    if event.get("uptime_s") is not None:
        when += f" (uptime {event['uptime_s']:.1f} s)"
    host = sanitise(event.get("host") or event.get("stream") or "unknown host", 256)
    source = event.get("source")
    head = f"OOM kill #{number}: {_who(v.get('pid'), v.get('comm'))} on {host}, {when}"
    lines = [head]
    if source != "kernel":
        lines.append(f"  killer      {source}" + (f" ({event['message']})" if event.get("message") else ""))
    mem = []
    if v.get("rss_kb") is not None:
        mem.append(f"RSS {mib(v['rss_kb'])}")
    parts = [
        f"{label} {mib(v.get(key))}"
        for label, key in (("anon", "anon_rss_kb"), ("file", "file_rss_kb"), ("shmem", "shmem_rss_kb"))
        if v.get(key) is not None
    ]
    if parts:
        mem.append("(" + ", ".join(parts) + ")")
    if v.get("total_vm_kb") is not None:
        mem.append(f"virtual {mib(v['total_vm_kb'])}")
    extras = []
    if v.get("uid") is not None:
        extras.append(f"uid {v['uid']}")
    if v.get("oom_score_adj") is not None:
        extras.append(f"oom_score_adj {v['oom_score_adj']}")
    if mem or extras:
        lines.append("  victim      " + " ".join(mem + extras))
    elif source == "systemd-oomd":
        pids = ", ".join(str(p) for p in v.get("pids") or [])
        lines.append("  victim      every process of the cgroup" + (f" (pids {pids})" if pids else ""))
    else:
        lines.append("  victim      figures unknown")
    t = event.get("trigger")
    if t:
        trig = f"{_who(t.get('pid'), t.get('comm'))}"
        if t.get("gfp_mask"):
            flags = f"({t['gfp_flags']})" if t.get("gfp_flags") else ""
            trig += f", gfp_mask {t['gfp_mask']}{flags}, order {t.get('order')}"
        lines.append(f"  trigger     {trig}")
    elif source == "kernel":
        lines.append("  trigger     unknown (report header not in the log)")
    constraint = str(event.get("constraint"))
    constraint_text = {
        "global": "host-wide (global) OOM",
        "memcg": "memory cgroup limit",
        "cpuset": "cpuset",
        "mempolicy": "memory policy",
        "unknown": "unknown",
    }.get(constraint, constraint)
    cg = event.get("cgroup") or {}
    if constraint == "memcg" and cg.get("oom_memcg"):
        constraint_text += f" of {sanitise(cg['oom_memcg'], 512)}"
    memcg = event.get("memcg")
    if memcg and memcg.get("limit_kb") is not None:
        constraint_text += f" (usage {mib(memcg.get('usage_kb'))} of limit {mib(memcg.get('limit_kb'))})"
    lines.append(f"  constraint  {constraint_text}")
    workload = describe_workload(cg.get("workload"))
    if workload:
        lines.append(f"  workload    {workload}")
    elif cg.get("task_memcg"):
        lines.append(f"  cgroup      {sanitise(cg['task_memcg'], 512)}")
    if event.get("units"):
        lines.append("  units       " + ", ".join(sanitise(u, 256) for u in event["units"]))
    kernel_workload: dict[str, Any] = (event.get("cgroup") or {}).get("workload") or {}
    known = {*(event.get("units") or []), *(v for v in (kernel_workload.get("name"), kernel_workload.get("unit")) if v)}
    said = [c for c in event.get("systemd_context") or [] if c.get("unit") not in known]
    if said:
        why = "sender not verified" if any(not c.get("verified") for c in said) else "the kernel's cgroup comes first"
        units = ", ".join(sanitise(str(c.get("unit")), 256) for c in said)
        lines.append(f"  context     systemd reports unit {units} (not used: {why})")
    if event.get("sender_verified") is False:
        lines.append(f"  sender      not verified: anyone on the host can write this {event.get('source')} line")
    top = event.get("top_consumers") or []
    if top:
        lines.append(
            "  top memory  " + " · ".join(f"{sanitise(c['comm'], 64)} {c['pid']} {mib(c['rss_kb'])}" for c in top)
        )
    if event.get("task_count") is not None:
        lines.append(f"  tasks       {event['task_count']} listed in the report")
    reaped = {True: "yes", False: "no (oom_reaper could not reap)", None: "not reported"}[event.get("reaped")]
    if source == "kernel":
        lines.append(f"  reaped      {reaped}")
    if not event.get("complete"):
        lines.append("  complete    no: parts of the report are missing")
    for w in event.get("warnings") or []:
        lines.append(f"  note        {sanitise(w, 1024)}")
    return "\n".join(sanitise(line, None) for line in lines)


def render_summary(events: list[dict[str, Any]]) -> str:
    if not events:
        return "no OOM kills found"
    sources = Counter(str(e.get("source")) for e in events)
    hosts = {e.get("host") or e.get("stream") or "?" for e in events}  # only counted, never printed
    by = ", ".join(f"{n} {s}" for s, n in sources.most_common())
    noun = "kill" if len(events) == 1 else "kills"
    hnoun = "host" if len(hosts) == 1 else "hosts"
    return sanitise(f"{len(events)} OOM {noun} found ({by}) on {len(hosts)} {hnoun}", None)
