"""Strip the log transport (syslog, journald, dmesg, kmsg, ...) off a line and say who wrote it.

The kernel text after the prefix is the same in every transport; what differs is the time stamp, the host and
whether the line really came from the kernel. A line only counts as kernel output when its transport says so:
the syslog tag ``kernel`` (without a pid), journald's ``_TRANSPORT=kernel``, or dmesg/kmsg output. Text that merely
looks like a kernel message, as anyone can write with ``logger``, is marked as userland.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Final, NamedTuple

from oomwatch.lazy import lazy_pattern

MAX_LINE = 65_536  # longer input lines are cut: a kernel line is never near this long
# Records split out of one line ("#012", a journal MESSAGE's newlines): a printk record holds at most 1024
# characters (PRINTKRB_RECORD_MAX, kernel/printk/internal.h), so no kernel record has this many lines; the rest
# stays in the last record, so that a line of newlines costs what a line of text does.
MAX_PARTS = 256
PID_MAX = 4_194_304  # PID_MAX_LIMIT on 64-bit kernels: a larger pid is no pid
UID_MAX = 4_294_967_294  # (uid_t)-1 is "no uid"

# Month names as strftime's %b prints them (glibc localedata `abmon`, several glibc versions: "čer"/"čen",
# "Янв"/"янв") and the longer forms some locales use; matched lowercased, with "." and "," stripped.
# journalctl's short formats and dmesg -T/--reltime print these; rsyslog's classic stamp is always English.
_MONTH_NAMES = (
    "jan janv jän ene gen led sty ян янв січ oca tammi",
    "feb févr fév fev feb febr úno lut фев лют şub helmi",
    "mar mär märz mars mrz mrt bře márc mar марта мар бер maalis",
    "apr avr avril abr apr dub kwi ápr апр кві nis huhti",
    "may mai mayo mag mei kvě maj máj май мая тра touko",
    "jun juin jun giu jún čer čen cze июн чер haz kesä",
    "jul juil jul lug júl čvc čec lip июл лип tem heinä",
    "aug août aoû ago sie srp авг сер ağu elo",
    "sep sept set zář wrz szept сен вер eyl syys",
    "oct okt out ott říj paź окт жов eki loka",
    "nov nov lis ноя лис kas marras",
    "dec déc dez dic dic pro gru дек гру ara joulu",
)
# A table built once at import and read-only after: shared by every parser without locks.
_MONTHS: Final[Mapping[str, int]] = MappingProxyType(
    {name: num for num, names in reversed(list(enumerate(_MONTH_NAMES, start=1))) for name in names.split()}
)

_PRIO = re.compile(r"<(\d{1,3})>")
_KMSG = lazy_pattern(r"(\d{1,3}),(\d+),(\d+),[^;]*;(.*)")
_VMWARE = lazy_pattern(r"\d{4}-\d\d-\d\dT[\d:.]+Z? In\(\d+\) vcpu-\d+ - Guest: (.*)")
_DMESG_X = lazy_pattern(
    r"(kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d)\s*:\s*"
    r"(emerg|alert|crit|err|warn|notice|info|debug)\s*:\s?(.*)"
)
_ISO = lazy_pattern(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)? (.*)")
# Any locale's month (journalctl prints strftime's "%b %d %H:%M:%S": "déc. 06", "Dez 06", "12月 06"): the token is
# checked against _MONTHS, so a line of text that merely starts "Word 12 10:00:00" is no stamp.
_CLASSIC = lazy_pattern(r"([^\W\d_]{2,7}\.?|\d{1,2}[月월]) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? (.*)")
_EN_LIKE = lazy_pattern(r"[A-Z][a-z]{2}")
_OPENWRT = lazy_pattern(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) (\w+)\.(\w+) (.*)")
_BRACKET_DATE = lazy_pattern(r"\[([^\]]{0,40}?\d{1,2}:\d\d:\d\d[^\]]{0,40}?)\]\s?(.*)")
_UPTIME = lazy_pattern(r"\[\s*+(\d{1,10}\.\d{1,9})\]\s?(.*)")
# "host ident[pid]: msg", "ident: msg" (host left out by journalctl --no-hostname or by hand). The host is the whole
# run before the first space and may not end in ":" (a possessive run and a look-behind: the same lines as
# "\S*[^\s:]" without retrying every shorter run of a 64 KiB word); the ident's run is possessive too.
_HOST_IDENT = lazy_pattern(r"(?:(\S++)(?<!:) )?([^\s\[\]:]++)(?:\[(\d+)\])?: ?(.*)")
# Userland text relayed through /dev/kmsg or journalctl -o short-monotonic: "systemd[1]: ...".
_RELAYED = re.compile(r"(?:(\S++)(?<![:\]]) )?([\w.@/-]++)\[(\d+)\]: (.*)")
_MONO_KERNEL = lazy_pattern(r"(?:(\S++)(?<!:) )?kernel: (.*)")


class Sender(NamedTuple):
    """The trusted fields of a journal entry: journald sets them from the sender's credentials and cgroup, and
    drops any a client sends itself (systemd.journal-fields(7), "Trusted Journal Fields"). ``SYSLOG_IDENTIFIER``
    and ``SYSLOG_PID`` are the client's own claim and are not here."""

    transport: str | None  # _TRANSPORT: journal, syslog, stdout, kernel, audit, driver
    pid: int | None  # _PID
    uid: int | None  # _UID
    comm: str | None  # _COMM
    unit: str | None  # _SYSTEMD_UNIT


