"""``oomwatch scan``'s filters (``--since``/``--until``/``--host``/``--process``) and its ``--summary`` counters.

Standard library only, no AWS imports. A kill's time comes from the event: its ISO 8601 ``timestamp`` when the
transport gave date, time and zone; else its ``log_time`` as printed when that is a calendar time in one of the
English forms syslog and ``dmesg -T`` print, read in this machine's time zone (``TZ``), as syslog and ``dmesg -T``
print the local time of the host that wrote them. Classic syslog (``Nov 26 10:15:01``) has no year: it gets the
year of the input's modification time (of now for a pipe), the year before when that would put the kill more
than a day after the file was last written (a log rotated in January holds December's lines). A kill with no
such time (dmesg without ``-T``, a stamp in another language) cannot be placed: the time filters keep it and the
CLI says how many it kept on stderr, so that a filter never hides a kill it cannot judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oomwatch.event import OomEvent

_MONTHS = MappingProxyType(
    {
        m: n
        for n, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
    }
)
# "Nov 26 10:15:01" (RFC 3164 syslog, journalctl short) and "Thu Dec  7 00:05:15 2017" (dmesg -T, ctime's form).
_LOG_TIME = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?: (\d{4}))?"
)
_RELATIVE = re.compile(r"(\d{1,6})([smhdw])")
_UNITS = MappingProxyType({"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"})


def parse_when(text: str, now: datetime) -> datetime:
    """A ``--since``/``--until`` value: ``2h``, ``30m``, ``7d`` (before ``now``), or an ISO 8601 date or date and
    time (``2025-11-26``, ``2025-11-26T10:15``, ``2025-11-26 10:15:00+01:00``; local time when it has no offset).
    Raises ValueError naming what is accepted."""
    value = text.strip()
    rel = _RELATIVE.fullmatch(value)
    if rel:
        return now - timedelta(**{_UNITS[rel.group(2)]: int(rel.group(1))})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r}: expected an ISO 8601 date or time (2025-11-26, 2025-11-26T10:15) or a time ago (30m, 2h, 7d)"
        ) from None
    return when.astimezone() if when.tzinfo is None else when


def kill_time(event: OomEvent, reference: datetime) -> datetime | None:
    """When the kill happened, as an aware datetime, or None when the event does not say (see the module doc).

    ``reference``: the input's modification time (aware), which supplies a missing year.
    """
    stamp = event.get("timestamp")
    if isinstance(stamp, str):
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            pass
        else:
            return when.astimezone() if when.tzinfo is None else when
    text = event.get("log_time")
    if not isinstance(text, str):
        return None
    m = _LOG_TIME.fullmatch(text.strip())
    if not m or m.group(1) not in _MONTHS:
        return None
    month, day, hh, mm, ss = _MONTHS[m.group(1)], *(int(g) for g in m.group(2, 3, 4, 5))
    local = reference.astimezone()
    years = [int(m.group(6))] if m.group(6) else [local.year, local.year - 1]
    for year in years:
        try:
            when = datetime(year, month, day, hh, mm, ss).astimezone()
        except ValueError:  # Feb 29 in a year without one, a day 31 in a short month: not a real time
            continue
        if m.group(6) or when <= local + timedelta(days=1):
            return when
    return None


@dataclass
class Filters:
    """Which kills ``scan`` shows; None: not filtered on that."""

    since: datetime | None = None
    until: datetime | None = None
    host: str | None = None
    process: str | None = None
    undated: int = field(default=0, init=False)  # kills the time filters kept because they have no time

    @property
    def timed(self) -> bool:
        return self.since is not None or self.until is not None

    def keep(self, event: OomEvent, when: datetime | None) -> bool:
        """``--since`` is inclusive, ``--until`` exclusive; a glob never matches a name the event lacks."""
        if self.host is not None:
            host = event.get("host")
            if not isinstance(host, str) or not fnmatchcase(host, self.host):
                return False
        if self.process is not None:
            comm = (event.get("victim") or {}).get("comm")
            if not isinstance(comm, str) or not fnmatchcase(comm, self.process):
                return False
        if self.timed:
            if when is None:
                self.undated += 1
                return True
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when >= self.until:
                return False
        return True


@dataclass
class Row:
    """One (host, process) of the summary: counters only, never the events."""

    host: str | None
    source: str  # the input, shown when the host is unknown (two dmesg files are two machines, not one)
    process: str
    kills: int = 0
    largest_rss_kb: int | None = None
    first: datetime | None = None
    last: datetime | None = None


class Summary:
    """Per (host, process) counters for ``--summary``: memory grows with the distinct pairs, not the kills."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str | None, str, str], Row] = {}

    def add(self, event: OomEvent, when: datetime | None) -> None:
        host = event.get("host") if isinstance(event.get("host"), str) else None
        source = "" if host is not None else str(event.get("stream") or "<stdin>")
        v = event.get("victim") or {}
        process = str(v.get("comm")) if v.get("comm") is not None else "?"
        key = (host, source, process)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = Row(host, source, process)
        row.kills += 1
        rss = v.get("rss_kb")
        if isinstance(rss, int) and (row.largest_rss_kb is None or rss > row.largest_rss_kb):
            row.largest_rss_kb = rss
        if when is not None:
            row.first = when if row.first is None else min(row.first, when)
            row.last = when if row.last is None else max(row.last, when)

    def sorted_rows(self) -> list[Row]:
        """By host (unknown hosts last, by input), then most kills first, then process."""
        return sorted(self.rows.values(), key=lambda r: (r.host is None, r.host or r.source, -r.kills, r.process))
