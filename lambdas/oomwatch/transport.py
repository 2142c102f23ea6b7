"""Strip the log transport (syslog, journald, dmesg, kmsg, ...) off a line and say who wrote it.

The kernel text after the prefix is the same in every transport; what differs is the time stamp, the host and
whether the line really came from the kernel. A line only counts as kernel output when its transport says so:
the syslog tag ``kernel`` (without a pid), journald's ``_TRANSPORT=kernel``, or dmesg/kmsg output. Text that merely
looks like a kernel message, as anyone can write with ``logger``, is marked as userland.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

MAX_LINE = 65_536  # longer input lines are cut: a kernel line is never near this long
# Records split out of one line ("#012", a journal MESSAGE's newlines): a printk record holds at most 1024
# characters (PRINTKRB_RECORD_MAX, kernel/printk/internal.h), so no kernel record has this many lines; the rest
# stays in the last record, so that a line of newlines costs what a line of text does.
MAX_PARTS = 256

_MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    [
        "jan janv jän ene gen led sty ян",
        "feb févr fév fev feb úno lut фев",
        "mar mär märz mars mrz bře mär mar марта мар",
        "apr avr abr apr dub kwi апр",
        "may mai mayo mag mei kvě maj май",
        "jun juin jun giu jún čer cze июн",
        "jul juil jul lug čvc lip июл",
        "aug août aoû ago sie srp авг",
        "sep sept set zář wrz сен",
        "oct okt out ott říj paź окт",
        "nov nov lis ноя",
        "dec déc dez dic dic pro gru дек",
    ],
    start=1,
):
    for _n in _names.split():
        _MONTHS.setdefault(_n, _num)

_PRIO = re.compile(r"<(\d{1,3})>")
_KMSG = re.compile(r"(\d{1,3}),(\d+),(\d+),[^;]*;(.*)")
_VMWARE = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z? In\(\d+\) vcpu-\d+ - Guest: (.*)")
_DMESG_X = re.compile(
    r"(kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d)\s*:\s*"
    r"(emerg|alert|crit|err|warn|notice|info|debug)\s*:\s?(.*)"
)
_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)? (.*)")
_CLASSIC = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? (.*)")
_OPENWRT = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) (\w+)\.(\w+) (.*)")
_BRACKET_DATE = re.compile(r"\[([^\]]{0,40}?\d{1,2}:\d\d:\d\d[^\]]{0,40}?)\]\s?(.*)")
_UPTIME = re.compile(r"\[\s*+(\d{1,10}\.\d{1,9})\]\s?(.*)")
# "host ident[pid]: msg", "ident: msg" (host left out by journalctl --no-hostname or by hand). The host is the whole
# run before the first space and may not end in ":" (a possessive run and a look-behind: the same lines as
# "\S*[^\s:]" without retrying every shorter run of a 64 KiB word); the ident's run is possessive too.
_HOST_IDENT = re.compile(r"(?:(\S++)(?<!:) )?([^\s\[\]:]++)(?:\[(\d+)\])?: ?(.*)")
# Userland text relayed through /dev/kmsg or journalctl -o short-monotonic: "systemd[1]: ...".
_RELAYED = re.compile(r"(?:(\S++)(?<![:\]]) )?([\w.@/-]++)\[(\d+)\]: (.*)")
_MONO_KERNEL = re.compile(r"(?:(\S++)(?<!:) )?kernel: (.*)")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Record:
    """One message of one line, with what the transport told about it."""

    __slots__ = (
        "raw",
        "text",
        "kernel",
        "host",
        "ident",
        "pid",
        "uptime",
        "wall",
        "timestamp",
        "log_time",
    )

    def __init__(
        self,
        raw: str,
        text: str,
        kernel: bool,
        host: str | None = None,
        ident: str | None = None,
        pid: int | None = None,
        uptime: float | None = None,
        wall: float | None = None,
        timestamp: str | None = None,
        log_time: str | None = None,
    ) -> None:
        self.raw = raw
        self.text = text
        self.kernel = kernel
        self.host = host
        self.ident = ident
        self.pid = pid
        self.uptime = uptime
        self.wall = wall  # seconds on some wall clock, only to compare two lines of one stream
        self.timestamp = timestamp  # ISO 8601 with offset, only when the transport gave date, time and zone
        self.log_time = log_time  # the time stamp as printed


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")


def _frac(digits: str | None) -> int:
    return int((digits or "0")[:6].ljust(6, "0"))


def _month(token: str) -> int | None:
    t = token.strip(".,").lower()
    return _MONTHS.get(t) or _MONTHS.get(t[:3])


def _bracket_date(inner: str) -> tuple[float | None, str]:
    """A ``dmesg -T`` stamp in any locale: ``Wed Dec  6 23:54:11 2017``, ``Di Aug 12 03:54:03 2025``."""
    tokens = inner.replace(",", " ").split()
    clock = next((t for t in tokens if re.fullmatch(r"\d{1,2}:\d\d:\d\d", t)), None)
    year = next((int(t) for t in tokens if re.fullmatch(r"\d{4}", t)), None)
    day = next((int(t.rstrip(".")) for t in tokens if re.fullmatch(r"\d{1,2}\.?", t)), None)
    month = next((m for t in tokens if not t[:1].isdigit() and (m := _month(t))), None)
    if clock is None or year is None or day is None or month is None:
        return None, inner
    h, mi, s = (int(x) for x in clock.split(":"))
    try:
        wall = datetime(year, month, day, h, mi, s, tzinfo=UTC).timestamp()
    except ValueError:
        return None, inner
    return wall, inner


def _split_host_ident(rest: str) -> tuple[str | None, str | None, int | None, str]:
    m = _HOST_IDENT.fullmatch(rest)
    if not m:
        return None, None, None, rest
    host, ident, pid, msg = m.groups()
    return host, ident, int(pid) if pid else None, msg


def _kernel_text(rec: Record) -> Record:
    """Take the ``[uptime]`` and ``<N>`` that imklog and kmsg leave in kernel text, and spot relayed userland."""
    text = rec.text
    if text[:1] == "<":
        m = _PRIO.match(text)
        if m:
            text = text[m.end() :]
    m = _UPTIME.match(text) if text[:1] == "[" else None
    if m:
        rec.uptime = float(m.group(1))
        text = m.group(2)
    r = _RELAYED.fullmatch(text) if "]: " in text else None
    if r and r.group(2) != "kernel":
        # systemd logging through /dev/kmsg while journald is down, or short-monotonic userland lines.
        rec.kernel = False
        rec.host = rec.host or r.group(1)
        rec.ident, rec.pid, text = r.group(2), int(r.group(3)), r.group(4)
    rec.text = text
    return rec


def _from_syslog_rest(raw: str, rest: str, wall: float | None, ts: str | None, stamp: str) -> Record:
    host, ident, pid, msg = _split_host_ident(rest)
    # The kernel's own tag never carries a pid; "kernel[123]:" is a userland program using the name.
    kernel = ident == "kernel" and pid is None
    rec = Record(
        raw=raw,
        text=msg,
        kernel=kernel,
        host=host,
        ident=ident,
        pid=pid,
        wall=wall,
        timestamp=ts,
        log_time=stamp,
    )
    return _kernel_text(rec) if kernel else rec


def _journal_fields(obj: dict[str, object]) -> list[Record]:
    """A journal entry as ``journalctl -o json`` prints it, or inside the CloudWatch agent's ``body``."""
    msg = obj.get("MESSAGE")
    if isinstance(msg, list):  # journalctl prints non-UTF-8 messages as a byte array
        try:
            msg = bytes(int(b) & 0xFF for b in msg if isinstance(b, int)).decode("utf-8", "replace")
        except (TypeError, ValueError):
            msg = None
    if not isinstance(msg, str):
        return []
    transport = obj.get("_TRANSPORT")
    ident = obj.get("SYSLOG_IDENTIFIER")
    host = obj.get("_HOSTNAME")
    pid = obj.get("_PID") or obj.get("SYSLOG_PID")
    ts = wall = uptime = None
    real = obj.get("__REALTIME_TIMESTAMP")
    if isinstance(real, str | int) and str(real).isdigit():
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(real))
        ts, wall = _iso(dt), dt.timestamp()
    mono = obj.get("_SOURCE_MONOTONIC_TIMESTAMP")
    if isinstance(mono, str | int) and str(mono).isdigit():
        uptime = int(mono) / 1e6
    kernel = transport == "kernel"
    host_s = host if isinstance(host, str) else None
    ident_s = ident if isinstance(ident, str) else None
    # Events and alerts show a journal entry the way `journalctl -o short-iso` would, not as raw JSON.
    head = f"{ts or '-'} {host_s or '-'} {ident_s or ('kernel' if kernel else '-')}: "
    out: list[Record] = []
    for i, part in enumerate(msg.split("\n", MAX_PARTS)):
        if not part.strip() and i:
            continue
        rec = Record(
            raw=head + part,
            text=part,
            kernel=kernel,
            host=host_s,
            ident=ident_s,
            pid=int(pid) if isinstance(pid, str | int) and str(pid).isdigit() else None,
            uptime=uptime,
            wall=wall,
            timestamp=ts,
            log_time=ts,
        )
        if kernel:
            rec = _kernel_text(rec)
        out.append(rec)
    return out