class Record:
    """One message of one line, with what the transport told about it.

    ``whole`` is False for a line cut at ``MAX_LINE`` or a journal record that did not parse as a whole: such a
    record is never kernel text and never a report line. ``sender`` holds a journal entry's trusted fields (None
    for text transports, where a sender is only what the line says it is).
    """

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
        "log_stream",
        "whole",
        "sender",
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
        log_stream: str | None = None,
        whole: bool = True,
        sender: Sender | None = None,
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
        self.log_stream = log_stream  # the CloudWatch log stream a line was read back from (aws logs tail, ...)
        self.whole = whole
        self.sender = sender


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")


def _frac(digits: str | None) -> int:
    return int((digits or "0")[:6].ljust(6, "0"))


def _month(token: str) -> int | None:
    t = token.strip(".,").lower()
    if t[-1:] in ("月", "월"):  # ja, zh, ko: "12月", " 1月", "12월"
        n = t[:-1].strip()
        return int(n) if n.isdigit() and 1 <= int(n) <= 12 else None
    return _MONTHS.get(t) or _MONTHS.get(t[:3])


_CJK_DATE = lazy_pattern(r"(\d{1,2})[月월] ?(\d{1,2})[日일]")


def _bracket_date(inner: str) -> tuple[float | None, str]:
    """A ``dmesg -T`` stamp in any locale: ``Wed Dec  6 23:54:11 2017``, ``Di Aug 12 03:54:03 2025``.

    util-linux translates the layout too (po/*.po, "%a %b %e %H:%M:%S %Y"): es/fr/pl ``mar 26 nov 10:00:00 2025``,
    de ``Mi, 26. Nov 2025, 10:00:00``, ja ``11月26日(水) 10:00:00 2025``. The weekday always comes before the month,
    and "mar" (martes, mardi, martedì) is a month name too: the month is the last month-like word.
    """
    tokens = inner.replace(",", " ").split()
    clock = next((t for t in tokens if re.fullmatch(r"\d{1,2}:\d\d:\d\d", t)), None)
    year = next((int(t) for t in tokens if re.fullmatch(r"\d{4}", t)), None)
    cjk = _CJK_DATE().search(inner) if "月" in inner or "월" in inner else None
    month: int | None
    day: int | None
    if cjk:
        month, day = int(cjk.group(1)), int(cjk.group(2))
    else:
        day = next((int(t.rstrip(".")) for t in tokens if re.fullmatch(r"\d{1,2}\.?", t)), None)
        month = next((m for t in reversed(tokens) if not t[:1].isdigit() and (m := _month(t))), None)
    if clock is None or year is None or day is None or month is None:
        return None, inner
    h, mi, s = (int(x) for x in clock.split(":"))
    try:
        wall = datetime(year, month, day, h, mi, s, tzinfo=UTC).timestamp()
    except ValueError:
        return None, inner
    return wall, inner


