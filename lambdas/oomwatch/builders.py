"""Build the kill event (:class:`oomwatch.event.OomEvent`) from what the parser read: a report and its kill.

Every string is sanitised here, once, as the event is made; a figure no kernel prints is left out with a warning
(``drop_implausible``), so whoever reads an event can render and store it as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, cast

from oomwatch import cgroup as cg
from oomwatch import kernel as k
from oomwatch import userspace as us
from oomwatch.report import LINE_CAP, MAX_ROWS, Userspace
from oomwatch.sanitise import sanitise
from oomwatch.transport import MAX_LINE

if TYPE_CHECKING:
    from oomwatch.event import (
        Cgroup,
        Constraint,
        Memcg,
        OomEvent,
        Source,
        SystemdContext,
        TaskTable,
        TopConsumer,
        Trigger,
        Victim,
        Workload,
    )
    from oomwatch.kernel import Header, Killed
    from oomwatch.report import Found, Kill, Report
    from oomwatch.transport import Record, Sender

SCHEMA_VERSION: Final = 1
EVENT_LINES = 60  # raw lines carried in an event


def _time(rec: Record, time_ms: int | None) -> str | None:
    if rec.timestamp:
        return rec.timestamp
    if time_ms is not None:
        try:
            dt = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return dt.isoformat(timespec="milliseconds")
    return None


def _page_kb(report: Report, fields: Killed | None) -> int:
    """Task-table values are pages: 4 kB unless the victim's row and kill line together say otherwise."""
    if fields:
        row = report.rows.get(int(fields["pid"]))
        if row and row.get("total_vm"):
            ratio = fields["total_vm_kb"] / max(int(row["total_vm"]), 1)
            for size in (16, 64):
                if abs(ratio - size) <= size * 0.1:
                    return size
    return 4


def _constraint(report: Report, message: str | None) -> Constraint:
    summary = report.summary or {}
    raw = summary.get("constraint_raw")
    if raw:
        return k.CONSTRAINTS.get(str(raw), "unknown")
    msg = message or report.message
    if report.task_in or "memory" in report.usage or msg == k.MEMCG_MESSAGE:
        return "memcg"
    if msg in k.GLOBAL_MESSAGES or report.meminfo:
        return "global"
    return "unknown"


def _event_lines(report: Report, extra: list[str]) -> tuple[list[str], int]:
    """Key lines always; other lines in order until the cap. Returns the lines and how many were left out.

    The kills of one report (a memory.oom.group loop) share its lines: they are cleaned once per report.
    """
    lines = report.lines
    cache = report.event_lines
    if cache is None or cache[0] != len(lines) or cache[1] != len(extra):
        budget = EVENT_LINES - sum(1 for _, key in lines if key) - len(extra)
        base: list[str] = []
        for raw, key in lines:
            if key or budget > 0:
                base.append(sanitise(raw.rstrip("\r\n"), LINE_CAP))
                if not key:
                    budget -= 1
        report.event_lines = cache = (len(lines), len(extra), base)
    keep = cache[2] + [sanitise(x.rstrip("\r\n"), LINE_CAP) for x in extra]
    if len(keep) > EVENT_LINES * 2:
        keep = keep[:EVENT_LINES] + keep[-EVENT_LINES:]
    left_out = len(lines) + len(extra) + report.dropped_lines - len(keep)
    return keep, max(left_out, 0)


def skeleton(found: Found, source: Source) -> OomEvent:
    """An event with what every kill line gives and nothing else: the rest is null until a report shows it."""
    rec = found.record
    kill_line = sanitise(rec.raw.rstrip("\r\n"), LINE_CAP)
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "constraint": "unknown",
        "message": None,
        "host": sanitise(rec.host, 256) if rec.host else None,
        "stream": sanitise(found.stream, 512) or None,
        "timestamp": _time(rec, found.time_ms),
        "log_time": sanitise(rec.log_time, 64) if rec.log_time else None,
        "uptime_s": rec.uptime,
        "victim": {
            "pid": None,
            "comm": None,
            "uid": None,
            "total_vm_kb": None,
            "anon_rss_kb": None,
            "file_rss_kb": None,
            "shmem_rss_kb": None,
            "pgtables_kb": None,
            "oom_score_adj": None,
            "rss_kb": None,
        },
        "trigger": None,
        "cgroup": None,
        "memcg": None,
        "top_consumers": [],
        "task_table": None,
        "task_count": None,
        "page_kb": None,
        "reaped": None,
        "units": [],
        "systemd_context": [],
        "complete": False,
        "warnings": [],
        "kill_line": kill_line,
        "kill_event_id": found.event_id,
        "lines": [kill_line],
        "lines_left_out": 0,
    }