def _json_records(line: str) -> list[Record] | None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    body = obj.get("body", obj)
    if isinstance(body, str):
        return parse_line(body)
    if isinstance(body, dict) and "MESSAGE" in body:
        return _journal_fields(body)
    return None


def parse_line(raw: str, previous: Record | None = None) -> list[Record]:
    """Split one physical line into records. ``previous`` lets continuation lines inherit their origin.

    Never raises: anything unrecognised comes back as bare text.
    """
    prefix, p_host, p_wall, p_stamp = _kernel_prefix
    if prefix and raw.startswith(prefix) and len(raw) <= MAX_LINE and raw[-1:] not in ("\n", "\r"):
        # The next line of a classic syslog kernel report (see _kernel_prefix), read without the general path;
        # the rare kernel texts that need more (a level, relayed userland, rsyslog escapes) take that path.
        u = _UPTIME_REST.fullmatch(raw, len(prefix))
        if u:
            up, msg = u.groups()
            if msg[:1] != "<" and "]: " not in msg and "#01" not in msg:
                return [Record(raw, msg, True, p_host, "kernel", None, float(up), p_wall, None, p_stamp)]
    line = raw if len(raw) <= MAX_LINE else raw[:MAX_LINE]
    if line[-1:] in ("\n", "\r"):
        line = line.rstrip("\r\n")
    first_char = line[:1]
    if first_char == "{" or (first_char in (" ", "\t") and line.lstrip()[:1] == "{"):
        recs = _json_records(line.lstrip())
        if recs is not None:
            return recs
    if first_char == ">":
        line = re.sub(r"^(?:>\s?)+", "", line)
    if not line or line.isspace():
        return []
    first = _parse_prefixed(raw, line, previous)
    # rsyslog writes the embedded newlines of a multi-line kernel record as "#012" (and tabs as "#011").
    if "#01" not in first.text:
        return [first]
    recs = [first]
    parts = first.text.replace("#011", "\t").split("#012", MAX_PARTS)
    first.text = parts[0]
    for part in parts[1:]:
        if part.strip():
            recs.append(_inherit(raw, part, first))
    return recs