def _split_host_ident(rest: str) -> tuple[str | None, str | None, int | None, str]:
    m = _HOST_IDENT().fullmatch(rest)
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
    m = _UPTIME().match(text) if text[:1] == "[" else None
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


def _uint(value: object, limit: int) -> int | None:
    """A journal number as journald writes it (a decimal string), or None when it is no such number or above
    ``limit``: a field no journald writes must cost the field, never the record."""
    if isinstance(value, str):
        if not (0 < len(value) <= 20 and value.isascii() and value.isdigit()):
            return None
        n = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        return None
    return n if 0 <= n <= limit else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRUSTED_TEXT_CAP = 256


def _trusted_text(value: object) -> str | None:
    return value[:_TRUSTED_TEXT_CAP] if isinstance(value, str) else None


def _journal_fields(obj: dict[str, object]) -> list[Record]:  # noqa: C901 - one pass per input line on the scan path (bench_scan measures it); kept whole so each line costs no extra calls
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
    pid = _uint(obj.get("_PID"), PID_MAX)
    if pid is None:
        pid = _uint(obj.get("SYSLOG_PID"), PID_MAX)
    ts = wall = uptime = None
    real = _uint(obj.get("__REALTIME_TIMESTAMP"), 2**63)
    if real is not None:
        try:
            dt = _EPOCH + timedelta(microseconds=real)
        except (OverflowError, ValueError):  # past datetime's year 9999: no time, the record stays
            pass
        else:
            ts, wall = _iso(dt), dt.timestamp()
    mono = _uint(obj.get("_SOURCE_MONOTONIC_TIMESTAMP"), 2**64)
    if mono is not None:
        uptime = mono / 1e6
    ident_s = ident if isinstance(ident, str) else None
    # journald names kernel records "kernel"; a program writing to /dev/kmsg (root only) gets its own name.
    kernel = transport == "kernel" and ident_s in (None, "kernel")
    sender = None
    if isinstance(transport, str):
        sender = Sender(
            transport[:32],
            _uint(obj.get("_PID"), PID_MAX),
            _uint(obj.get("_UID"), UID_MAX),
            _trusted_text(obj.get("_COMM")),
            _trusted_text(obj.get("_SYSTEMD_UNIT")),
        )
    host_s = host if isinstance(host, str) else None
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
            pid=pid,
            uptime=uptime,
            wall=wall,
            timestamp=ts,
            log_time=ts,
            sender=sender,
        )
        if kernel:
            rec = _kernel_text(rec)
        out.append(rec)
    return out


def _json_int(digits: str) -> int | None:
    """JSON integers as fields hold them; past 40 digits none is a journal value (and int() of 4,300+ digits
    raises), so the field is null and the entry still reads."""
    return int(digits) if len(digits) <= 40 else None


def _json_records(line: str) -> list[Record] | None:
    """The records of a journal entry, or None when the line is no journal entry that parses as a whole."""
    try:
        obj = json.loads(line, parse_int=_json_int)
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


def broken(raw: str) -> Record:
    """The record of a line that is not whole: cut at ``MAX_LINE``, the rest of such a line, or a journal record
    that does not parse. Whatever it says, it is never kernel text: an oversized user entry that quotes a kernel
    report must not become one when the cut leaves only the quote."""
    return Record(raw=raw[:256], text="", kernel=False, whole=False)


class KernelPrefix:
    """One stream's reading hint: the lines of one report share "Mon DD HH:MM:SS host kernel: " up to the
    uptime, so the last such prefix is remembered and a line that starts with it is read from its uptime on.
    Checked with ``startswith``, so it can never change a result. Each parser holds its own (no state is shared
    between parsers or threads); ``last`` is one tuple, replaced whole: prefix, host, wall, stamp ("" = none).

    ``walls`` memoises the rough wall time of the time stamps this parser has read (the lines of a report share
    a few; a pure function of the stamp, so it can never change a result either), at most ``_WALLS_KEPT``.
    """

    __slots__ = ("last", "walls")

    def __init__(self) -> None:
        self.last: tuple[str, str | None, float, str] = ("", None, 0.0, "")
        self.walls: dict[str, float | None] = {}


