"""Reassembly: a CloudWatch Logs delivery's lines -> the kills in it, each with as much of its report as can be had.

The parser (:mod:`oomwatch`) reads the delivery; a report split across deliveries is completed from the stream's
stash (``log_mode=oom``: the unfinished tail is kept in the state table, :mod:`service.dal.state.stash`) or by
reading the stream back (:mod:`service.dal.logs`, one bounded fetch). A memcg kill the report does not name
inherits the workload of a named kill close to it. The OOM use case (:mod:`service.logic.kills`) starts here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oomwatch import OomParser
from oomwatch.event import OomEvent, Workload
from oomwatch.regions import select

from service.logic.ports import Runtime, warn_state
from service.logic.severity import group_workload
from service.models.settings import Settings

CONTEXT_SPAN_MS = 10 * 60_000  # one fetch covers incomplete kills within this span


class Kill:
    """One kill of a delivery: its parsed event, the time it was logged, and what completing it noted."""

    def __init__(self, event: OomEvent, time_ms: int) -> None:
        self.event = event
        self.time_ms = time_ms
        self.notes: list[str] = []
        self.context: str | None = None  # fetched | not_found | failed


def parse_log_events(events: Sequence[Mapping[str, Any]], stream: str) -> list[Kill]:
    """Feed log events (``id``, ``timestamp``, ``message``) through the shared parser; one Kill per kill.

    Only the lines of regions around kill lines are fed (see :mod:`oomwatch.regions`).
    """
    if not events:
        return []
    lines = [str(e["message"]) for e in events]
    joined = "\n".join(lines)
    text: str | None = joined  # handed to select() when it is exactly the lines joined
    owner: list[int] | None = None  # line index -> event index, when an event holds several lines
    # Multi-line events (rsyslog, agent multi_line_start_pattern), and lone CRs: a file with CR line ends (old Mac,
    # some copy-pastes) reaches CloudWatch as one event of many lines. A lone \r ends a line as in oomwatch scan.
    cr = "\r" in joined
    if cr or joined.count("\n") != len(lines) - 1:
        text = None
        split_lines: list[str] = []
        owner = []
        for n, line in enumerate(lines):
            if cr and "\r" in line:
                line = line.replace("\r", "\r\n").replace("\r\n\n", "\r\n")
            parts = [part for part in line.split("\n") if part] if "\n" in line else [line]
            split_lines.extend(parts)
            owner.extend([n] * len(parts))
        lines = split_lines
    parser = OomParser()
    feed = parser.feed
    for i in select(lines, text):
        e = events[i if owner is None else owner[i]]
        feed(lines[i], stream=stream, time_ms=int(e["timestamp"]), event_id=str(e["id"]))
    last_ms = int(events[-1]["timestamp"])
    return [Kill(event=ev, time_ms=last_ms if t is None else t) for ev, t in parser.finish_timed()]


def needs_context(ev: OomEvent) -> bool:
    """A kernel kill without its trigger line or task table (a report split across deliveries)."""
    if ev.get("source", "kernel") != "kernel" or ev.get("complete"):
        return False
    return ev.get("trigger") is None or not ev.get("task_count")


def _richness(ev: OomEvent) -> int:
    """How much of a report an event holds. The constraint counts: on RHEL 7 a memory-cgroup kill's
    ``Memory cgroup out of memory: Kill process`` line is the only one that says memcg, and context that
    added just that line must win (issue 11: the pipeline said "not shown" where ``oomwatch scan`` said memcg)."""
    return (
        (ev.get("trigger") is not None)
        + bool(ev.get("task_count"))
        + bool(ev.get("cgroup"))
        + (ev.get("constraint") not in (None, "unknown"))
    )


def complete_from_stream(kills: Sequence[Kill], log_group: str, stream: str, rt: Runtime) -> None:
    """Fill in incomplete kills from the surrounding lines of their stream (one bounded fetch)."""
    todo = [k for k in kills if needs_context(k.event)]
    if not todo or not log_group:
        return
    first = min(k.time_ms for k in todo)
    todo = [k for k in todo if k.time_ms - first <= CONTEXT_SPAN_MS]
    s = rt.settings
    fetched = rt.fetcher.fetch(
        log_group, stream, first - s.context_before_s * 1000, max(k.time_ms for k in todo) + s.context_after_s * 1000
    )
    rt.telemetry.count("ContextFetches")
    if fetched.error:
        rt.telemetry.count("ContextFetchFailures")
        if fetched.throttled:
            rt.telemetry.count("ContextFetchThrottled")
        for k in todo:
            k.context = "failed"
            k.notes.append(f"The surrounding lines could not be read: {fetched.error}.")
            if fetched.throttled:
                k.notes.append("The alert was sent on time without them; the stream link shows them.")
        return
    found = parse_log_events(
        [{"id": e.get("eventId", ""), "timestamp": e.get("timestamp", 0), "message": e.get("message", "")}
         for e in fetched.events],
        stream,
    )  # fmt: skip
    for k in todo:
        kv = k.event["victim"]
        candidates = [
            f
            for f in found
            if f.event["victim"]["pid"] == kv["pid"]
            and f.event["victim"]["comm"] == kv["comm"]
            and abs(f.time_ms - k.time_ms) <= 5_000
        ]
        best = min(candidates, key=lambda f: abs(f.time_ms - k.time_ms), default=None)
        if best is not None and _richness(best.event) > _richness(k.event):
            merged = best.event.copy()
            merged["kill_event_id"] = k.event.get("kill_event_id")
            merged["units"] = sorted(set(merged.get("units") or []) | set(k.event.get("units") or []))
            context = list(merged.get("systemd_context") or [])
            context += [c for c in k.event.get("systemd_context") or [] if c not in context]
            merged["systemd_context"] = context[:16]
            k.event = merged
            k.context = "fetched"
            if not merged.get("complete"):
                k.notes.append("Completed in part from the surrounding lines; some of the report is still missing.")
        else:
            k.context = "not_found"
            extra = " (read limit reached)" if fetched.truncated else ""
            k.notes.append(
                f"The trigger line or task table was in neither this delivery nor the {len(fetched.events)}"
                f" surrounding lines of the stream{extra}."
            )


def stash_mode(log_group: str, s: Settings) -> bool:
    """log_mode=oom on the agent's own group: the delivery holds every OOM line of its stretch of the stream."""
    return s.log_mode == "oom" and bool(s.syslog_group) and log_group == s.syslog_group