def kernel_event(kill: Kill) -> OomEvent:
    """The event of a kernel kill: its kill line, with whatever its report showed."""
    report, fields = kill.report, kill.fields
    warnings = _report_warnings(report)
    page_kb = _page_kb(report, fields)
    event = skeleton(kill, "kernel")
    victim = event["victim"]
    summary = report.summary or {}
    _fill_victim(victim, kill, summary, warnings)
    pid = victim["pid"]
    cgroup_block, units, context = _cgroup(kill, summary, pid, victim["uid"])
    top, task_table = _tables(report, page_kb)
    _reading_warnings(report, pid, warnings)
    extra = [kill.reaper_line] if kill.reaper_line else []
    lines, left_out = _event_lines(report, extra)
    event["constraint"] = _constraint(report, kill.message)
    event["message"] = sanitise(kill.message or report.message or "", 128) or None
    event["trigger"] = _trigger(report.trigger)
    event["cgroup"] = cgroup_block
    event["memcg"] = _memcg(report.usage)
    event["top_consumers"] = top
    event["task_table"] = task_table
    event["task_count"] = len(report.rows) + report.rows_dropped if report.table_seen else None
    event["page_kb"] = page_kb
    event["reaped"] = kill.reaped
    event["units"] = [sanitise(u, 256) for u in units]
    event["systemd_context"] = context
    event["complete"] = fields is not None and report.trigger is not None and report.table_seen
    event["warnings"] = warnings
    event["lines"] = lines
    event["lines_left_out"] = left_out
    drop_implausible(event)
    return event


def _report_warnings(report: Report) -> list[str]:
    """The report's own warnings, and what its caps left out."""
    warnings = list(report.warnings)
    if report.warnings_dropped:
        warnings.append(f"{report.warnings_dropped} more warnings about this report left out")
    if report.rows_dropped:
        warnings.append(f"task table of more than {2 * MAX_ROWS} rows: only the {MAX_ROWS} largest kept")
    if report.rows_implausible:
        warnings.append(f"{report.rows_implausible} task-table rows with figures no kernel prints left out")
    return warnings


def _fill_victim(victim: Victim, kill: Kill, summary: dict[str, object], warnings: list[str]) -> None:
    """The victim from the kill line, completed from its task-table row and the oom-kill summary."""
    fields, report = kill.fields, kill.report
    if fields is None:
        warnings.append("the Killed process line fits no known layout; raw line kept")
        any_layout = k.KILLED_ANY.match(kill.record.text)
        guess = k.KILLED_PID_ONLY().match(any_layout.group("rest")) if any_layout else None
        if guess:
            victim["pid"] = k.num(guess.group("pid"))
            victim["comm"] = guess.group("comm")
    else:
        victim["pid"] = fields["pid"]
        victim["comm"] = fields["comm"]
        victim["uid"] = fields["uid"]
        victim["total_vm_kb"] = fields["total_vm_kb"]
        victim["anon_rss_kb"] = fields["anon_rss_kb"]
        victim["file_rss_kb"] = fields["file_rss_kb"]
        victim["shmem_rss_kb"] = fields["shmem_rss_kb"]
        victim["pgtables_kb"] = fields["pgtables_kb"]
        victim["oom_score_adj"] = fields["oom_score_adj"]
        victim["rss_kb"] = fields["anon_rss_kb"] + fields["file_rss_kb"] + (fields["shmem_rss_kb"] or 0)
    pid = victim["pid"]
    row = report.rows.get(pid) if isinstance(pid, int) else None
    if row is not None:
        if victim["oom_score_adj"] is None and "oom_score_adj" in row:
            victim["oom_score_adj"] = row["oom_score_adj"]
        if victim["uid"] is None:
            victim["uid"] = row.get("uid")
        if victim["pgtables_kb"] is None and "pgtables_bytes" in row:
            victim["pgtables_kb"] = int(row["pgtables_bytes"]) // 1024
    if victim["uid"] is None and summary.get("pid") == pid and pid is not None:
        uid = summary.get("uid")
        victim["uid"] = uid if isinstance(uid, int) else None
    if victim["comm"] is not None:
        victim["comm"] = sanitise(victim["comm"], 64)