def _inherit(raw: str, text: str, prev: Record) -> Record:
    return Record(
        raw=raw,
        text=text,
        kernel=prev.kernel,
        host=prev.host,
        ident=prev.ident,
        pid=prev.pid,
        uptime=prev.uptime,
        wall=prev.wall,
        timestamp=prev.timestamp,
        log_time=prev.log_time,
    )


def _parse_prefixed(raw: str, line: str, previous: Record | None) -> Record:
    """Dispatch on the first character, so each line meets only the patterns that can fit it."""
    first = line[:1]
    if first == "<":
        m = _PRIO.match(line)
        if m:
            line = line[m.end() :]
            first = line[:1]
    rec: Record | None = None
    if first.isalpha():
        rec = _classic(raw, line) or _openwrt(raw, line) or _dmesg_x(raw, line, previous)
    elif first.isdigit():
        rec = _vmware(raw, line) or _iso_line(raw, line) or _kmsg(raw, line)
    elif first == "[":
        if _UPTIME.fullmatch(line):
            rec = _kernel_text(Record(raw=raw, text=line, kernel=True))
            m = _MONO_KERNEL.fullmatch(rec.text) if rec.kernel and "kernel: " in rec.text else None
            if m:  # journalctl -o short-monotonic: "[  77.740597] host kernel: text"
                rec.host, rec.text = m.group(1), m.group(2)
        else:
            m = _BRACKET_DATE.fullmatch(line)
            if m:
                wall, stamp = _bracket_date(m.group(1))
                rec = _kernel_text(Record(raw=raw, text=m.group(2), kernel=True, wall=wall, log_time=stamp))
    if rec is not None:
        return rec
    # No prefix: an indented continuation of the previous record (journalctl, dmesg -T), or bare kernel
    # text as `dmesg -t` and `journalctl -o cat` print it.
    if previous is not None and first in (" ", "\t"):
        return _inherit(raw, line.strip(), previous)
    return _kernel_text(Record(raw=raw, text=line.strip(), kernel=True))