_WALLS_KEPT = 4096


def _remember(hint: KernelPrefix, stamp: str, wall: float | None) -> None:
    walls = hint.walls
    if len(walls) >= _WALLS_KEPT:
        walls.clear()
    walls[stamp] = wall


def parse_line(raw: str, previous: Record | None = None, hint: KernelPrefix | None = None) -> list[Record]:  # noqa: C901, PLR0912 - one pass per input line on the scan path (bench_scan measures it); kept whole so each line costs no extra calls
    """Split one physical line into records. ``previous`` lets continuation lines inherit their origin;
    ``hint``, the caller's own :class:`KernelPrefix`, makes the lines of a classic syslog report cheaper.

    Never raises: anything unrecognised comes back as bare text.
    """
    if hint is not None:
        prefix, p_host, p_wall, p_stamp = hint.last
        if prefix and raw.startswith(prefix) and len(raw) <= MAX_LINE and raw[-1:] not in ("\n", "\r"):
            # The next line of a classic syslog kernel report, read without the general path; the rare
            # kernel texts that need more (a level, relayed userland, rsyslog escapes) take that path.
            u = _UPTIME_REST.fullmatch(raw, len(prefix))
            if u:
                up, msg = u.groups()
                if msg[:1] != "<" and "]: " not in msg and "#01" not in msg:
                    return [Record(raw, msg, True, p_host, "kernel", None, float(up), p_wall, None, p_stamp)]
    line = raw
    if line[-1:] in ("\n", "\r"):
        line = line.rstrip("\r\n")
    if len(line) > MAX_LINE:  # cut before any pattern runs; no kernel line is near this long
        return [broken(line)]
    first_char = line[:1]
    if first_char == "{" or (first_char in (" ", "\t") and line.lstrip()[:1] == "{"):
        # A JSON object is a journal entry or nothing: kernel text never starts with "{".
        recs = _json_records(line.lstrip())
        return recs if recs is not None else [broken(line)]
    if (line[10:11] == "T" and first_char.isdigit()) or line.startswith("EVENTS\t"):
        recs = _cloudwatch(line, previous, hint)
        if recs is not None:
            return recs
    if first_char == ">":
        line = re.sub(r"^(?:>\s?)+", "", line)
    if not line or line.isspace():
        return []
    first = _parse_prefixed(raw, line, previous, hint)
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