def _trigger(t: Header | None) -> Trigger | None:
    if t is None:
        return None
    trigger: Trigger = {
        "pid": t.get("pid"),
        "comm": sanitise(str(t.get("comm")), 64),
        "gfp_mask": t.get("gfp_mask"),
        "order": t.get("order"),
        "oom_score_adj": t.get("oom_score_adj"),
    }
    flags = t.get("gfp_flags")
    if flags:
        trigger["gfp_flags"] = sanitise(flags, 256)
    uid = t.get("uid")
    if uid is not None:
        trigger["uid"] = uid
    return trigger


def _cgroup(
    kill: Kill, summary: dict[str, object], pid: int | None, victim_uid: int | None
) -> tuple[Cgroup | None, list[str], list[SystemdContext]]:
    """The kill's cgroups and workload, the systemd units that may decide about it, and every unit line seen."""
    report = kill.report
    oom_memcg = summary.get("oom_memcg")
    task_memcg = summary.get("task_memcg") if summary.get("pid") in (None, pid) else None
    if report.task_in is not None:
        task_memcg = task_memcg or report.task_in[0]
        oom_memcg = oom_memcg or report.task_in[1]
    workload = cg.workload(str(task_memcg)) if task_memcg else None
    if workload is None and oom_memcg:
        workload = cg.workload(str(oom_memcg))
    # systemd's unit lines: context always; a unit for decisions only from a verified sender, and only where the
    # kernel's own cgroup lines name no workload.
    context: list[SystemdContext] = [
        {
            "unit": sanitise(u, 256),
            "verified": us.systemd_verified(sender, victim_uid),
            "sender": _sender(sender, claimed),
        }
        for u, sender, claimed in kill.units
    ]
    units: list[str] = []
    if workload is None:
        units = [u for (u, _s, _p), c in zip(kill.units, context, strict=True) if c["verified"]]
        if units:
            unit = _most_specific(units)
            workload = {"kind": "systemd-unit", "name": unit, "id": None, "unit": unit}
    group_cgroup = report.group or None
    if not (oom_memcg or task_memcg or workload or group_cgroup):
        return None, units, context
    block: Cgroup = {
        "oom_memcg": sanitise(oom_memcg, 512) if oom_memcg else None,
        "task_memcg": sanitise(task_memcg, 512) if task_memcg else None,
        "workload": _clean_workload(workload),
    }
    if group_cgroup:
        block["oom_group"] = sanitise(group_cgroup, 512)
    return block, units, context


def _memcg(usage: dict[str, dict[str, int]]) -> Memcg | None:
    if "memory" not in usage:
        return None
    memory = usage["memory"]
    memcg: Memcg = {"usage_kb": memory["usage_kb"], "limit_kb": memory["limit_kb"]}
    if "swap" in usage:
        memcg["swap_usage_kb"] = usage["swap"]["usage_kb"]
        memcg["swap_limit_kb"] = usage["swap"]["limit_kb"]
    elif "memory+swap" in usage:
        memcg["memsw_usage_kb"] = usage["memory+swap"]["usage_kb"]
        memcg["memsw_limit_kb"] = usage["memory+swap"]["limit_kb"]
    return memcg


def _tables(report: Report, page_kb: int) -> tuple[list[TopConsumer], TaskTable | None]:
    """The largest task-table rows, and the whole table summed by name."""
    top: list[TopConsumer] = [
        {"pid": int(r["pid"]), "comm": sanitise(r["name"], 64), "rss_kb": int(r.get("rss", 0)) * page_kb}
        for r in report.top_rows()
    ]
    if not (report.table_seen and report.rows):
        return top, None
    total_pages, names = report.name_totals()
    table: TaskTable = {
        "rss_kb": total_pages * page_kb,
        "names": [{"comm": sanitise(name, 64), "tasks": n, "rss_kb": pages * page_kb} for name, n, pages in names],
    }
    return top, table


