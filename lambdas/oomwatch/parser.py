"""Reassemble kernel OOM reports from log lines and turn each kill into one event.

Lines are fed one at a time, possibly from many hosts and streams mixed together; each (stream, host) keeps its
own report state, so reports never mix. A report opens at ``invoked oom-killer`` and collects the lines the kernel
prints until ``Killed process``; the ``oom_reaper`` line may come later. When the header is missing (rate-limited
``dump_header``, a grep, an excerpt) a context line or the kill itself opens a report of its own, and whatever the
report does not show stays null. Nothing here raises on any input.
"""

from __future__ import annotations

import heapq
from collections import deque
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from oomwatch import cgroup as cg
from oomwatch import kernel as k
from oomwatch import userspace as us
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
    Workload,
)
from oomwatch.sanitise import sanitise
from oomwatch.transport import MAX_LINE, KernelPrefix, Record, Sender, broken, parse_line

if TYPE_CHECKING:
    from collections.abc import Iterable

SCHEMA_VERSION: Final = 1
REPORT_GAP_S = 60.0  # a report line further than this from the report's last recognised line starts a new report
# The kernel prints "Killed process" right after the task table (or the summary): a kill line this far after its
# report's last recognised line belongs to a report whose start was not seen (rate-limited or lost), not to it.
KILL_GAP_S = 10.0
UNIT_WINDOW_S = 120.0  # systemd names the unit of a kill within this time
MAX_REPORT_LINES = 4000  # lines kept per report while it is open (the task table of a big host)
MAX_ROWS = 8192  # task-table rows kept per report (twice that before the smallest are let go)
MAX_WARNINGS = 32  # warnings kept per report
MAX_SUMMARY = 16384  # characters of an oom-kill summary: two PATH_MAX cgroup paths and the rest fit
MAX_PIDS = 256  # pids of one systemd-oomd kill (an event shows 256)
EVENT_LINES = 60  # raw lines carried in an event
LINE_CAP = 1024  # characters per raw line in an event
LINE_KEEP = 4 * LINE_CAP  # characters of a raw line a report keeps (room for control characters cleaned away)
TOP_N = 5
TASK_NAMES = 16  # names summed in an event's task_table (the rest counts in its total only)
_DEDUP_KEEP = 4096
_RECENT_KILLS = 64
_MAX_UNITS = 16  # systemd unit lines kept per kill (one per ancestor unit, in the real logs)

# What a line is to a report. Context kinds come before the kill; a context line seen after a kill belongs to
# the next report (whose header we did not see).
_CONTEXT = frozenset(
    {
        "cpuset",
        "cpu",
        "summary",
        "task_in",
        "usage",
        "stats",
        "tasks_state",
        "table_header",
        "row",
        "kill_process",
        "exiting",
        "meminfo",
        "no_killable",
    }
)


class _Found:
    """A kill line and where it came from; the event is built from it at ``finish()``."""

    __slots__ = ("record", "event_id", "time_ms", "stream")

    def __init__(self, record: Record, event_id: str | None, time_ms: int | None) -> None:
        self.record = record
        self.event_id = event_id
        self.time_ms = time_ms
        self.stream = ""


class _Kill(_Found):
    """A kernel ``Killed process`` line, its report, and what came after it (reaper, systemd units).

    ``units`` holds each systemd unit line attached to the kill with its sender: the journal's trusted fields, or
    None with the pid the line claims when it came from a text log (where anyone can write ``systemd[1]:``).
    """

    __slots__ = ("fields", "message", "report", "reaped", "reaper_line", "units")

    def __init__(
        self,
        record: Record,
        fields: dict[str, Any] | None,
        message: str | None,
        report: _Report,
        event_id: str | None,
        time_ms: int | None,
    ) -> None:
        super().__init__(record, event_id, time_ms)
        self.fields = fields
        self.message = message
        self.report = report
        self.reaped: bool | None = None
        self.reaper_line: str | None = None
        self.units: list[tuple[str, Sender | None, int | None]] = []