# Lines read back out of CloudWatch Logs (awscli, awscli/customizations/logs/tail.py and awscli/text.py):
# `aws logs tail` prints "<timestamp> <logStreamName> <message>" (--format detailed, the default: isoformat with
# microseconds and "+00:00"; --format json: isoformat, a JSON message pretty-printed over several lines, not read)
# or "<timestamp> <message>" (--format short: "%Y-%m-%dT%H:%M:%S", UTC, no stream). `aws logs filter-log-events
# --output text` prints each event's scalar fields in key order, tab-separated: "EVENTS eventId ingestionTime
# logStreamName message timestamp"; `get-log-events --output text`: "EVENTS ingestionTime message timestamp".
_CW_STAMP = lazy_pattern(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(\+00:00)? ")
# What the original line starts with: the agent's journald JSON, dmesg's "[", an RFC 3339 or a classic stamp.
_STAMPED = lazy_pattern(
    r"\{|\[ {0,12}\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|(?:[^\W\d_]{2,7}\.?|\d{1,2}[月월]) {1,2}\d{1,2} \d\d:\d\d:\d\d "
)
_CW_EVENTS = lazy_pattern(r"EVENTS\t(?:(\d{16,64})\t)?(\d{1,15})\t")
_CW_STREAM_MAX = 512  # CloudWatch Logs' limit on a log stream name


def _is_syslog_after_stamp(line: str) -> bool:
    """A quick no for the commonest line that starts like ``aws logs tail`` output: RFC 3339 syslog, whose first
    or second word after the stamp is ``ident:`` / ``ident[pid]:`` (a log stream name never ends with ":")."""
    p = line.find(" ", 19, 40) + 1
    if not p:
        return True
    if line[p : p + 1] == "{":  # --format short, a JSON event
        return False
    sp = line.find(" ", p, p + _CW_STREAM_MAX + 1)
    if sp < 0 or line[sp - 1] == ":":
        return True
    if line[sp + 1 : sp + 2] == "{":  # a stream, then a JSON event
        return False
    sp2 = line.find(" ", sp + 1, sp + 256)
    return sp2 > 0 and line[sp2 - 1] == ":"


def _cloudwatch(line: str, previous: Record | None, hint: KernelPrefix | None) -> list[Record] | None:  # noqa: C901, PLR0912 - one pass per input line on the scan path (bench_scan measures it); kept whole so each line costs no extra calls
    """A line of ``aws logs tail`` or ``aws logs filter-log-events --output text``: the original line, with the
    event's time and log stream. The stream is the host when the line names none, and keeps streams apart."""
    stream: str | None = None
    if line[:1] == "E":
        m = _CW_EVENTS().match(line)
        if not m:
            return None
        tab = line.rfind("\t")
        if m.group(1):  # filter-log-events: the stream comes before the message
            st = line.find("\t", m.end(), m.end() + _CW_STREAM_MAX + 1)
            if st < 0 or st >= tab:
                return None
            stream, start = line[m.end() : st], st + 1
        else:
            start = m.end()
        ms = line[tab + 1 :]
        if tab < start or not ms.isdigit() or len(ms) > 14:
            return None
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms))
        inner, prefix = line[start:tab], line[:start]
        if not _STAMPED().match(inner):  # a message with no transport prefix says nothing of its sender
            return [
                Record(line, inner, False, stream, None, None, None, when.timestamp(), _iso(when), _iso(when), stream)
            ]
    else:
        if _is_syslog_after_stamp(line):
            return None
        m = _CW_STAMP().match(line)
        if not m:
            return None
        p = m.end()
        if not _STAMPED().match(line, p):  # not "--format short": "<stream> <line>" or no CloudWatch line at all
            sp = line.find(" ", p, p + _CW_STREAM_MAX + 1)
            if sp <= p or not m.group(8) or not _STAMPED().match(line, sp + 1):
                return None
            stream, p = line[p:sp], sp + 1
        y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
        try:
            when = datetime(y, mo, d, h, mi, sec, _frac(m.group(7)), tzinfo=UTC)
        except ValueError:
            return None
        inner, prefix = line[p:], line[:p]
    prev = previous if previous is not None and previous.log_stream == stream else None
    recs = (_json_records(inner) or [broken(inner)]) if inner[:1] == "{" else None
    if recs is None:
        first = _parse_prefixed(inner, inner, prev, hint)
        recs = [first]
        if "#01" in first.text:  # rsyslog's escapes of a multi-line record, as parse_line splits them
            parts = first.text.replace("#011", "\t").split("#012", MAX_PARTS)
            first.text = parts[0]
            recs.extend(_inherit(inner, part, first) for part in parts[1:] if part.strip())
    ts, wall = _iso(when), when.timestamp()
    for rec in recs:
        rec.raw = prefix + rec.raw
        rec.host = rec.host or stream
        rec.log_stream = stream
        rec.timestamp = rec.timestamp or ts
        rec.log_time = rec.log_time or ts
        rec.wall = wall  # one clock for every line of the stream: the event's time
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
        log_stream=prev.log_stream,
        whole=prev.whole,
        sender=prev.sender,
    )


_CJK_MONTH = ("月", "월")


