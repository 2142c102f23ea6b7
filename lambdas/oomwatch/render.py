"""The readable form of an event, for ``oomwatch scan`` and anything else that shows a kill to a person.

The parser sanitised every string of the event when it built it; each value is capped again here and each
output line goes through :func:`oomwatch.sanitise.sanitise` once more, so that no event, whoever built it,
can write a control character, a line break or a bidi override to a terminal.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from oomwatch.sanitise import sanitise

if TYPE_CHECKING:
    from datetime import datetime

    from oomwatch.event import OomEvent, Workload
    from oomwatch.filters import Row


def size_1dp(kb: int | None) -> str:
    if kb is None:
        return "?"
    if kb >= 1024 * 1024:
        return f"{kb / 1024 / 1024:.1f} GiB"
    return f"{kb / 1024:.1f} MiB"


def _who(pid: object, comm: object) -> str:
    name = sanitise(comm, 64) if comm is not None else "?"
    return f"{name} (pid {pid})" if pid not in (None, -1) else name


def workload_phrase(workload: Workload | None) -> str | None:
    """The kernel cgroup's workload in words ("Kubernetes pod <uid> (burstable), container <id>")."""
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


def render_event(event: OomEvent, number: int) -> str:
    """One kill as ``oomwatch scan`` prints it: a head line, then one labelled line per part of the report."""
    lines = [_head(event, number), *_origin(event), _victim(event), *_trigger(event), _constraint(event)]
    lines += [*_cgroup(event), *_report_parts(event)]
    return "\n".join(sanitise(line, None) for line in lines)


def _head(event: OomEvent, number: int) -> str:
    v = event.get("victim") or {}
    when = event.get("timestamp") or event.get("log_time") or "time unknown"
    if event.get("uptime_s") is not None:
        when += f" (uptime {event['uptime_s']:.1f} s)"
    # dmesg and `journalctl -o cat` name no host: the input is shown apart, never as if it were the host.
    host = sanitise(event["host"], 256) if event.get("host") else "host unknown"
    return f"OOM kill #{number}: {_who(v.get('pid'), v.get('comm'))} on {host}, {when}"


def _origin(event: OomEvent) -> list[str]:
    lines = []
    if event.get("stream"):
        lines.append(f"  input       {sanitise(event['stream'], 512)}")
    source = event.get("source")
    if source != "kernel":
        lines.append(f"  killer      {source}" + (f" ({event['message']})" if event.get("message") else ""))
    return lines


def _victim(event: OomEvent) -> str:
    v = event.get("victim") or {}
    mem = [f"RSS {size_1dp(v['rss_kb'])}"] if v.get("rss_kb") is not None else []
    parts = [
        f"{label} {size_1dp(kb)}"
        for label, kb in (
            ("anon", v.get("anon_rss_kb")),
            ("file", v.get("file_rss_kb")),
            ("shmem", v.get("shmem_rss_kb")),
        )
        if kb is not None
    ]
    if parts:
        mem.append("(" + ", ".join(parts) + ")")
    if v.get("total_vm_kb") is not None:
        mem.append(f"virtual {size_1dp(v['total_vm_kb'])}")
    extras = [f"{key} {v.get(key)}" for key in ("uid", "oom_score_adj") if v.get(key) is not None]
    if mem or extras:
        return "  victim      " + " ".join(mem + extras)
    if event.get("source") == "systemd-oomd":
        pids = ", ".join(str(p) for p in v.get("pids") or [])
        return "  victim      every process of the cgroup" + (f" (pids {pids})" if pids else "")
    return "  victim      figures unknown"


def _trigger(event: OomEvent) -> list[str]:
    t = event.get("trigger")
    if t:
        trig = f"{_who(t.get('pid'), t.get('comm'))}"
        if t.get("gfp_mask"):
            flags = f"({t['gfp_flags']})" if t.get("gfp_flags") else ""
            trig += f", gfp_mask {t['gfp_mask']}{flags}, order {t.get('order')}"
        return [f"  trigger     {trig}"]
    if event.get("source") == "kernel":
        return ["  trigger     unknown (report header not in the log)"]
    return []


_CONSTRAINTS = {
    "global": "host-wide (global) OOM",
    "memcg": "memory cgroup limit",
    "cpuset": "cpuset",
    "mempolicy": "memory policy",
    "unknown": "unknown",
}


def _constraint(event: OomEvent) -> str:
    constraint = str(event.get("constraint"))
    text = _CONSTRAINTS.get(constraint, constraint)
    cg = event.get("cgroup")
    oom_memcg = cg.get("oom_memcg") if cg else None
    if constraint == "memcg" and oom_memcg:
        text += f" of {sanitise(oom_memcg, 512)}"
    memcg = event.get("memcg")
    if memcg and memcg.get("limit_kb") is not None:
        text += f" (usage {size_1dp(memcg.get('usage_kb'))} of limit {size_1dp(memcg.get('limit_kb'))})"
    return f"  constraint  {text}"


def _cgroup(event: OomEvent) -> list[str]:
    """The workload (or bare cgroup), the verified units, and what else systemd said, with why it is not used."""
    lines = []
    cg = event.get("cgroup")
    kernel_workload = cg.get("workload") if cg else None
    task_memcg = cg.get("task_memcg") if cg else None
    workload = workload_phrase(kernel_workload)
    if workload:
        lines.append(f"  workload    {workload}")
    elif task_memcg:
        lines.append(f"  cgroup      {sanitise(task_memcg, 512)}")
    if event.get("units"):
        lines.append("  units       " + ", ".join(sanitise(u, 256) for u in event["units"]))
    named = (kernel_workload.get("name"), kernel_workload.get("unit")) if kernel_workload else ()
    known = {*(event.get("units") or []), *(v for v in named if v)}
    said = [c for c in event.get("systemd_context") or [] if c.get("unit") not in known]
    if said:
        why = "sender not verified" if any(not c.get("verified") for c in said) else "the kernel's cgroup comes first"
        units = ", ".join(sanitise(str(c.get("unit")), 256) for c in said)
        lines.append(f"  context     systemd reports unit {units} (not used: {why})")
    if event.get("sender_verified") is False:
        lines.append(f"  sender      not verified: anyone on the host can write this {event.get('source')} line")
    return lines