def _rough_wall(month: int, day: int, h: int, mi: int, s: int, frac: str | None = None) -> float:
    """Seconds on a rough calendar (31-day months): only ever used to compare two lines of one stream."""
    return ((((month * 31 + day) * 24 + h) * 60 + mi) * 60 + s) + _frac(frac) / 1e6


_EN_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EN_MONTHS = {name: number for number, name in enumerate(_EN_MONTH_NAMES, start=1)}
# The commonest line of all, rsyslog's classic "Mon DD HH:MM:SS host ident[pid]: msg", in one match.
_CLASSIC_FULL = re.compile(
    r"((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?) "
    r"(?:(\S++)(?<!:) )?([^\s\[\]:]++)(?:\[(\d+)\])?: ?(?:\[\s*+(\d{1,10}\.\d{1,9})\] ?)?(.*)"
)


_WALL: dict[str, float] = {}  # stamp -> rough wall seconds: the lines of one report share a few stamps


def _classic_wall(stamp: str, day: str, h: str, mi: str, s: str, frac: str | None) -> float:
    wall = _WALL.get(stamp)
    if wall is None:
        wall = ((((_EN_MONTHS[stamp[:3]] * 31 + int(day)) * 24 + int(h)) * 60 + int(mi)) * 60 + int(s)) + (
            _frac(frac) / 1e6 if frac else 0.0
        )
        if len(_WALL) > 4096:
            _WALL.clear()
        _WALL[stamp] = wall
    return wall


# The lines of one report share "Mon DD HH:MM:SS host kernel: " up to the uptime: _classic remembers the last
# such prefix, and parse_line reads a line that starts with it from its uptime on. (A hint checked with
# startswith, so it can never change a result; one tuple, replaced whole.)
_UPTIME_REST = re.compile(r"\[\s*+(\d{1,10}\.\d{1,9})\] ?(.*)")
_kernel_prefix: tuple[str, str | None, float, str] = ("", None, 0.0, "")  # prefix, host, wall, stamp; "" = none


