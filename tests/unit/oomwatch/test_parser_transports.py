"""The same real kernel report, carried by every transport oomwatch reads, parses to the same event.

The report is corpus 04 (Arch 6.1.1 global OOM, as the kernel printed it); each transport below re-wraps its
kernel text the way that transport writes it, multi-line records (Mem-Info) included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from oomwatch import parse_lines
from oomwatch.transport import parse_line

from tests.support.corpus import assert_valid, corpus_file, corpus_lines

HOST = "web-1"
BASE_UPTIME = 44178.537749
BASE_EPOCH_US = 1764151200_000000  # 2025-11-26T10:00:00Z


def kernel_records() -> list[list[str]]:
    """The report as printk records: a line plus the indented lines that continue it."""
    records: list[list[str]] = []
    for line in corpus_lines(corpus_file("04")):
        if not line.strip():
            continue
        (rec,) = parse_line(line)
        assert rec.kernel
        if line.startswith(" ") and records:
            records[-1].append(line)
        else:
            records.append([line])
    return records


RECORDS = kernel_records()


def _each_line(fmt: Callable[[int, str], str]) -> list[str]:
    out = []
    n = 0
    for rec in RECORDS:
        for text in rec:
            out.append(fmt(n, text))
            n += 1
    return out


def _up(n: int) -> str:
    return f"[{BASE_UPTIME + n / 1e5:12.6f}]"


def _continuation(head: Callable[[int, str], str], indent: int) -> list[str]:
    """Transports that print a multi-line record once, continuation lines indented without a prefix."""
    out = []
    for n, rec in enumerate(RECORDS):
        out.append(head(n, rec[0]))
        out.extend(" " * indent + t.strip() for t in rec[1:])
    return out


def _journal_json(n: int, rec: list[str], envelope: bool) -> str:
    fields = {
        "MESSAGE": "\n".join(rec),
        "_TRANSPORT": "kernel",
        "_HOSTNAME": HOST,
        "SYSLOG_IDENTIFIER": "kernel",
        "PRIORITY": "6",
        "SYSLOG_FACILITY": "0",
        "__REALTIME_TIMESTAMP": str(BASE_EPOCH_US + n * 10),
        "_SOURCE_MONOTONIC_TIMESTAMP": str(int(BASE_UPTIME * 1e6) + n * 10),
        "_BOOT_ID": "2f6d2c5f7e8a4b53a0f1c2d3e4f5a6b7",
    }
    if envelope:  # the CloudWatch agent's journald input: the journal fields sit in "body"
        return json.dumps({"body": fields, "severity_number": 9, "attributes": {}, "resource": {}})
    return json.dumps(fields)


def _reltime(minute: Callable[[int], str], force_prefix: bool = False) -> list[str]:
    """``dmesg --reltime`` / ``dmesg -H``: the minute stamp on a record in a new minute (here the first, and the
    tenth, which the clock moved into the next minute), else the delta to the previous record; the further lines
    of a multi-line record are indented, or get ``[  +0.000000]`` with ``--force-prefix``."""
    out = []
    for n, rec in enumerate(RECORDS):
        stamp = f"[{minute(n)}]" if n in (0, 10) else "[  +0.000010]"
        out.append(f"{stamp} {rec[0]}")
        out.extend(("[  +0.000000] " if force_prefix else " " * (len(stamp) + 1)) + t.strip() for t in rec[1:])
    return out


CW_STREAM = "i-0123456789abcdef0"  # the agent names each host's log stream after its instance id


def _cw_tail(n: int, message: str) -> str:
    """``aws logs tail`` (--format detailed, the default): isoformat with microseconds, the stream, the event."""
    return f"2025-11-26T10:00:00.{n:06d}+00:00 {CW_STREAM} {message}"


def _cw_events(n: int, message: str) -> str:
    """``aws logs filter-log-events --output text``: the event's fields in key order, tab-separated."""
    ms = BASE_EPOCH_US // 1000 + n
    event_id = f"{ms:056d}"
    return f"EVENTS\t{event_id}\t{ms + 900}\t{CW_STREAM}\t{message}\t{ms}"