def unfinished_tail(events: Sequence[Mapping[str, Any]], kills: Sequence[Kill]) -> list[Mapping[str, Any]]:
    """The events of a report that started after this delivery's last kill and has no kill yet
    (from its ``invoked oom-killer`` header on), capped: what the stream's next delivery needs."""
    from service.dal.state.stash import STASH_MAX_BYTES, STASH_MAX_LINES, stash_row_bytes

    kill_ids = {str(k.event.get("kill_event_id")) for k in kills if k.event.get("kill_event_id")}
    start = 0
    for i in range(len(events) - 1, -1, -1):
        if str(events[i].get("id")) in kill_ids:
            start = i + 1
            break
    header = next((i for i in range(start, len(events)) if "invoked oom-killer" in str(events[i].get("message"))), None)
    if header is None:
        return []
    tail = list(events[header : header + STASH_MAX_LINES])
    total = 0
    for n, e in enumerate(tail):
        total += stash_row_bytes(e)  # bytes as DynamoDB counts them: hostile lines may be all 4-byte characters
        if total > STASH_MAX_BYTES:
            return tail[:n]
    return tail


def complete_from_stash(
    kills: Sequence[Kill], events: Sequence[Mapping[str, Any]], log_group: str, stream: str, rt: Runtime
) -> list[Kill]:
    """Join a report split across two deliveries from the stream's stash (log_mode=oom): no read-back."""
    todo = [k for k in kills if needs_context(k.event)]
    if not todo:
        return list(kills)
    try:
        stashed = rt.store.stash.get_stash(log_group, stream, rt.clock())
    except Exception as exc:
        warn_state(rt, "stash_read", exc)
        stashed = []
    rt.telemetry.count("StashReads")
    if not stashed:
        for k in todo:
            k.context = "not_found"
            k.notes.append("The start of this report was neither in this delivery nor kept from the previous one.")
        return list(kills)
    joined = {str(k.event.get("kill_event_id")): k for k in parse_log_events([*stashed, *events], stream)}
    out = []
    for k in kills:
        better = joined.get(str(k.event.get("kill_event_id"))) if k in todo else None
        if better is not None and _richness(better.event) > _richness(k.event):
            better.context = "stashed"
            better.notes = [*k.notes]
            out.append(better)
        else:
            if k in todo:
                k.context = "not_found"
                k.notes.append("The start of this report was neither in this delivery nor kept from the previous one.")
            out.append(k)
    return out