def _parse_prefixed(raw: str, line: str, previous: Record | None, hint: KernelPrefix | None) -> Record:  # noqa: C901, PLR0912 - one pass per input line on the scan path (bench_scan measures it); kept whole so each line costs no extra calls
    """Dispatch on the first character, so each line meets only the patterns that can fit it."""
    first = line[:1]
    if first == "<":
        m = _PRIO.match(line)
        if m:
            line = line[m.end() :]
            first = line[:1]
    rec: Record | None = None
    if first.isalpha():
        rec = (
            _classic(raw, line, hint)
            or _openwrt(raw, line)
            or _short_full(raw, line)
            or _dmesg_x(raw, line, previous, hint)
        )
    elif first.isdigit():
        if line[1:2] in _CJK_MONTH or line[2:3] in _CJK_MONTH:  # journalctl in ja/zh/ko: "12月 06 23:54:11"
            rec = _classic(raw, line, hint)
        rec = rec or _vmware(raw, line) or _iso_line(raw, line) or _kmsg(raw, line) or _short_unix(raw, line)
    elif first == "[":
        if _UPTIME().fullmatch(line):
            rec = _kernel_text(Record(raw=raw, text=line, kernel=True))
            m = _MONO_KERNEL().fullmatch(rec.text) if rec.kernel and "kernel: " in rec.text else None
            if m:  # journalctl -o short-monotonic: "[  77.740597] host kernel: text"
                rec.host, rec.text = m.group(1), m.group(2)
        else:
            m = _BRACKET_DATE().fullmatch(line)
            if m:
                wall, stamp = _bracket_date(m.group(1))
                rec = _kernel_text(Record(raw=raw, text=m.group(2), kernel=True, wall=wall, log_time=stamp))
            else:
                rec = _reltime(raw, line, previous, hint)
                d = _UPTIME_DELTA().fullmatch(line) if rec is None else None
                if d:  # dmesg -d "[ 1234.567890 <    0.000003>] text", journalctl -o short-delta "... host kernel: "
                    rec = _kernel_text(Record(raw=raw, text=d.group(2), kernel=True, uptime=float(d.group(1))))
                    m = _MONO_KERNEL().fullmatch(rec.text) if rec.kernel and "kernel: " in rec.text else None
                    if m:
                        rec.host, rec.text = m.group(1), m.group(2)
    elif first == " " and line[2:3] in _CJK_MONTH and line[1:2].isdigit():
        rec = _classic(raw, line[1:], hint)  # glibc's ja_JP and ko_KR pad " 1月" .. " 9月"
    if rec is not None:
        return rec
    # No prefix: an indented continuation of the previous record (journalctl, dmesg -T), or bare kernel
    # text as `dmesg -t` and `journalctl -o cat` print it.
    if previous is not None and first in (" ", "\t"):
        return _inherit(raw, line.strip(), previous)
    return _kernel_text(Record(raw=raw, text=line.strip(), kernel=True))


# dmesg --reltime / -H (util-linux sys-utils/dmesg.c, print_record): a record in a new minute gets the minute,
# "[%b%e %H:%M] " (translated: de "%e. %b %H:%M", fr/es/nl/pl "%e%b %H:%M", cs "%e.%b", ja "%b%e日", sv "%H.%M"),
# every other record its delta to the previous one, "[  %+8.06f] " (or "[ %+9.06f] " from 10 s on); the further
# lines of a multi-line record print "[  +0.000000] " with --force-prefix, else just the indentation.
# dmesg -d (DMESG_TIMEFTM_TIME_DELTA): "[%5ld.%06ld <%12.06f>] ", the uptime and the delta.
_RELTIME = lazy_pattern(r"\[ {0,2}([+-]\d{1,10}\.\d{6})\] ?(.*)")
_MINUTE = lazy_pattern(r"\[([^\[\]:]{1,24}?) ?(\d{1,2})[:.](\d\d)\] ?(.*)")
_UPTIME_DELTA = lazy_pattern(r"\[ {0,12}(\d{1,10}\.\d{6}) < {0,12}\d{1,10}\.\d{6}>\] ?(.*)")
_MINUTE_STAMP = lazy_pattern(r"([^\[\]:]{1,24}?) ?(\d{1,2})[:.](\d\d)")
_DATE_TOKENS = lazy_pattern(r"\d+|[^\W\d_]+")


def _minute_wall(stamp: str | None, hint: KernelPrefix | None) -> float | None:
    """The rough wall time of a ``dmesg --reltime`` minute stamp (``Oct28 16:58``), None for any other stamp.

    Every line of a minute asks again: remembered in the parser's own hint, when there is one."""
    if stamp is None or len(stamp) > 40:
        return None
    if hint is None:
        return _read_minute(stamp)
    key = "m" + stamp  # apart from the classic stamps in the same memo
    if key in hint.walls:
        return hint.walls[key]
    wall = _read_minute(stamp)
    _remember(hint, key, wall)
    return wall