class _Report:
    """One OOM report being read. Every buffer is capped, so no report costs more than linear time or fixed memory."""

    __slots__ = (
        "last_uptime",
        "last_wall",
        "lines",
        "dropped_lines",
        "trigger",
        "summary_parts",
        "summary_len",
        "_summary",
        "task_in",
        "usage",
        "message",
        "selected",
        "columns",
        "table_seen",
        "rows",
        "rows_dropped",
        "rows_implausible",
        "kills",
        "group",
        "meminfo",
        "warnings",
        "warnings_dropped",
        "_event_lines",
        "_top",
        "_names",
        "_cut",
        "cut_lines",
    )

    def __init__(
        self,
        last_uptime: float | None = None,
        last_wall: float | None = None,
        lines: list[tuple[str, bool]] | None = None,
        dropped_lines: int = 0,
        trigger: dict[str, Any] | None = None,
        task_in: tuple[str, str] | None = None,
        usage: dict[str, dict[str, int]] | None = None,
        message: str | None = None,
        selected: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        table_seen: bool = False,
        rows: dict[int, dict[str, Any]] | None = None,
        kills: list[_Kill] | None = None,
        group: str | None = None,
        meminfo: bool = False,
        warnings: list[str] | None = None,
    ) -> None:
        self.last_uptime = last_uptime
        self.last_wall = last_wall
        self.lines = list() if lines is None else lines
        self.dropped_lines = dropped_lines
        self.trigger = trigger
        # The oom-kill summary as the kernel's pr_cont pieces arrived: joined and parsed once, when asked for.
        self.summary_parts: list[str] | None = None
        self.summary_len = 0
        self._summary: dict[str, Any] | None = None
        self.task_in = task_in
        self.usage = dict() if usage is None else usage
        self.message = message
        self.selected = selected
        self.columns = columns
        self.table_seen = table_seen
        self.rows = dict() if rows is None else rows
        self.rows_dropped = 0
        self.rows_implausible = 0
        self.kills = list() if kills is None else kills
        self.group = group
        self.meminfo = meminfo
        self.warnings = list() if warnings is None else warnings
        self.warnings_dropped = 0
        self._event_lines: tuple[int, int, list[str]] | None = None
        self._top: tuple[int, int, list[dict[str, Any]]] | None = None
        self._names: tuple[int, int, int, list[tuple[str, int, int]]] | None = None
        self._cut: tuple[str, str] | None = None
        self.cut_lines = 0  # lines inside the report that were not whole (cut, or a broken journal record)

    def add_line(self, raw: str, key: bool) -> None:
        if len(self.lines) < MAX_REPORT_LINES:
            if len(raw) > LINE_KEEP:  # an event shows LINE_CAP characters of a line: keep no more than that needs
                last = self._cut
                if last is not None and last[0] is raw:  # the records of one "#012"-joined line share it
                    raw = last[1]
                else:
                    self._cut = (raw, raw[:LINE_KEEP])
                    raw = raw[:LINE_KEEP]
            self.lines.append((raw.rstrip("\r\n") if raw[-1:] in ("\n", "\r") else raw, key))
        else:
            self.dropped_lines += 1

    def warn(self, warning: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(warning)
        else:
            self.warnings_dropped += 1

    def add_row(self, row: dict[str, Any]) -> None:
        """A task-table row. Past 2 * MAX_ROWS rows only the MAX_ROWS largest are kept (the victim and the top
        consumers are among them on any real host), so a 100,000-row table costs linear time and bounded memory."""
        if not _plausible_row(row):
            self.rows_implausible += 1
            return
        rows = self.rows
        rows[row["pid"]] = row
        if len(rows) > 2 * MAX_ROWS:
            keep = heapq.nlargest(MAX_ROWS, rows.values(), key=_row_rss)
            self.rows_dropped += len(rows) - len(keep)
            self.rows = {r["pid"]: r for r in keep}

    def start_summary(self, text: str) -> None:
        self.summary_parts, self.summary_len, self._summary = [], 0, None
        self.add_summary(text)

    def add_summary(self, piece: str) -> None:
        parts = self.summary_parts
        if parts is None:
            return
        room = MAX_SUMMARY - self.summary_len
        if len(piece) > room:
            if room >= 0:
                self.warn(f"the oom-kill summary runs past {MAX_SUMMARY} characters; the rest is left out")
                self.summary_len = MAX_SUMMARY + 1
            piece = piece[: max(room, 0)]
        else:
            self.summary_len += len(piece)
        if piece:
            parts.append(piece)
            self._summary = None

    @property
    def summary(self) -> dict[str, Any] | None:
        if self.summary_parts is None:
            return None
        if self._summary is None:
            self._summary = k.parse_summary("".join(self.summary_parts))
        return self._summary

    def top_rows(self) -> list[dict[str, Any]]:
        """The TOP_N rows by RSS, sorted once however many kills share this report."""
        key = (len(self.rows), self.rows_dropped)
        if self._top is None or self._top[:2] != key:
            self._top = (*key, heapq.nlargest(TOP_N, self.rows.values(), key=_row_rss))
        return self._top[2]

    def name_totals(self) -> tuple[int, list[tuple[str, int, int]]]:
        """(total RSS in pages, [(name, tasks, RSS pages)] of the TASK_NAMES names with most RSS): the whole
        table summed once (linear, cached however many kills share this report), so advice can weigh every
        row, not only the TOP_N largest."""
        key = (len(self.rows), self.rows_dropped)
        if self._names is None or self._names[:2] != key:
            by_name: dict[str, list[int]] = {}
            total = 0
            for row in self.rows.values():
                rss = _row_rss(row)
                total += rss
                entry = by_name.setdefault(str(row.get("name")), [0, 0])
                entry[0] += 1
                entry[1] += rss
            largest = heapq.nlargest(TASK_NAMES, by_name.items(), key=lambda item: item[1][1])
            self._names = (*key, total, [(name, n, rss) for name, (n, rss) in largest])
        return self._names[2], self._names[3]

    def touch(self, rec: Record) -> None:
        if rec.uptime is not None:
            self.last_uptime = rec.uptime
        if rec.wall is not None:
            self.last_wall = rec.wall

    def stale_for(self, rec: Record, gap: float = REPORT_GAP_S) -> bool:
        """True when rec is too far in time from this report's last recognised line to belong to it."""
        if rec.uptime is not None and self.last_uptime is not None:
            return abs(rec.uptime - self.last_uptime) > gap
        if rec.wall is not None and self.last_wall is not None:
            return abs(rec.wall - self.last_wall) > gap
        return False


def _row_rss(row: dict[str, Any]) -> int:
    return int(row.get("rss", 0))


def _plausible_row(row: dict[str, Any]) -> bool:
    """A row whose figures fit the kernel's dump_tasks() printf (§8): a pid, an oom_score_adj, 64-bit counts."""
    return "fits" not in row and 0 < row["pid"] <= k.PID_MAX_LIMIT and -1000 <= row.get("oom_score_adj", 0) <= 1000


class _Userspace(_Found):
    """A systemd-oomd or earlyoom kill, with the pids and lines that belong to it.

    ``verified``: the journal's trusted fields show the killer's own service wrote the line (never so in a text
    log, where ``logger -t earlyoom`` writes the same line).
    """

    __slots__ = ("source", "fields", "pids", "lines", "verified")

    def __init__(
        self,
        source: Source,
        record: Record,
        fields: dict[str, Any],
        event_id: str | None,
        time_ms: int | None,
        *,
        pids: list[int] | None = None,
    ) -> None:
        super().__init__(record, event_id, time_ms)
        self.source = source
        self.fields = fields
        self.pids = pids or []
        self.lines = [record.raw]
        self.verified = us.killer_verified(source, record.sender)


class _Stream:
    """The report being read and the recent kills of one (stream, host)."""

    __slots__ = ("report", "recent", "last_oomd", "last_earlyoom")

    def __init__(self) -> None:
        self.report: _Report | None = None
        self.recent: deque[_Kill] = deque(maxlen=_RECENT_KILLS)
        self.last_oomd: _Userspace | None = None
        self.last_earlyoom: _Userspace | None = None


class OomParser:
    """Feed lines in log order; ``finish()`` returns one event per kill, in the order of the kill lines."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._last_record: dict[str, Record] = {}
        self._kills: list[_Kill | _Userspace] = []
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
        for rec in records:
            self._last_record[stream] = rec
            try:
                # Lines read back from CloudWatch carry their log stream: two streams never share a report.
                key = (stream if rec.log_stream is None else f"{stream}\x00{rec.log_stream}", rec.host or "")
                st = streams.get(key)
                if st is None:
                    st = streams[key] = _Stream()
                if rec.kernel:
                    self._kernel(st, rec, stream, time_ms, event_id)
                elif rec.whole:
                    self._userland(st, rec, stream, time_ms, event_id)
                else:
                    self._not_whole(stream, rec, previous)
            except Exception as exc:
                self._internal_error(rec, stream, time_ms, event_id, exc)

    def finish(self) -> list[OomEvent]:
        return [event for event, _ in self.finish_timed()]

    def finish_timed(self) -> list[tuple[OomEvent, int | None]]:
        """Like ``finish``, with the ``time_ms`` the kill line was fed with."""
        out: list[tuple[OomEvent, int | None]] = []
        for item in self._kills:
            try:
                event = _userspace_event(item) if isinstance(item, _Userspace) else _kernel_event(item)
            except Exception as exc:
                event = _fallback_event(item, f"internal error: {exc!r}")
            # A warning may quote the log (a comm, a unit, an exception's text): the one rule, whoever wrote it.
            event["warnings"] = [sanitise(w, 1024) for w in event["warnings"]]
            out.append((event, item.time_ms))
        self._kills = []
        return out

    # -- routing ------------------------------------------------------------------------------------------

    def _internal_error(
        self, rec: Record, stream: str, time_ms: int | None, event_id: str | None, exc: Exception
    ) -> None:
        if rec.kernel and "Killed process" in rec.text and k.KILLED_ANY.match(rec.text):
            report = _Report(warnings=[f"internal error while parsing: {exc!r}"])
            self._add_kill(_Kill(rec, None, None, report, event_id, time_ms), stream)

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

    # -- kernel lines -------------------------------------------------------------------------------------

    def _kernel(self, st: _Stream, rec: Record, stream: str, time_ms: int | None, event_id: str | None) -> None:
        text = rec.text
        kind, data = _classify(text)
        report = st.report
        if kind == "other":
            # Stack, Mem-Info body, registers: kept while a report is being printed. They do not keep the
            # report open: a chatty kernel (firewall, filesystem lines) must not carry a report whose kill
            # line never came over to an unrelated kill minutes later.
            if report is not None and not report.kills and not report.stale_for(rec):
                report.add_line(rec.raw, False)
            return
        if kind == "row":  # most of a report: the task table
            report = self._report_for(st, rec, kind)
            row = k.parse_row(text, report.columns, data["match"])
            if row is not None:
                report.add_row(row)
                report.table_seen = True
            report.add_line(rec.raw, False)
            report.touch(rec)
            return
        if kind == "header":
            st.report = report = _Report()
            report.trigger = data
            report.touch(rec)
            report.add_line(rec.raw, True)
            return
        if kind == "pr_cont":
            if report is not None and report.summary_parts is not None and not report.kills:
                report.add_summary(text.strip())  # joined once, when the event is built
                report.add_line(rec.raw, True)
                report.touch(rec)
            return
        if kind == "reaper":
            pid = data["pid"]
            for kill in reversed(st.recent):
                if kill.fields and kill.fields.get("pid") == pid and kill.reaped is None:
                    kill.reaped = data["reaped"]
                    kill.reaper_line = rec.raw
                    break
            return
        if kind == "killed":
            self._killed(st, rec, data, stream, time_ms, event_id)
            return
        if kind == "group":
            report = self._report_for(st, rec, "group")
            report.group = data["path"]
            report.add_line(rec.raw, True)
            return
        report = self._report_for(st, rec, kind)
        _apply_context(report, kind, data, text)
        report.add_line(rec.raw, True)
        report.touch(rec)

    def _report_for(self, st: _Stream, rec: Record, kind: str) -> _Report:
        report = st.report
        if report is None or report.stale_for(rec) or (report.kills and kind in _CONTEXT):
            st.report = report = _Report()
        return report

    def _killed(
        self,
        st: _Stream,
        rec: Record,
        data: dict[str, Any],
        stream: str,
        time_ms: int | None,
        event_id: str | None,
    ) -> None:
        fields = k.parse_killed(data["rest"])
        report = st.report
        if report is None or report.stale_for(rec, KILL_GAP_S) or (report.kills and report.group is None):
            st.report = report = _Report()
        report.touch(rec)
        report.add_line(rec.raw, True)
        kill = _Kill(rec, fields, data["msg"], report, event_id, time_ms)
        if fields is not None:
            key = (
                "k",
                rec.host or stream,
                fields["pid"],
                fields["comm"],
                fields["total_vm_kb"],
                fields["anon_rss_kb"],
            )
            if self._seen(key):
                return  # the same kill again: a memory.oom.group repeat, or kern.log and syslog in one stream
        report.kills.append(kill)
        st.recent.append(kill)
        self._add_kill(kill, stream)

    def _add_kill(self, kill: _Kill | _Userspace, stream: str) -> None:
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

    # -- userland lines -----------------------------------------------------------------------------------

    def _userland(self, st: _Stream, rec: Record, stream: str, time_ms: int | None, event_id: str | None) -> None:
        ident = rec.ident or ""
        text = rec.text
        if ident in us.OOMD_IDENTS:
            kill = us.oomd_kill(text)
            if kill is not None:
                last = st.last_oomd
                if (
                    last is not None
                    and last.fields.get("cgroup") is None
                    and last.verified == us.killer_verified("systemd-oomd", rec.sender)
                    and _close(last.record, rec, 10.0)
                ):
                    # systemd-oomd before v254 logs "attempting to kill" (debug) before "Killed <cgroup>": one kill.
                    last.fields.update(kill)
                    last.lines.append(rec.raw)
                    return
                item = _Userspace("systemd-oomd", rec, kill, event_id, time_ms)
                st.last_oomd = item
                self._add_kill(item, stream)
                return
            attempt = us.oomd_attempt(text)
            if attempt is not None:
                last = st.last_oomd
                if (
                    last is not None
                    and last.verified == us.killer_verified("systemd-oomd", rec.sender)
                    and _close(last.record, rec, 10.0)
                ):
                    if len(last.pids) < MAX_PIDS and attempt["pid"] not in last.pids:
                        last.pids.append(attempt["pid"])
                    last.lines.append(rec.raw)
                    return
                fields = {
                    "cgroup": None,
                    "reason": None,
                    "comm": None,
                    "pid": attempt["pid"],
                    "signal": attempt["signal"],
                }
                item = _Userspace("systemd-oomd", rec, fields, event_id, time_ms, pids=[attempt["pid"]])
                st.last_oomd = item
                self._add_kill(item, stream)
            return
        if ident in us.EARLYOOM_IDENTS:
            kill = us.earlyoom_kill(text)
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
            item = _Userspace("earlyoom", rec, kill, event_id, time_ms)
            st.last_earlyoom = item
            self._add_kill(item, stream)
            return
        if ident in us.SYSTEMD_IDENTS:
            unit = us.unit_oom(text)
            if unit is None:
                return
            # Every such line is kept with its sender; whether it may decide anything is settled per kill, in
            # _kernel_event (a user manager is believed only about its own user's kills).
            for recent in reversed(st.recent):
                if _close(recent.record, rec, UNIT_WINDOW_S):
                    entry = (unit, rec.sender, rec.pid)
                    if entry not in recent.units and len(recent.units) < _MAX_UNITS:
                        recent.units.append(entry)
                    break


def _close(a: Record, b: Record, seconds: float) -> bool:
    if a.wall is not None and b.wall is not None:
        return abs(a.wall - b.wall) <= seconds
    if a.uptime is not None and b.uptime is not None:
        return abs(a.uptime - b.uptime) <= seconds
    return True


def _classify(text: str) -> tuple[str, dict[str, Any]]:
    """Which OOM-report line this kernel text is. Cheap substring tests guard each regex."""
    if text[:1] == "[":  # task-table rows are most of a report's lines; "[<ffff...>] sym" is a stack frame
        row = k.TABLE_ROW.fullmatch(text.rstrip())
        if row:
            return "row", {"match": row}
        columns = k.table_columns(text)
        if columns is not None:
            return "table_header", {"columns": columns}
        return "other", {}
    if "Killed process" in text:
        m = k.KILLED_ANY.match(text)
        if m:
            msg = m.group("msg")
            return "killed", {"msg": msg, "rest": m.group("rest")}
    if text[:1] == " ":  # stack frames and continuation lines of multi-line records
        return "other", {}
    if " invoked oom-killer:" in text:
        trig = k.parse_header(text)
        if trig is not None:
            return "header", trig
    if text.startswith("oom_reaper:"):
        m = k.REAPED.match(text)
        if m:
            return "reaper", {"pid": k.num(m.group("pid")), "reaped": True}
        m = k.UNABLE_TO_REAP.match(text)
        if m:
            return "reaper", {"pid": k.num(m.group("pid")), "reaped": False}
        return "other", {}
    if text.startswith("oom-kill:"):
        return "summary", {}
    if text.startswith(","):
        return "pr_cont", {}
    if "Kill process" in text:
        m = k.KILL_PROCESS.match(text)
        if m:
            return "kill_process", {
                "msg": m.group("msg"),
                "pid": k.num(m.group("pid")),
                "comm": m.group("comm"),
            }
    if " cpuset=" in text and " mems_allowed=" in text:
        cpuset = k.parse_cpuset(text)
        if cpuset is not None:
            return "cpuset", {"cpuset": cpuset}
    if text.startswith(("CPU:", "Pid:")):
        m = k.CPU_LINE.match(text) or k.PID_LINE.match(text)
        if m:
            uid = m.groupdict().get("uid")
            return "cpu", {
                "pid": k.num(m.group("pid")),
                "comm": m.group("comm"),
                "uid": k.num(uid) if uid else None,
            }
    if text.startswith("Task in "):
        m = k.TASK_IN.match(text)
        if m:
            return "task_in", {"task": m.group("task"), "oom": m.group("oom")}
    if text.startswith("Memory limit reached of cgroup"):
        m = k.LIMIT_REACHED.match(text)
        if m:
            return "task_in", {"task": None, "oom": m.group("oom")}
    if ": usage " in text:
        m = k.USAGE.match(text)
        if m:
            return "usage", {
                "kind": m.group("kind"),
                "usage_kb": k.num(m.group("usage")),
                "limit_kb": k.num(m.group("limit")),
            }
    if text.startswith("Memory cgroup stats for"):
        m = k.STATS.match(text)
        return "stats", {"path": m.group("path") if m else None}
    if text.startswith("Tasks state"):
        return "tasks_state", {}
    if text.startswith("Tasks in ") and "memory.oom.group" in text:
        m = k.GROUP.match(text)
        if m:
            return "group", {"path": m.group("path")}
    if "OOM victim" in text:
        m = k.VICTIM_EXITING.match(text)
        if m:
            return "exiting", {"pid": k.num(m.group("pid")), "comm": m.group("comm")}
    if text.startswith("Out of memory and no killable"):
        return "no_killable", {}
    if text.startswith("Mem-Info:"):
        return "meminfo", {}
    return "other", {}


def _apply_context(report: _Report, kind: str, data: dict[str, Any], text: str) -> None:
    if kind == "summary":
        report.start_summary(text.strip())
    elif kind == "cpu":
        trig = report.trigger
        if trig is not None and trig.get("pid") is None:
            comm = str(trig.get("comm") or "")
            if comm[:15] == str(data["comm"]).strip()[:15] or not comm:
                trig["pid"] = data["pid"]
                if data.get("uid") is not None:
                    trig["uid"] = data["uid"]
    elif kind == "cpuset":
        if report.trigger is not None:
            report.trigger["cpuset"] = data["cpuset"]
    elif kind == "task_in":
        report.task_in = (data["task"], data["oom"])
    elif kind == "usage":
        report.usage[str(data["kind"])] = {"usage_kb": data["usage_kb"], "limit_kb": data["limit_kb"]}
    elif kind == "table_header":
        report.columns = data["columns"]
        report.table_seen = True
    elif kind == "tasks_state":
        report.table_seen = True
    elif kind == "kill_process":
        report.selected = {"pid": data["pid"], "comm": data["comm"]}
        report.message = data["msg"] or report.message
    elif kind == "exiting":
        report.warn(f"OOM victim {data['pid']} ({sanitise(data['comm'], 64)}) was already exiting")
    elif kind == "meminfo":
        report.meminfo = True
    elif kind == "no_killable":
        report.warn("the kernel found no killable process")


# -- events --------------------------------------------------------------------------------------------------


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


def _page_kb(report: _Report, fields: dict[str, Any] | None) -> int:
    """Task-table values are pages: 4 kB unless the victim's row and kill line together say otherwise."""
    if fields:
        row = report.rows.get(int(fields["pid"]))
        if row and row.get("total_vm"):
            ratio = fields["total_vm_kb"] / max(int(row["total_vm"]), 1)
            for size in (16, 64):
                if abs(ratio - size) <= size * 0.1:
                    return size
    return 4


def _constraint(report: _Report, message: str | None) -> Constraint:
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


def _event_lines(report: _Report, extra: list[str]) -> tuple[list[str], int]:
    """Key lines always; other lines in order until the cap. Returns the lines and how many were left out.

    The kills of one report (a memory.oom.group loop) share its lines: they are cleaned once per report.
    """
    lines = report.lines
    cache = report._event_lines
    if cache is None or cache[0] != len(lines) or cache[1] != len(extra):
        budget = EVENT_LINES - sum(1 for _, key in lines if key) - len(extra)
        base: list[str] = []
        for raw, key in lines:
            if key or budget > 0:
                base.append(sanitise(raw.rstrip("\r\n"), LINE_CAP))
                if not key:
                    budget -= 1
        report._event_lines = cache = (len(lines), len(extra), base)
    keep = cache[2] + [sanitise(x.rstrip("\r\n"), LINE_CAP) for x in extra]
    if len(keep) > EVENT_LINES * 2:
        keep = keep[:EVENT_LINES] + keep[-EVENT_LINES:]
    left_out = len(lines) + len(extra) + report.dropped_lines - len(keep)
    return keep, max(left_out, 0)


def _skeleton(found: _Found, source: Source) -> OomEvent:
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


def _kernel_event(kill: _Kill) -> OomEvent:
    report, fields, rec = kill.report, kill.fields, kill.record
    warnings = list(report.warnings)
    if report.warnings_dropped:
        warnings.append(f"{report.warnings_dropped} more warnings about this report left out")
    if report.rows_dropped:
        warnings.append(f"task table of more than {2 * MAX_ROWS} rows: only the {MAX_ROWS} largest kept")
    if report.rows_implausible:
        warnings.append(f"{report.rows_implausible} task-table rows with figures no kernel prints left out")
    page_kb = _page_kb(report, fields)
    event = _skeleton(kill, "kernel")
    victim = event["victim"]
    if fields is None:
        warnings.append("the Killed process line fits no known layout; raw line kept")
        any_layout = k.KILLED_ANY.match(rec.text)
        guess = k.KILLED_PID_ONLY.match(any_layout.group("rest")) if any_layout else None
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
    summary = report.summary or {}
    if row is not None:
        if victim["oom_score_adj"] is None and "oom_score_adj" in row:
            victim["oom_score_adj"] = row["oom_score_adj"]
        if victim["uid"] is None:
            victim["uid"] = row.get("uid")
        if victim["pgtables_kb"] is None and "pgtables_bytes" in row:
            victim["pgtables_kb"] = int(row["pgtables_bytes"]) // 1024
    if victim["uid"] is None and summary.get("pid") == pid and pid is not None:
        victim["uid"] = summary.get("uid")
    if victim["comm"] is not None:
        victim["comm"] = sanitise(victim["comm"], 64)

    trigger: Trigger | None = None
    if report.trigger is not None:
        t = report.trigger
        trigger = {
            "pid": t.get("pid"),
            "comm": sanitise(str(t.get("comm")), 64),
            "gfp_mask": t.get("gfp_mask"),
            "order": t.get("order"),
            "oom_score_adj": t.get("oom_score_adj"),
        }
        if t.get("gfp_flags"):
            trigger["gfp_flags"] = sanitise(t["gfp_flags"], 256)
        if t.get("uid") is not None:
            trigger["uid"] = t["uid"]

    oom_memcg = summary.get("oom_memcg")
    task_memcg = summary.get("task_memcg") if summary.get("pid") in (None, pid) else None
    if report.task_in is not None:
        task_memcg = task_memcg or report.task_in[0]
        oom_memcg = oom_memcg or report.task_in[1]
    group_cgroup = None
    workload = cg.workload(str(task_memcg)) if task_memcg else None
    if workload is None and oom_memcg:
        workload = cg.workload(str(oom_memcg))
    # systemd's unit lines: context always; a unit for decisions only from a verified sender, and only where the
    # kernel's own cgroup lines name no workload.
    context: list[SystemdContext] = [
        {
            "unit": sanitise(u, 256),
            "verified": us.systemd_verified(sender, victim["uid"]),
            "sender": _sender(sender, pid),
        }
        for u, sender, pid in kill.units
    ]
    units: list[str] = []
    if workload is None:
        units = [u for (u, _s, _p), c in zip(kill.units, context, strict=True) if c["verified"]]
        if units:
            unit = _most_specific(units)
            workload = {"kind": "systemd-unit", "name": unit, "id": None, "unit": unit}
    if report.group:
        group_cgroup = report.group
    cgroup_block: Cgroup | None = None
    if oom_memcg or task_memcg or workload or group_cgroup:
        cgroup_block = {
            "oom_memcg": sanitise(oom_memcg, 512) if oom_memcg else None,
            "task_memcg": sanitise(task_memcg, 512) if task_memcg else None,
            "workload": _clean_workload(workload),
        }
        if group_cgroup:
            cgroup_block["oom_group"] = sanitise(group_cgroup, 512)

    memcg: Memcg | None = None
    if "memory" in report.usage:
        memory = report.usage["memory"]
        memcg = {"usage_kb": memory["usage_kb"], "limit_kb": memory["limit_kb"]}
        if "swap" in report.usage:
            memcg["swap_usage_kb"] = report.usage["swap"]["usage_kb"]
            memcg["swap_limit_kb"] = report.usage["swap"]["limit_kb"]
        elif "memory+swap" in report.usage:
            memcg["memsw_usage_kb"] = report.usage["memory+swap"]["usage_kb"]
            memcg["memsw_limit_kb"] = report.usage["memory+swap"]["limit_kb"]

    consumers = report.top_rows()
    top: list[TopConsumer] = [
        {"pid": int(r["pid"]), "comm": sanitise(r["name"], 64), "rss_kb": int(r.get("rss", 0)) * page_kb}
        for r in consumers
    ]
    task_table: TaskTable | None = None
    if report.table_seen and report.rows:
        total_pages, names = report.name_totals()
        task_table = {
            "rss_kb": total_pages * page_kb,
            "names": [{"comm": sanitise(name, 64), "tasks": n, "rss_kb": pages * page_kb} for name, n, pages in names],
        }
    if report.trigger is None:
        warnings.append("the start of this OOM report (invoked oom-killer) was not seen: trigger unknown")
    if not report.table_seen:
        warnings.append("no task table in the report: other memory users unknown")
    selected = report.selected
    if selected and pid is not None and selected["pid"] != pid:
        warnings.append(
            f"the kernel selected pid {selected['pid']} ({sanitise(selected['comm'], 64)}) and killed {pid} instead"
        )
    if report.cut_lines:
        warnings.append(
            f"{report.cut_lines} line(s) inside this report were cut at the {MAX_LINE // 1024} KiB line cap or were"
            " journal records that did not parse whole; they were ignored, never read as kernel text"
        )
    extra = [kill.reaper_line] if kill.reaper_line else []
    lines, left_out = _event_lines(report, extra)
    complete = fields is not None and report.trigger is not None and report.table_seen
    event["constraint"] = _constraint(report, kill.message)
    event["message"] = sanitise(kill.message or report.message or "", 128) or None
    event["trigger"] = trigger
    event["cgroup"] = cgroup_block
    event["memcg"] = memcg
    event["top_consumers"] = top
    event["task_table"] = task_table
    event["task_count"] = len(report.rows) + report.rows_dropped if report.table_seen else None
    event["page_kb"] = page_kb
    event["reaped"] = kill.reaped
    event["units"] = [sanitise(u, 256) for u in units]
    event["systemd_context"] = context
    event["complete"] = complete
    event["warnings"] = warnings
    event["lines"] = lines
    event["lines_left_out"] = left_out
    _drop_implausible(event)
    return event


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


def _drop_implausible(event: OomEvent) -> None:
    """A figure no kernel prints (a garbled or forged line) is not reported: null and a warning instead.

    So every integer of an event fits 64 bits (DynamoDB keeps 38 digits) and renders, whatever the line said.
    """
    warnings = event["warnings"]
    victim = event["victim"]
    oomd_cgroup = event["source"] == "systemd-oomd" and victim.get("pid") == -1  # -1: oomd named only a cgroup
    for vkey in _VICTIM_FIGURES:
        if vkey in victim and not (oomd_cgroup and vkey == "pid") and _implausible(vkey, victim[vkey], "", warnings):
            victim[vkey] = None
    if "pids" in victim:
        pids = [p for p in victim["pids"] if k.in_range("pid", p)]
        if len(pids) != len(victim["pids"]):
            warnings.append("pids outside what the kernel prints left out")
            victim["pids"] = pids
    trigger = event.get("trigger")
    if trigger is not None:
        for tkey in _TRIGGER_FIGURES:
            if tkey in trigger and _implausible(tkey, trigger[tkey], "trigger ", warnings):
                trigger[tkey] = None
        gfp = trigger.get("gfp_mask")
        if gfp is not None and (len(gfp) > 10 or not k.in_range("gfp_mask", int(gfp, 16))):
            warnings.append("trigger gfp_mask is wider than the kernel's 32-bit gfp_t; left out")
            trigger["gfp_mask"] = None
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


def _userspace_event(item: _Userspace) -> OomEvent:
    f = item.fields
    event = _skeleton(item, item.source)
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
    _drop_implausible(event)
    return event


def _fallback_event(item: _Kill | _Userspace, warning: str) -> OomEvent:
    """The event of a kill whose full event could not be built: never lose a kill to a bug of ours."""
    event = _skeleton(item, item.source if isinstance(item, _Userspace) else "kernel")
    event["warnings"] = [warning]
    return event


def parse_lines(lines: Iterable[str], stream: str = "") -> list[OomEvent]:
    """Parse an iterable of lines (one stream, hosts told apart by their syslog or journal host field)."""
    parser = OomParser()
    for line in lines:
        parser.feed(line, stream=stream)
    return parser.finish()
