"""What the parser holds while it reads: one OOM report (``Report``) and the kills found in it.

Every buffer of a report is capped, so no report costs more than linear time or fixed memory, whatever the log.
The events are built from these at ``OomParser.finish()`` (see :mod:`oomwatch.builders`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from oomwatch import kernel as k
from oomwatch import userspace as us

if TYPE_CHECKING:
    from oomwatch.event import Source
    from oomwatch.kernel import Header, Killed, TaskRow
    from oomwatch.transport import Record, Sender
    from oomwatch.userspace import KillerFields

REPORT_GAP_S = 60.0  # a report line further than this from the report's last recognised line starts a new report
MAX_REPORT_LINES = 4000  # lines kept per report while it is open (the task table of a big host)
MAX_ROWS = 8192  # task-table rows kept per report (twice that before the smallest are let go)
MAX_WARNINGS = 32  # warnings kept per report
MAX_SUMMARY = 16384  # characters of an oom-kill summary: two PATH_MAX cgroup paths and the rest fit
LINE_CAP = 1024  # characters per raw line in an event
LINE_KEEP = 4 * LINE_CAP  # characters of a raw line a report keeps (room for control characters cleaned away)
TOP_N = 5
TASK_NAMES = 16  # names summed in an event's task_table (the rest counts in its total only)


class Found:
    """A kill line and where it came from; the event is built from it at ``finish()``."""

    __slots__ = ("record", "event_id", "time_ms", "stream")

    def __init__(self, record: Record, event_id: str | None, time_ms: int | None) -> None:
        self.record = record
        self.event_id = event_id
        self.time_ms = time_ms
        self.stream = ""


class Kill(Found):
    """A kernel ``Killed process`` line, its report, and what came after it (reaper, systemd units).

    ``units`` holds each systemd unit line attached to the kill with its sender: the journal's trusted fields, or
    None with the pid the line claims when it came from a text log (where anyone can write ``systemd[1]:``).
    """

    __slots__ = ("fields", "message", "report", "reaped", "reaper_line", "units")

    def __init__(
        self,
        record: Record,
        fields: Killed | None,
        message: str | None,
        report: Report,
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


class Userspace(Found):
    """A systemd-oomd or earlyoom kill, with the pids and lines that belong to it.

    ``verified``: the journal's trusted fields show the killer's own service wrote the line (never so in a text
    log, where ``logger -t earlyoom`` writes the same line).
    """

    __slots__ = ("source", "fields", "pids", "lines", "verified")

    def __init__(
        self,
        source: Source,
        record: Record,
        fields: KillerFields,
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


@dataclass(slots=True, eq=False)
class Report:
    """One OOM report being read. Every buffer is capped, so no report costs more than linear time or fixed memory."""

    last_uptime: float | None = None
    last_wall: float | None = None
    lines: list[tuple[str, bool]] = field(default_factory=list)
    dropped_lines: int = 0
    trigger: Header | None = None
    # The oom-kill summary as the kernel's pr_cont pieces arrived: joined and parsed once, when asked for.
    summary_parts: list[str] | None = None
    summary_len: int = 0
    _summary: dict[str, object] | None = None
    task_in: tuple[str | None, str] | None = None
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    message: str | None = None
    selected: tuple[int, str] | None = None  # (pid, comm) of "Kill process": the victim the kernel selected
    columns: list[str] | None = None
    table_seen: bool = False
    rows: dict[int, TaskRow] = field(default_factory=dict)
    rows_dropped: int = 0
    rows_implausible: int = 0
    kills: list[Kill] = field(default_factory=list)
    group: str | None = None
    meminfo: bool = False
    warnings: list[str] = field(default_factory=list)
    warnings_dropped: int = 0
    # Caches of what the report's kills share, keyed by what they were computed from (see builders).
    event_lines: tuple[int, int, list[str]] | None = None
    _top: tuple[int, int, list[TaskRow]] | None = None
    _names: tuple[int, int, int, list[tuple[str, int, int]]] | None = None
    _cut: tuple[str, str] | None = None
    cut_lines: int = 0  # lines inside the report that were not whole (cut, or a broken journal record)

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

    def add_row(self, row: TaskRow) -> None:
        """A task-table row. Past 2 * MAX_ROWS rows only the MAX_ROWS largest are kept (the victim and the top
        consumers are among them on any real host), so a 100,000-row table costs linear time and bounded memory."""
        if not _plausible_row(row):
            self.rows_implausible += 1
            return
        rows = self.rows
        rows[row["pid"]] = row
        if len(rows) > 2 * MAX_ROWS:
            keep = heapq.nlargest(MAX_ROWS, rows.values(), key=row_rss)
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
    def summary(self) -> dict[str, object] | None:
        if self.summary_parts is None:
            return None
        if self._summary is None:
            self._summary = k.parse_summary("".join(self.summary_parts))
        return self._summary

    def top_rows(self) -> list[TaskRow]:
        """The TOP_N rows by RSS, sorted once however many kills share this report."""
        key = (len(self.rows), self.rows_dropped)
        if self._top is None or self._top[:2] != key:
            self._top = (*key, heapq.nlargest(TOP_N, self.rows.values(), key=row_rss))
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
                rss = row_rss(row)
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


def row_rss(row: TaskRow) -> int:
    return int(row.get("rss", 0))


def _plausible_row(row: TaskRow) -> bool:
    """A row whose figures fit the kernel's dump_tasks() printf (§8): a pid, an oom_score_adj, 64-bit counts."""
    return "fits" not in row and 0 < row["pid"] <= k.PID_MAX_LIMIT and -1000 <= row.get("oom_score_adj", 0) <= 1000