def _read_minute(stamp: str) -> float | None:
    wall = None
    m = _MINUTE_STAMP().fullmatch(stamp)
    if m:
        tokens = _DATE_TOKENS().findall(m.group(1))
        nums = [int(t) for t in tokens if t.isdigit()]
        words = [t for t in tokens if not t.isdigit()]
        month: int | None = None
        day: int | None = None
        if any(w[:1] in _CJK_MONTH for w in words) and len(nums) == 2:  # "10月28日"
            month, day = nums
        elif len(nums) == 1 and words:
            month, day = next((x for w in words if (x := _month(w))), None), nums[0]
        h, mi = int(m.group(2)), int(m.group(3))
        if month and 1 <= month <= 12 and day and 1 <= day <= 31 and h < 24 and mi < 60:
            wall = _rough_wall(month, day, h, mi, 0)
    return wall


def _reltime(raw: str, line: str, previous: Record | None, hint: KernelPrefix | None) -> Record | None:
    """A ``dmesg --reltime`` line. Its clock: the previous line's plus the delta; at a new minute, plus only the
    gap the two minutes prove (none for the next minute), so the lines of one report stay together."""
    prev_minute = _minute_wall(previous.log_time, hint) if previous is not None and previous.wall is not None else None
    m = _RELTIME().fullmatch(line)
    if m:
        rec = _kernel_text(Record(raw=raw, text=m.group(2), kernel=True))
        if previous is not None and prev_minute is not None and previous.wall is not None:
            rec.wall = previous.wall + max(float(m.group(1)), 0.0)
            rec.log_time = previous.log_time
        return rec
    m = _MINUTE().fullmatch(line)
    if not m:
        return None
    stamp = line[1 : line.index("]")]
    minute = _minute_wall(stamp, hint)
    if minute is None:
        return None
    rec = _kernel_text(Record(raw=raw, text=m.group(4), kernel=True, log_time=stamp))
    if previous is not None and prev_minute is not None and previous.wall is not None:
        rec.wall = previous.wall + max(minute - prev_minute - 60.0, 0.0)
    else:
        rec.wall = minute
    return rec


def _rough_wall(month: int, day: int, h: int, mi: int, s: int, frac: str | None = None) -> float:
    """Seconds on a rough calendar (31-day months): only ever used to compare two lines of one stream."""
    return ((((month * 31 + day) * 24 + h) * 60 + mi) * 60 + s) + _frac(frac) / 1e6


_EN_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EN_MONTHS: Final[Mapping[str, int]] = MappingProxyType(
    {name: number for number, name in enumerate(_EN_MONTH_NAMES, start=1)}
)
# The commonest line of all, rsyslog's classic "Mon DD HH:MM:SS host ident[pid]: msg", in one match.
_CLASSIC_FULL = re.compile(
    r"((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?) "
    r"(?:(\S++)(?<!:) )?([^\s\[\]:]++)(?:\[(\d+)\])?: ?(?:\[\s*+(\d{1,10}\.\d{1,9})\] ?)?(.*)"
)


def _classic_wall(stamp: str, day: str, h: str, mi: str, s: str, frac: str | None) -> float:
    """Rough wall seconds of a classic stamp (its parts are groups of ``stamp``): see ``KernelPrefix.walls``."""
    return ((((_EN_MONTHS[stamp[:3]] * 31 + int(day)) * 24 + int(h)) * 60 + int(mi)) * 60 + int(s)) + (
        _frac(frac) / 1e6 if frac else 0.0
    )


_UPTIME_REST = re.compile(r"\[\s*+(\d{1,10}\.\d{1,9})\] ?(.*)")