TRANSPORTS: dict[str, Callable[[], list[str]]] = {
    "syslog imklog (uptime)": lambda: _each_line(lambda n, t: f"Nov 26 10:00:00 {HOST} kernel: {_up(n)} {t}"),
    "syslog imjournal (no uptime)": lambda: _each_line(lambda n, t: f"Nov 26 10:00:00 {HOST} kernel: {t}"),
    "kern.log, day padded": lambda: _each_line(lambda n, t: f"Dec  8 17:51:31 {HOST} kernel: {_up(n)} {t}"),
    "rsyslog RFC 3339": lambda: _each_line(lambda n, t: f"2025-11-26T10:00:00.{n:06d}+00:00 {HOST} kernel: {t}"),
    "journalctl short": lambda: _continuation(lambda n, t: f"Nov 26 10:00:00 {HOST} kernel: {t}", 40),
    "journalctl short, no hostname": lambda: _continuation(lambda n, t: f"Nov 26 10:00:00 kernel: {t}", 30),
    "journalctl short-iso": lambda: _continuation(lambda n, t: f"2025-11-26T10:00:00+0000 {HOST} kernel: {t}", 42),
    "journalctl short-precise": lambda: _continuation(lambda n, t: f"Nov 26 10:00:00.{n:06d} {HOST} kernel: {t}", 47),
    "journalctl short-monotonic": lambda: _continuation(lambda n, t: f"{_up(n)} {HOST} kernel: {t}", 36),
    "journalctl cat": lambda: _continuation(lambda n, t: t, 1),
    "dmesg": lambda: _each_line(lambda n, t: f"{_up(n)} {t}"),
    "dmesg -T": lambda: _continuation(lambda n, t: f"[Wed Nov 26 10:00:00 2025] {t}", 27),
    "dmesg -T German": lambda: _each_line(lambda n, t: f"[Mi Nov 26 10:00:00 2025] {t}"),
    "dmesg -T French": lambda: _each_line(lambda n, t: f"[mer. nov. 26 10:00:00 2025] {t}"),
    "journalctl short-full": lambda: _continuation(lambda n, t: f"Wed 2025-11-26 10:00:00 UTC {HOST} kernel: {t}", 40),
    "journalctl short-unix": lambda: _continuation(lambda n, t: f"1764151200.{n:06d} {HOST} kernel: {t}", 30),
    "journalctl short-delta": lambda: _continuation(
        lambda n, t: f"[{BASE_UPTIME + n / 1e5:12.6f} <{1e-5 if n else 0.0:12.6f}>] {HOST} kernel: {t}", 42
    ),
    "dmesg -d": lambda: _each_line(lambda n, t: f"[{BASE_UPTIME + n / 1e5:12.6f} <{1e-5 if n else 0.0:12.6f}>] {t}"),
    "dmesg -x iso": lambda: _each_line(lambda n, t: f"kern  :warn  : 2025-11-26T10:00:00,{n:06d}+00:00 {t}"),
    "kmsg priority prefix": lambda: _each_line(lambda n, t: f"<6>{_up(n)} {t}"),
    "/dev/kmsg": lambda: _each_line(lambda n, t: f"6,{1000 + n},{int(BASE_UPTIME * 1e6) + n},-;{t}"),
    "rsyslog #012 escapes": lambda: [
        f"Nov 26 10:00:00 {HOST} kernel: {_up(n)} " + "#012".join(rec) for n, rec in enumerate(RECORDS)
    ],
    "syslog, unprefixed continuation": lambda: [
        line for n, rec in enumerate(RECORDS) for line in [f"Nov 26 10:00:00 {HOST} kernel: {rec[0]}", *rec[1:]]
    ],
    "CloudWatch agent journald JSON": lambda: [_journal_json(n, rec, True) for n, rec in enumerate(RECORDS)],
    "journalctl -o json": lambda: [_journal_json(n, rec, False) for n, rec in enumerate(RECORDS)],
    "markdown quoted paste": lambda: _each_line(lambda n, t: f"> Nov 26 10:00:00 {HOST} kernel: {t}"),
    "dmesg --reltime": lambda: _reltime(lambda n: "Nov26 10:00" if n == 0 else "Nov26 10:01"),
    "dmesg --reltime --force-prefix": lambda: _reltime(lambda n: "Nov26 10:00" if n == 0 else "Nov26 10:01", True),
    "dmesg -H German": lambda: _reltime(lambda n: "26. Nov 10:00" if n == 0 else "26. Nov 10:01"),
    "dmesg -H French": lambda: _reltime(lambda n: "26nov. 10:00" if n == 0 else "26nov. 10:01"),
    "dmesg -H Japanese": lambda: _reltime(lambda n: "11月26日 10:00" if n == 0 else "11月26日 10:01"),
    "journalctl short, French": lambda: _continuation(lambda n, t: f"nov. 26 10:00:00 {HOST} kernel: {t}", 40),
    "journalctl short, German": lambda: _continuation(lambda n, t: f"Mär 26 10:00:00 {HOST} kernel: {t}", 40),
    "journalctl short, Spanish": lambda: _continuation(lambda n, t: f"dic 26 10:00:00 {HOST} kernel: {t}", 40),
    "journalctl short, Russian": lambda: _continuation(lambda n, t: f"ноя 26 10:00:00 {HOST} kernel: {t}", 40),
    "journalctl short, Japanese": lambda: _continuation(lambda n, t: f"11月 26 10:00:00 {HOST} kernel: {t}", 40),
    "journalctl short, Japanese January": lambda: _continuation(
        lambda n, t: f" 1月 26 10:00:00 {HOST} kernel: {t}", 40
    ),
    "aws logs tail, syslog file": lambda: _each_line(
        lambda n, t: _cw_tail(n, f"Nov 26 10:00:00 {HOST} kernel: {_up(n)} {t}")
    ),
    "aws logs tail, journald JSON": lambda: [_cw_tail(n, _journal_json(n, rec, True)) for n, rec in enumerate(RECORDS)],
    "aws logs tail --format short": lambda: _each_line(
        lambda n, t: f"2025-11-26T10:00:00 Nov 26 10:00:00 {HOST} kernel: {_up(n)} {t}"
    ),
    "aws logs filter-log-events --output text": lambda: _each_line(
        lambda n, t: _cw_events(n, f"Nov 26 10:00:00 {HOST} kernel: {t}")
    ),
    "filter-log-events text, journald JSON": lambda: [
        _cw_events(n, _journal_json(n, rec, True)) for n, rec in enumerate(RECORDS)
    ],
}