def _report_parts(event: OomEvent) -> list[str]:
    """The task table's top users and size, whether the memory was reaped, and what the report lacked."""
    lines = []
    top = event.get("top_consumers") or []
    if top:
        lines.append(
            "  top memory  " + " · ".join(f"{sanitise(c['comm'], 64)} {c['pid']} {size_1dp(c['rss_kb'])}" for c in top)
        )
    if event.get("task_count") is not None:
        lines.append(f"  tasks       {event['task_count']} listed in the report")
    if event.get("source") == "kernel":
        reaped = {True: "yes", False: "no (oom_reaper could not reap)", None: "not reported"}[event.get("reaped")]
        lines.append(f"  reaped      {reaped}")
    if not event.get("complete"):
        lines.append("  complete    no: parts of the report are missing")
    lines += [f"  note        {sanitise(w, 1024)}" for w in event.get("warnings") or []]
    return lines


def render_summary(events: list[OomEvent], left_out: int = 0) -> str:
    """The last line: how many kills, by which killer, on how many hosts (a kill without a host name counts for
    none: two dmesg files are not two hosts, nor one). ``left_out``: kills the filters did not show."""
    rest = f" ({left_out} more left out by the filters)" if left_out else ""
    if not events:
        return "no OOM kills found" + rest
    sources = Counter(str(e.get("source")) for e in events)
    hosts = {e["host"] for e in events if e.get("host")}  # only counted, never printed
    unknown = sum(1 for e in events if not e.get("host"))
    by = ", ".join(f"{n} {s}" for s, n in sources.most_common())
    noun = "kill" if len(events) == 1 else "kills"
    where = f" on {len(hosts)} {'host' if len(hosts) == 1 else 'hosts'}" if hosts else ""
    if unknown:
        where += f", {unknown} with host unknown" if hosts else ", host unknown"
    return sanitise(f"{len(events)} OOM {noun} found ({by}){where}{rest}", None)


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns: its start and end kept, an ellipsis between (``vte-spawn-d…d.scope``)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "\u2026"[:width]
    tail = (width - 1) // 3  # the start tells most names apart (ip-10-0-1-23.…, build-7f3a…), the end a kind
    head = width - 1 - tail
    return text[:head] + "\u2026" + (text[-tail:] if tail else "")


TABLE_WIDTH = 78


def render_table(rows: list[Row]) -> str:
    """``--summary``: one line per (host, process), at most ``TABLE_WIDTH`` columns; long names shortened.

    Times are local (``TZ``), ``MM-DD HH:MM`` when every time in the table falls in one year (named below the
    table), else dates ``YYYY-MM-DD``; ``?`` when none of the row's kills has a time.
    """
    if not rows:
        return "no OOM kills found"
    times = [t.astimezone() for r in rows for t in (r.first, r.last) if t is not None]
    years = {t.year for t in times}
    fmt = "%m-%d %H:%M" if len(years) <= 1 else "%Y-%m-%d"

    def when(t: datetime | None) -> str:
        return t.astimezone().strftime(fmt) if t is not None else "?"

    def name(r: Row) -> str:
        # A host unknown is shown by its input, in parentheses: two dmesg files are two machines, not one.
        return sanitise(r.host, 256) if r.host is not None else f"({sanitise(r.source.rsplit('/', 1)[-1], 256)})"

    cells = [
        [name(r), sanitise(r.process, 64), str(r.kills), size_1dp(r.largest_rss_kb), when(r.first), when(r.last)]
        for r in rows
    ]
    header = ["host", "process", "kills", "max RSS", "first", "last"]
    fixed = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(2, 6)]
    gaps = 2 * 5
    room = TABLE_WIDTH - sum(fixed) - gaps  # for host and process together
    want_host = max(len(header[0]), *(len(c[0]) for c in cells))
    want_proc = max(len(header[1]), *(len(c[1]) for c in cells))
    if want_host + want_proc <= room:
        host_w, proc_w = want_host, want_proc
    else:
        # Share the room: each gets what it needs up to half, the other takes what is left.
        half = room // 2
        proc_w = min(want_proc, max(half, room - want_host))
        host_w = room - proc_w
    widths = [host_w, proc_w, *fixed]
    right = {2, 3}  # numbers right-aligned

    def line(values: list[str]) -> str:
        out = []
        for i, (v, w) in enumerate(zip(values, widths, strict=True)):
            v = shorten(v, w)
            out.append(v.rjust(w) if i in right else v.ljust(w))
        return "  ".join(out).rstrip()

    lines = [line(header), *(line(c) for c in cells)]
    notes = []
    if len(years) == 1:
        notes.append(f"times are local ({_zone(times[0])}), all in {years.pop()}")
    elif years:
        notes.append(f"times are local ({_zone(times[0])})")
    if any(r.host is None for r in rows):
        notes.append("(file): host unknown, read from that input")
    lines += notes
    return "\n".join(sanitise(x, None) for x in lines)


def _zone(t: datetime) -> str:
    return t.astimezone().tzname() or "local"