def stash_tail(
    events: Sequence[Mapping[str, Any]], kills: Sequence[Kill], log_group: str, stream: str, rt: Runtime
) -> None:
    tail = unfinished_tail(events, kills)
    if not tail:
        return
    try:
        rt.store.stash.put_stash(log_group, stream, tail, rt.clock())
        rt.telemetry.count("StashWrites")
    except Exception as exc:
        warn_state(rt, "stash_write", exc)


INHERIT_S = 600.0  # a memcg kill within this much uptime of a named one (same oom_score_adj) shares its workload


def inherited_groups(kills: Sequence[Kill]) -> list[Workload | None]:
    """Each kill's noise-control workload (:func:`service.logic.severity.group_workload`); a memcg kill
    whose own lines name none takes the workload of the nearest memcg kill of the same delivery
    (one host's stream), with the same ``oom_score_adj``, within :data:`INHERIT_S` of kernel uptime,
    that names one: the kernel prints one cgroup's kills as bursts (rate-limited), and only one of
    them may carry the ``Memory cgroup stats for`` line (corpus 32: 14 kills, one such line). Linear."""
    out: list[Workload | None] = []
    times: list[float | None] = []
    adj: list[object] = []
    for k in kills:
        try:
            out.append(group_workload(k.event))
        except Exception:
            out.append(None)
        up = k.event.get("uptime_s")
        memcg = k.event.get("constraint") == "memcg" and isinstance(up, int | float) and not isinstance(up, bool)
        times.append(float(up) if memcg and up is not None else None)
        adj.append(k.event["victim"].get("oom_score_adj"))
    for i, b in enumerate(_nearest_named(times, list(out), adj)):
        if out[i] is None and b is not None:
            out[i] = b[1]
    return out


def _nearest_named(
    times: Sequence[float | None], known: Sequence[Workload | None], adj: Sequence[object]
) -> list[tuple[float, Workload] | None]:
    """Per memcg kill: (uptime gap, workload) of the nearest memcg kill with a workload and the same
    ``oom_score_adj`` within :data:`INHERIT_S`, or None. One pass each way."""
    best: list[tuple[float, Workload] | None] = [None] * len(times)
    for order in (range(len(times)), range(len(times) - 1, -1, -1)):
        last: dict[object, tuple[float, Workload]] = {}  # oom_score_adj -> nearest named
        for i in order:
            t = times[i]
            if t is None:
                continue
            seen = known[i]
            if seen is not None:
                last[adj[i]] = (t, seen)
                continue
            near = last.get(adj[i])
            if near is not None and abs(t - near[0]) <= INHERIT_S:
                gap = abs(t - near[0])
                b = best[i]
                if b is None or gap < b[0]:
                    best[i] = (gap, near[1])
    return best