def _reading_warnings(report: Report, pid: int | None, warnings: list[str]) -> None:
    """What the report lacked or said against the kill line."""
    if report.trigger is None:
        warnings.append("the start of this OOM report (invoked oom-killer) was not seen: trigger unknown")
    if not report.table_seen:
        warnings.append("no task table in the report: other memory users unknown")
    selected = report.selected
    if selected and pid is not None and selected[0] != pid:
        warnings.append(f"the kernel selected pid {selected[0]} ({sanitise(selected[1], 64)}) and killed {pid} instead")
    if report.cut_lines:
        warnings.append(
            f"{report.cut_lines} line(s) inside this report were cut at the {MAX_LINE // 1024} KiB line cap or were"
            " journal records that did not parse whole; they were ignored, never read as kernel text"
        )


# Event field -> the kernel's range for it (kernel.RANGES says where each comes from).
_FIELD_RANGES = MappingProxyType(
    {
        "pid": "pid",
        "uid": "uid",
        "total_vm_kb": "kb",
        "anon_rss_kb": "kb",
        "file_rss_kb": "kb",
        "shmem_rss_kb": "kb",
        "pgtables_kb": "kb",
        "rss_kb": "kb",
        "oom_score_adj": "oom_score_adj",
        "order": "order",
        "usage_kb": "kb",
        "limit_kb": "kb",
        "swap_usage_kb": "kb",
        "swap_limit_kb": "kb",
        "memsw_usage_kb": "kb",
        "memsw_limit_kb": "kb",
    }
)


def _figure(value: int) -> str:
    return "with more digits than a 64-bit counter" if abs(value) >= k.TOO_BIG else str(value)


# The figures of each part, in the order the part's keys are made (so warnings come in that order).
_VictimFigure = Literal[
    "pid", "uid", "total_vm_kb", "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "pgtables_kb", "oom_score_adj", "rss_kb"
]
_VICTIM_FIGURES: tuple[_VictimFigure, ...] = (
    "pid",
    "uid",
    "total_vm_kb",
    "anon_rss_kb",
    "file_rss_kb",
    "shmem_rss_kb",
    "pgtables_kb",
    "oom_score_adj",
    "rss_kb",
)
_TriggerFigure = Literal["pid", "order", "oom_score_adj", "uid"]
_TRIGGER_FIGURES: tuple[_TriggerFigure, ...] = ("pid", "order", "oom_score_adj", "uid")
_MemcgFigure = Literal["usage_kb", "limit_kb", "swap_usage_kb", "swap_limit_kb", "memsw_usage_kb", "memsw_limit_kb"]
_MEMCG_FIGURES: tuple[_MemcgFigure, ...] = (
    "usage_kb",
    "limit_kb",
    "swap_usage_kb",
    "swap_limit_kb",
    "memsw_usage_kb",
    "memsw_limit_kb",
)


def _implausible(key: str, value: object, where: str, warnings: list[str]) -> bool:
    """True (and a warning) when value is a figure outside what the kernel prints for key."""
    kind = _FIELD_RANGES.get(key)
    if kind is None or not isinstance(value, int) or k.in_range(kind, value):
        return False
    lo, hi = k.RANGES[kind]
    warnings.append(f"{where}{key} {_figure(value)} is outside {lo}..{hi}, what the kernel prints; left out")
    return True


def drop_implausible(event: OomEvent) -> None:
    """A figure no kernel prints (a garbled or forged line) is not reported: null and a warning instead.

    So every integer of an event fits 64 bits (DynamoDB keeps 38 digits) and renders, whatever the line said.
    """
    warnings = event["warnings"]
    _drop_victim(event["victim"], event["source"], warnings)
    trigger = event.get("trigger")
    if trigger is not None:
        _drop_trigger(trigger, warnings)
    memcg = event.get("memcg")
    if memcg is not None:
        dropped = [
            mkey
            for mkey in _MEMCG_FIGURES
            if mkey in memcg and _implausible(mkey, memcg[mkey], "memory cgroup ", warnings)
        ]
        if dropped:
            event["memcg"] = None  # the schema has its figures all or none
    tops = event.get("top_consumers")
    if tops:
        event["top_consumers"] = [top for top in tops if k.in_range("kb", top["rss_kb"])]
    table = event.get("task_table")
    if table is not None and not (
        k.in_range("kb", table["rss_kb"]) and all(k.in_range("kb", n["rss_kb"]) for n in table["names"])
    ):
        warnings.append("task-table totals outside the kernel's range; left out")
        event["task_table"] = None
    uptime = event.get("uptime_s")
    if uptime is not None and not 0 <= uptime <= k.UPTIME_MAX_S:
        warnings.append("uptime outside the kernel's 64-bit nanosecond clock; left out")
        event["uptime_s"] = None


