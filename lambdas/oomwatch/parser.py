"""Reassemble kernel OOM reports from log lines and turn each kill into one event.

Lines are fed one at a time, possibly from many hosts and streams mixed together; each (stream, host) keeps its
own report state, so reports never mix. A report opens at ``invoked oom-killer`` and collects the lines the kernel
prints until ``Killed process``; the ``oom_reaper`` line may come later. When the header is missing (rate-limited
``dump_header``, a grep, an excerpt) a context line or the kill itself opens a report of its own, and whatever the
report does not show stays null. Nothing here raises on any input.

This module is the state machine: a kernel line's kind (:mod:`oomwatch.lines`) picks its handler in
``_KERNEL_HANDLERS``, the one place kinds are dispatched; the report state is :mod:`oomwatch.report`, the events
are built by :mod:`oomwatch.builders`.
"""

from __future__ import annotations

from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from oomwatch import kernel as k
from oomwatch import userspace as us
from oomwatch.builders import EVENT_LINES, SCHEMA_VERSION, fallback_event, kernel_event, userspace_event
from oomwatch.lines import CONTEXT, Cpu, Exiting, KillProcess, LineKind, Reaper, TaskIn, Usage, classify
from oomwatch.report import (
    LINE_CAP,
    LINE_KEEP,
    MAX_REPORT_LINES,
    MAX_ROWS,
    MAX_SUMMARY,
    MAX_WARNINGS,
    REPORT_GAP_S,
    TASK_NAMES,
    TOP_N,
    Kill,
    Report,
    Userspace,
)
from oomwatch.sanitise import sanitise
from oomwatch.transport import KernelPrefix, Record, broken, parse_line

if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Mapping

    from oomwatch.event import OomEvent
    from oomwatch.kernel import Header

__all__ = [
    "EVENT_LINES",
    "KILL_GAP_S",
    "LINE_CAP",
    "LINE_KEEP",
    "MAX_PIDS",
    "MAX_REPORT_LINES",
    "MAX_ROWS",
    "MAX_SUMMARY",
    "MAX_WARNINGS",
    "REPORT_GAP_S",
    "SCHEMA_VERSION",
    "TASK_NAMES",
    "TOP_N",
    "UNIT_WINDOW_S",
    "OomParser",
    "parse_lines",
]

# The kernel prints "Killed process" right after the task table (or the summary): a kill line this far after its
# report's last recognised line belongs to a report whose start was not seen (rate-limited or lost), not to it.
KILL_GAP_S = 10.0
UNIT_WINDOW_S = 120.0  # systemd names the unit of a kill within this time
MAX_PIDS = 256  # pids of one systemd-oomd kill (an event shows 256)
_DEDUP_KEEP = 4096
_RECENT_KILLS = 64
_MAX_UNITS = 16  # systemd unit lines kept per kill (one per ancestor unit, in the real logs)

_Origin = tuple[str, int | None, str | None]  # what a line was fed with: stream, time_ms, event_id
_ROW = LineKind.ROW


class _Stream:
    """The report being read and the recent kills of one (stream, host)."""

    __slots__ = ("report", "recent", "last_oomd", "last_earlyoom")

    def __init__(self) -> None:
        self.report: Report | None = None
        self.recent: deque[Kill] = deque(maxlen=_RECENT_KILLS)
        self.last_oomd: Userspace | None = None
        self.last_earlyoom: Userspace | None = None