def _classic(raw: str, line: str) -> Record | None:
    global _kernel_prefix
    f = _CLASSIC_FULL.fullmatch(line)
    if f:
        stamp, day, h, mi, s, frac, host, ident, pid, up, msg = f.groups()
        wall = _classic_wall(stamp, day, h, mi, s, frac)
        if ident == "kernel" and pid is None:
            rec = Record(raw, msg, True, host, ident, None, float(up) if up else None, wall, None, stamp)
            if up:
                _kernel_prefix = (line[: line.rfind("[", 0, f.start(10))], host, wall, stamp)
            # The match took any uptime; the rest (kmsg level, relayed userland) is rare.
            if msg[:1] == "<" or (up is None and msg[:1] == "[") or "]: " in msg:
                return _kernel_text(rec)
            return rec
        if up:  # what looks like an uptime stamp in a program's own message is part of its text
            msg = line[line.rfind("[", 0, f.start(10)) :]
        return Record(raw, msg, False, host, ident, int(pid) if pid else None, None, wall, None, stamp)
    m = _CLASSIC.fullmatch(line)
    if not m:
        return None
    mon, day, h, mi, s, frac, rest = m.groups()
    month = _month(mon)
    rough = _rough_wall(month, int(day), int(h), int(mi), int(s), frac) if month else None
    return _from_syslog_rest(raw, rest, rough, None, line[: len(line) - len(rest) - 1])


def _openwrt(raw: str, line: str) -> Record | None:
    m = _OPENWRT.fullmatch(line)
    if not m:
        return None
    mon, day, h, mi, s, _year, facility, _level, rest = m.groups()
    month = _month(mon)
    wall = _rough_wall(month, int(day), int(h), int(mi), int(s)) if month else None
    rec = _from_syslog_rest(raw, rest, wall, None, line[: len(line) - len(rest) - 1])
    if facility != "kern":
        rec.kernel = False
    return rec


def _dmesg_x(raw: str, line: str, previous: Record | None) -> Record | None:
    m = _DMESG_X.fullmatch(line)
    if not m:
        return None
    facility, _level, rest = m.groups()
    iso = _ISO.fullmatch(rest)
    if iso:
        rec = Record(raw=raw, text=iso.group(9), kernel=True, log_time=rest[: len(rest) - len(iso.group(9)) - 1])
        rec = _kernel_text(rec)
    else:
        rec = _parse_prefixed(raw, rest, previous)
    rec.kernel = facility == "kern" and rec.kernel
    return rec


def _iso_line(raw: str, line: str) -> Record | None:
    m = _ISO.fullmatch(line)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone, rest = m.groups()
    stamp = line[: len(line) - len(rest) - 1]
    ts = wall = None
    try:
        naive = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), _frac(frac))
        if zone:
            if zone == "Z":
                tz = UTC
            else:
                sign = 1 if zone[0] == "+" else -1
                tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])))
            aware = naive.replace(tzinfo=tz)
            ts, wall = _iso(aware), aware.timestamp()
        else:
            wall = naive.replace(tzinfo=UTC).timestamp()
    except ValueError:
        pass
    return _from_syslog_rest(raw, rest, wall, ts, stamp)


def _kmsg(raw: str, line: str) -> Record | None:
    m = _KMSG.fullmatch(line)
    if not m:
        return None
    text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda x: chr(int(x.group(1), 16)), m.group(4))
    return _kernel_text(Record(raw=raw, text=text, kernel=True, uptime=int(m.group(3)) / 1e6))


def _vmware(raw: str, line: str) -> Record | None:
    m = _VMWARE.fullmatch(line)
    return _kernel_text(Record(raw=raw, text=m.group(1), kernel=True)) if m else None


def clean(text: str, limit: int = 1024) -> str:
    """Log text is untrusted: drop control characters and cap the length before echoing it."""
    text = _CTRL.sub("", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