def _drop_victim(victim: Victim, source: Source, warnings: list[str]) -> None:
    oomd_cgroup = source == "systemd-oomd" and victim.get("pid") == -1  # -1: oomd named only a cgroup
    for vkey in _VICTIM_FIGURES:
        if vkey in victim and not (oomd_cgroup and vkey == "pid") and _implausible(vkey, victim[vkey], "", warnings):
            victim[vkey] = None
    if "pids" in victim:
        pids = [p for p in victim["pids"] if k.in_range("pid", p)]
        if len(pids) != len(victim["pids"]):
            warnings.append("pids outside what the kernel prints left out")
            victim["pids"] = pids


def _drop_trigger(trigger: Trigger, warnings: list[str]) -> None:
    for tkey in _TRIGGER_FIGURES:
        if tkey in trigger and _implausible(tkey, trigger[tkey], "trigger ", warnings):
            trigger[tkey] = None
    gfp = trigger.get("gfp_mask")
    if gfp is not None and (len(gfp) > 10 or not k.in_range("gfp_mask", int(gfp, 16))):
        warnings.append("trigger gfp_mask is wider than the kernel's 32-bit gfp_t; left out")
        trigger["gfp_mask"] = None


def _sender(sender: Sender | None, claimed_pid: int | None) -> str:
    """Who sent a systemd line, in words for the event and the alert."""
    if sender is None:
        pid = f"[{claimed_pid}]" if claimed_pid is not None else ""
        return f"systemd{pid} in a text log (any local user can write this line)"
    return (
        f"journald _TRANSPORT={sanitise(str(sender.transport), 32)} _PID={sender.pid} _UID={sender.uid}"
        f" _COMM={sanitise(str(sender.comm), 32)}"
    )


def _most_specific(units: list[str]) -> str:
    for u in units:
        if not u.endswith(".slice"):
            return u
    return max(units, key=len)


def _clean_workload(workload: dict[str, object] | None) -> Workload | None:
    if workload is None:
        return None
    # oomwatch.cgroup builds the dict from a path; its keys and values are the schema's workload (tests hold it so).
    return cast("Workload", {key: sanitise(v, 512) if isinstance(v, str) else v for key, v in workload.items()})


def userspace_event(item: Userspace) -> OomEvent:
    f = item.fields
    event = skeleton(item, item.source)
    pid = item.pids[0] if item.source == "systemd-oomd" and item.pids else f.get("pid")
    victim = event["victim"]
    victim["pid"] = pid if pid is not None else -1
    victim["comm"] = sanitise(f["comm"], 256) if f.get("comm") else None
    victim["uid"] = f.get("uid")
    victim["oom_score_adj"] = f.get("oom_score_adj")
    victim["rss_kb"] = f.get("rss_kb")
    if item.pids:
        victim["pids"] = item.pids[:256]
    if item.source == "systemd-oomd" and f.get("cgroup"):
        path = str(f["cgroup"])
        event["cgroup"] = {
            "oom_memcg": None,
            "task_memcg": sanitise(path, 512),
            "workload": _clean_workload(cg.workload(path)),
        }
    event["message"] = sanitise(f["reason"], 512) if f.get("reason") else None
    event["complete"] = True  # one line is the whole report of a userspace killer
    event["lines"] = [sanitise(x.rstrip("\r\n"), LINE_CAP) for x in item.lines[:EVENT_LINES]]
    event["lines_left_out"] = max(len(item.lines) - EVENT_LINES, 0)
    if f.get("signal"):
        event["signal"] = sanitise(f["signal"], 32)
    event["sender_verified"] = item.verified
    if not item.verified:
        event["warnings"].append(
            f"the sender of this {item.source} line is not verified (a text log, or journal fields that do not"
            f" show {item.source}'s own service): anyone on the host can write it; it is not a kernel kill"
        )
    drop_implausible(event)
    return event


def fallback_event(item: Kill | Userspace, warning: str) -> OomEvent:
    """The event of a kill whose full event could not be built: never lose a kill to a bug of ours."""
    event = skeleton(item, item.source if isinstance(item, Userspace) else "kernel")
    event["warnings"] = [warning]
    return event