class OomParser:
    """Feed lines in log order; ``finish()`` returns one event per kill, in the order of the kill lines."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._last_record: dict[str, Record] = {}
        self._kills: list[Kill | Userspace] = []
        self._dedup: set[tuple[object, ...]] = set()
        self._dedup_order: deque[tuple[object, ...]] = deque()
        self._hint = KernelPrefix()  # this parser's own reading hint: nothing is shared between parsers

    def feed(
        self,
        line: str,
        *,
        stream: str = "",
        time_ms: int | None = None,
        event_id: str | None = None,
        cut: bool = False,
    ) -> None:
        """Take one physical line. ``time_ms`` and ``event_id`` come from CloudWatch Logs when known.

        ``cut``: the line is a piece of a physical line longer than ``MAX_LINE``. A reader that splits such lines
        passes every piece with ``cut=True`` (or the first one whole: ``parse_line`` cuts it itself); no piece is
        ever kernel text or a report line, whatever it says.
        """
        previous = self._last_record.get(stream)
        try:
            records = [broken(line)] if cut else parse_line(line, previous, self._hint)
        except Exception:
            records = []
        streams = self._streams
        origin = (stream, time_ms, event_id)
        for rec in records:
            self._last_record[stream] = rec
            try:
                # Lines read back from CloudWatch carry their log stream: two streams never share a report.
                key = (stream if rec.log_stream is None else f"{stream}\x00{rec.log_stream}", rec.host or "")
                st = streams.get(key)
                if st is None:
                    st = streams[key] = _Stream()
                if rec.kernel:
                    kind, data = classify(rec.text)
                    _KERNEL_HANDLERS[kind](self, st, rec, data, origin)
                elif rec.whole:
                    self._userland(st, rec, origin)
                else:
                    self._not_whole(stream, rec, previous)
            except Exception as exc:
                self._internal_error(rec, origin, exc)

    def finish(self) -> list[OomEvent]:
        return [event for event, _ in self.finish_timed()]

    def finish_timed(self) -> list[tuple[OomEvent, int | None]]:
        """Like ``finish``, with the ``time_ms`` the kill line was fed with."""
        out: list[tuple[OomEvent, int | None]] = []
        for item in self._kills:
            try:
                event = userspace_event(item) if isinstance(item, Userspace) else kernel_event(item)
            except Exception as exc:
                event = fallback_event(item, f"internal error: {exc!r}")
            # A warning may quote the log (a comm, a unit, an exception's text): the one rule, whoever wrote it.
            event["warnings"] = [sanitise(w, 1024) for w in event["warnings"]]
            out.append((event, item.time_ms))
        self._kills = []
        return out

    # -- routing ------------------------------------------------------------------------------------------

    def _internal_error(self, rec: Record, origin: _Origin, exc: Exception) -> None:
        if rec.kernel and "Killed process" in rec.text and k.KILLED_ANY.match(rec.text):
            report = Report(warnings=[f"internal error while parsing: {exc!r}"])
            self._add_kill(Kill(rec, None, None, report, origin[2], origin[1]), origin[0])

    def _not_whole(self, stream: str, rec: Record, previous: Record | None) -> None:
        """A cut line or broken journal record: ignored, and counted on the report it interrupts, if one is open.

        It has no host or time of its own, so it takes those of the stream's previous line (and hands them on to
        the next cut line).
        """
        if previous is None:
            return
        rec.host, rec.uptime, rec.wall = previous.host, previous.uptime, previous.wall
        st = self._streams.get((stream, rec.host or ""))
        report = st.report if st is not None else None
        if report is not None and not report.kills and not report.stale_for(rec):
            report.cut_lines += 1

    def _add_kill(self, kill: Kill | Userspace, stream: str) -> None:
        kill.stream = stream
        self._kills.append(kill)

    def _seen(self, key: tuple[object, ...]) -> bool:
        if key in self._dedup:
            return True
        self._dedup.add(key)
        self._dedup_order.append(key)
        if len(self._dedup_order) > _DEDUP_KEEP:
            self._dedup.discard(self._dedup_order.popleft())
        return False

    # -- kernel lines: one handler per LineKind (see _KERNEL_HANDLERS) ------------------------------------

    def _other(self, st: _Stream, rec: Record, _data: None, _origin: _Origin) -> None:
        # Stack, Mem-Info body, registers: kept while a report is being printed. They do not keep the report
        # open: a chatty kernel (firewall, filesystem lines) must not carry a report whose kill line never came
        # over to an unrelated kill minutes later.
        report = st.report
        if report is not None and not report.kills and not report.stale_for(rec):
            report.add_line(rec.raw, False)

    def _row(self, st: _Stream, rec: Record, match: re.Match[str], _origin: _Origin) -> None:
        report = _report_for(st, rec, _ROW)  # most of a report: the task table
        row = k.parse_row(rec.text, report.columns, match)
        if row is not None:
            report.add_row(row)
            report.table_seen = True
        report.add_line(rec.raw, False)
        report.touch(rec)

    def _header(self, st: _Stream, rec: Record, trigger: Header, _origin: _Origin) -> None:
        st.report = report = Report(trigger=trigger)
        report.touch(rec)
        report.add_line(rec.raw, True)

    def _pr_cont(self, st: _Stream, rec: Record, _data: bool, _origin: _Origin) -> None:
        report = st.report
        if report is not None and report.summary_parts is not None and not report.kills:
            report.add_summary(rec.text.strip())  # joined once, when the event is built
            report.add_line(rec.raw, True)
            report.touch(rec)

    def _reaper(self, st: _Stream, rec: Record, data: Reaper, _origin: _Origin) -> None:
        for kill in reversed(st.recent):
            if kill.fields and kill.fields.get("pid") == data.pid and kill.reaped is None:
                kill.reaped = data.reaped
                kill.reaper_line = rec.raw
                break

    def _group(self, st: _Stream, rec: Record, path: str, _origin: _Origin) -> None:
        report = _report_for(st, rec, LineKind.GROUP)
        report.group = path
        report.add_line(rec.raw, True)

    def _killed(self, st: _Stream, rec: Record, match: re.Match[str], origin: _Origin) -> None:
        stream, time_ms, event_id = origin
        fields = k.parse_killed(match.group("rest"))
        report = st.report
        if report is None or report.stale_for(rec, KILL_GAP_S) or (report.kills and report.group is None):
            st.report = report = Report()
        report.touch(rec)
        report.add_line(rec.raw, True)
        kill = Kill(rec, fields, match.group("msg"), report, event_id, time_ms)
        if fields is not None:
            key = ("k", rec.host or stream, fields["pid"], fields["comm"], fields["total_vm_kb"], fields["anon_rss_kb"])
            if self._seen(key):
                return  # the same kill again: a memory.oom.group repeat, or kern.log and syslog in one stream
        report.kills.append(kill)
        st.recent.append(kill)
        self._add_kill(kill, stream)

    # Context lines: what the kernel prints before the kill. Each opens a report of its own when the one being
    # read is stale or already has its kill (a report whose header was not seen).

    def _summary(self, st: _Stream, rec: Record, _data: bool, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.SUMMARY).start_summary(rec.text.strip())

    def _cpu(self, st: _Stream, rec: Record, data: Cpu, _origin: _Origin) -> None:
        trig = _context_report(st, rec, LineKind.CPU).trigger
        if trig is not None and trig.get("pid") is None:
            comm = str(trig.get("comm") or "")
            if comm[:15] == str(data.comm).strip()[:15] or not comm:
                trig["pid"] = data.pid
                if data.uid is not None:
                    trig["uid"] = data.uid

    def _cpuset(self, st: _Stream, rec: Record, cpuset: str, _origin: _Origin) -> None:
        trig = _context_report(st, rec, LineKind.CPUSET).trigger
        if trig is not None:
            trig["cpuset"] = cpuset

    def _task_in(self, st: _Stream, rec: Record, data: TaskIn, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.TASK_IN).task_in = (data.task, data.oom)

    def _usage(self, st: _Stream, rec: Record, data: Usage, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.USAGE).usage[data.kind] = {
            "usage_kb": data.usage_kb,
            "limit_kb": data.limit_kb,
        }

    def _table_header(self, st: _Stream, rec: Record, columns: list[str], _origin: _Origin) -> None:
        report = _context_report(st, rec, LineKind.TABLE_HEADER)
        report.columns = columns
        report.table_seen = True

    def _tasks_state(self, st: _Stream, rec: Record, _data: bool, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.TASKS_STATE).table_seen = True

    def _kill_process(self, st: _Stream, rec: Record, data: KillProcess, _origin: _Origin) -> None:
        report = _context_report(st, rec, LineKind.KILL_PROCESS)
        report.selected = (data.pid, data.comm)
        report.message = data.msg or report.message

    def _exiting(self, st: _Stream, rec: Record, data: Exiting, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.EXITING).warn(
            f"OOM victim {data.pid} ({sanitise(data.comm, 64)}) was already exiting"
        )

    def _meminfo(self, st: _Stream, rec: Record, _data: bool, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.MEMINFO).meminfo = True

    def _no_killable(self, st: _Stream, rec: Record, _data: bool, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.NO_KILLABLE).warn("the kernel found no killable process")

    def _stats(self, st: _Stream, rec: Record, _data: object, _origin: _Origin) -> None:
        _context_report(st, rec, LineKind.STATS)

    # -- userland lines -----------------------------------------------------------------------------------

    def _userland(self, st: _Stream, rec: Record, origin: _Origin) -> None:
        ident = rec.ident or ""
        if ident in us.OOMD_IDENTS:
            self._oomd(st, rec, origin)
        elif ident in us.EARLYOOM_IDENTS:
            self._earlyoom(st, rec, origin)
        elif ident in us.SYSTEMD_IDENTS:
            self._systemd_unit(st, rec)

    def _oomd(self, st: _Stream, rec: Record, origin: _Origin) -> None:
        stream, time_ms, event_id = origin
        kill = us.oomd_kill(rec.text)
        last = st.last_oomd
        same_sender = last is not None and last.verified == us.killer_verified("systemd-oomd", rec.sender)
        if kill is not None:
            if last is not None and same_sender and last.fields.get("cgroup") is None and _close(last.record, rec, 10):
                # systemd-oomd before v254 logs "attempting to kill" (debug) before "Killed <cgroup>": one kill.
                last.fields.update(kill)
                last.lines.append(rec.raw)
                return
            item = Userspace("systemd-oomd", rec, kill, event_id, time_ms)
        else:
            attempt = us.oomd_attempt(rec.text)
            if attempt is None:
                return
            if last is not None and same_sender and _close(last.record, rec, 10):
                if len(last.pids) < MAX_PIDS and attempt.pid not in last.pids:
                    last.pids.append(attempt.pid)
                last.lines.append(rec.raw)
                return
            fields: us.KillerFields = {
                "cgroup": None,
                "reason": None,
                "comm": None,
                "pid": attempt.pid,
                "signal": attempt.signal,
            }
            item = Userspace("systemd-oomd", rec, fields, event_id, time_ms, pids=[attempt.pid])
        st.last_oomd = item
        self._add_kill(item, stream)

    def _earlyoom(self, st: _Stream, rec: Record, origin: _Origin) -> None:
        stream, time_ms, event_id = origin
        kill = us.earlyoom_kill(rec.text)
        if kill is None:
            return
        verified = us.killer_verified("earlyoom", rec.sender)
        # A forged line must not swallow the real one that follows: the sender's standing is part of the key.
        if self._seen(("e", rec.host or stream, kill["pid"], kill["comm"], verified)):
            # SIGTERM first, SIGKILL later for the same process: one kill.
            last = st.last_earlyoom
            if last is not None and last.fields.get("pid") == kill["pid"] and last.verified == verified:
                last.lines.append(rec.raw)
                last.fields["signal"] = kill["signal"]
            return
        item = Userspace("earlyoom", rec, kill, event_id, time_ms)
        st.last_earlyoom = item
        self._add_kill(item, stream)

    def _systemd_unit(self, st: _Stream, rec: Record) -> None:
        unit = us.unit_oom(rec.text)
        if unit is None:
            return
        # Every such line is kept with its sender; whether it may decide anything is settled per kill, when its
        # event is built (a user manager is believed only about its own user's kills).
        for recent in reversed(st.recent):
            if _close(recent.record, rec, UNIT_WINDOW_S):
                entry = (unit, rec.sender, rec.pid)
                if entry not in recent.units and len(recent.units) < _MAX_UNITS:
                    recent.units.append(entry)
                break


# The one dispatch of a kernel line: its kind picks its handler.
_KERNEL_HANDLERS: Mapping[LineKind, Callable[[OomParser, _Stream, Record, Any, _Origin], None]] = MappingProxyType(
    {
        LineKind.OTHER: OomParser._other,
        LineKind.ROW: OomParser._row,
        LineKind.TABLE_HEADER: OomParser._table_header,
        LineKind.KILLED: OomParser._killed,
        LineKind.HEADER: OomParser._header,
        LineKind.REAPER: OomParser._reaper,
        LineKind.SUMMARY: OomParser._summary,
        LineKind.PR_CONT: OomParser._pr_cont,
        LineKind.KILL_PROCESS: OomParser._kill_process,
        LineKind.CPUSET: OomParser._cpuset,
        LineKind.CPU: OomParser._cpu,
        LineKind.TASK_IN: OomParser._task_in,
        LineKind.USAGE: OomParser._usage,
        LineKind.STATS: OomParser._stats,
        LineKind.TASKS_STATE: OomParser._tasks_state,
        LineKind.GROUP: OomParser._group,
        LineKind.EXITING: OomParser._exiting,
        LineKind.NO_KILLABLE: OomParser._no_killable,
        LineKind.MEMINFO: OomParser._meminfo,
    }
)


def _report_for(st: _Stream, rec: Record, kind: LineKind) -> Report:
    """The stream's report for a report line, or a new one when it is stale (or, for a context line, has its
    kill already: the line belongs to the next report, whose header was not seen)."""
    report = st.report
    if report is None or report.stale_for(rec) or (report.kills and kind in CONTEXT):
        st.report = report = Report()
    return report


def _context_report(st: _Stream, rec: Record, kind: LineKind) -> Report:
    """The report a context line belongs to, with the line kept as a key line."""
    report = _report_for(st, rec, kind)
    report.add_line(rec.raw, True)
    report.touch(rec)
    return report


def _close(a: Record, b: Record, seconds: float) -> bool:
    if a.wall is not None and b.wall is not None:
        return abs(a.wall - b.wall) <= seconds
    if a.uptime is not None and b.uptime is not None:
        return abs(a.uptime - b.uptime) <= seconds
    return True


def parse_lines(lines: Iterable[str], stream: str = "") -> list[OomEvent]:
    """Parse an iterable of lines (one stream, hosts told apart by their syslog or journal host field)."""
    parser = OomParser()
    for line in lines:
        parser.feed(line, stream=stream)
    return parser.finish()