# What must not depend on the transport.
ESSENCE = (
    "source",
    "constraint",
    "message",
    "victim",
    "trigger",
    "cgroup",
    "top_consumers",
    "task_count",
    "reaped",
    "complete",
    "page_kb",
)


def essence(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ESSENCE}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    (event,) = parse_lines(corpus_lines(corpus_file("04")))
    assert event["victim"]["pid"] == 473206 and event["trigger"]["comm"] == "doxygen"
    assert len(event["top_consumers"]) == 5 and event["reaped"] is True
    return essence(event)


@pytest.mark.parametrize("name", list(TRANSPORTS))
def test_every_transport_gives_the_same_event(name: str, reference: dict[str, Any]) -> None:
    # GIVEN the real report in this transport
    lines = TRANSPORTS[name]()

    # WHEN parsed
    events = parse_lines(lines)

    # THEN exactly one kill, identical in substance to the reference
    assert len(events) == 1, [e["kill_line"][:80] for e in events]
    assert essence(events[0]) == reference
    assert_valid(events[0])


def test_transport_details_are_kept_where_the_transport_has_them() -> None:
    (journal,) = parse_lines(TRANSPORTS["CloudWatch agent journald JSON"]())
    assert journal["host"] == HOST
    assert journal["timestamp"].startswith("2025-11-26T10:00:00")
    assert journal["uptime_s"] == pytest.approx(BASE_UPTIME, abs=0.01)

    (rfc,) = parse_lines(TRANSPORTS["rsyslog RFC 3339"]())
    assert rfc["timestamp"].endswith("+00:00") and rfc["host"] == HOST

    (classic,) = parse_lines(TRANSPORTS["syslog imklog (uptime)"]())
    assert classic["timestamp"] is None  # no year, no zone: not guessed
    assert classic["log_time"] == "Nov 26 10:00:00" and classic["uptime_s"] is not None

    (dmesg_t,) = parse_lines(TRANSPORTS["dmesg -T German"]())
    assert dmesg_t["host"] is None and dmesg_t["log_time"] == "Mi Nov 26 10:00:00 2025"


def test_reports_of_two_hosts_interleaved_line_by_line_do_not_mix() -> None:
    # GIVEN corpus 04's report on web-1 and corpus 02's on web-2, interleaved line by line
    a = [f"Nov 26 10:00:00 web-1 kernel: {t}" for rec in RECORDS for t in rec]
    b = [
        f"Nov 26 10:00:00 web-2 kernel: {r.text}" for line in corpus_lines(corpus_file("02")) for r in parse_line(line)
    ]
    mixed = [x for pair in zip(a, b, strict=False) for x in pair] + a[len(b) :] + b[len(a) :]

    # WHEN parsed together
    events = {e["host"]: e for e in parse_lines(mixed)}

    # THEN each host's kill has its own trigger and task table
    assert events["web-1"]["trigger"]["comm"] == "doxygen"
    assert events["web-2"]["trigger"]["comm"] == "kworker/0:2"
    assert events["web-2"]["victim"]["comm"] == "unattended-upgr"
    assert {c["comm"] for c in events["web-2"]["top_consumers"]}.isdisjoint({"doxygen", "java"})