def _classic(raw: str, line: str, hint: KernelPrefix | None) -> Record | None:
    f = _CLASSIC_FULL.fullmatch(line)
    if f:
        stamp, day, h, mi, s, frac, host, ident, pid, up, msg = f.groups()
        wall = hint.walls.get(stamp) if hint is not None else None
        if wall is None:
            wall = _classic_wall(stamp, day, h, mi, s, frac)
            if hint is not None:
                _remember(hint, stamp, wall)
        if ident == "kernel" and pid is None:
            rec = Record(raw, msg, True, host, ident, None, float(up) if up else None, wall, None, stamp)
            if up and hint is not None:
                hint.last = (line[: line.rfind("[", 0, f.start(10))], host, wall, stamp)
            # The match took any uptime; the rest (kmsg level, relayed userland) is rare.
            if msg[:1] == "<" or (up is None and msg[:1] == "[") or "]: " in msg:
                return _kernel_text(rec)
            return rec
        if up:  # what looks like an uptime stamp in a program's own message is part of its text
            msg = line[line.rfind("[", 0, f.start(10)) :]
        return Record(raw, msg, False, host, ident, int(pid) if pid else None, None, wall, None, stamp)
    m = _CLASSIC().fullmatch(line)
    if not m:
        return None
    mon, day, h, mi, s, frac, rest = m.groups()
    month = _month(mon)
    if month is None and not _EN_LIKE().fullmatch(mon):  # "Abc 12 ..." stays a stamp, as it always was
        return None
    rough = _rough_wall(month, int(day), int(h), int(mi), int(s), frac) if month else None
    return _from_syslog_rest(raw, rest, rough, None, line[: len(line) - len(rest) - 1])


# journalctl -o short-full: systemd's format_timestamp, "%a %Y-%m-%d %H:%M:%S %Z" ("Wed 2025-11-26 10:00:00 UTC";
# the weekday in any language); -o short-unix: seconds.microseconds since the epoch.
_SHORT_FULL = lazy_pattern(
    r"[^\W\d_]{2,4}\.? (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ([A-Za-z]{1,6}|[+-]\d{2,4}) (.*)"
)
_SHORT_UNIX = lazy_pattern(r"(\d{9,11})\.(\d{6}) (.*)")


def _short_full(raw: str, line: str) -> Record | None:
    m = _SHORT_FULL().fullmatch(line)
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    try:
        naive = datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None
    utc = m.group(7) in ("UTC", "GMT")  # a zone abbreviation names no offset, except these
    ts = _iso(naive.replace(tzinfo=UTC)) if utc else None
    rest = m.group(8)
    return _from_syslog_rest(raw, rest, naive.replace(tzinfo=UTC).timestamp(), ts, line[: len(line) - len(rest) - 1])


def _short_unix(raw: str, line: str) -> Record | None:
    m = _SHORT_UNIX().fullmatch(line)
    if not m:
        return None
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(m.group(1)), microseconds=int(m.group(2)))
    rest = m.group(3)
    return _from_syslog_rest(raw, rest, when.timestamp(), _iso(when), line[: len(line) - len(rest) - 1])


def _openwrt(raw: str, line: str) -> Record | None:
    m = _OPENWRT().fullmatch(line)
    if not m:
        return None
    mon, day, h, mi, s, _year, facility, _level, rest = m.groups()
    month = _month(mon)
    wall = _rough_wall(month, int(day), int(h), int(mi), int(s)) if month else None
    rec = _from_syslog_rest(raw, rest, wall, None, line[: len(line) - len(rest) - 1])
    if facility != "kern":
        rec.kernel = False
    return rec


def _dmesg_x(raw: str, line: str, previous: Record | None, hint: KernelPrefix | None) -> Record | None:
    m = _DMESG_X().fullmatch(line)
    if not m:
        return None
    facility, _level, rest = m.groups()
    iso = _ISO().fullmatch(rest)
    if iso:
        rec = Record(raw=raw, text=iso.group(9), kernel=True, log_time=rest[: len(rest) - len(iso.group(9)) - 1])
        rec = _kernel_text(rec)
    else:
        rec = _parse_prefixed(raw, rest, previous, hint)
    rec.kernel = facility == "kern" and rec.kernel
    return rec


def _iso_line(raw: str, line: str) -> Record | None:
    m = _ISO().fullmatch(line)
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
    m = _KMSG().fullmatch(line)
    if not m:
        return None
    text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda x: chr(int(x.group(1), 16)), m.group(4))
    return _kernel_text(Record(raw=raw, text=text, kernel=True, uptime=int(m.group(3)) / 1e6))


def _vmware(raw: str, line: str) -> Record | None:
    m = _VMWARE().fullmatch(line)
    return _kernel_text(Record(raw=raw, text=m.group(1), kernel=True)) if m else None
