"""Play log files into a CloudWatch Logs group as the CloudWatch agent would, and build the subscription
deliveries CloudWatch Logs would make from them.

Input formats, detected per line: classic syslog (``Nov 26 10:15:01 host prog: ...``, with or without
fractional seconds, as written by rsyslog and ``journalctl``), RFC 3339 syslog (``2025-11-26T10:15:01.123+00:00
host ...``) and the agent's journald JSON envelope (``{"body":{"MESSAGE":...,"__REALTIME_TIMESTAMP":...}}``).
Lines without a timestamp of their own (continuation lines, ``dmesg`` output) take the previous line's.

Timestamps are replayed, not copied: CloudWatch Logs rejects events older than 14 days, so the lines keep
their original spacing and the last one lands at "now". Messages are shipped byte for byte.

Batches: the agent flushes every 5 s (``force_flush_interval``), so lines within 5 s of a batch's first line
go into one ``PutLogEvents`` call, and CloudWatch Logs delivers the matching events of one call together.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from demo.filterpattern import Matcher

MAX_AGE_MS = 13 * 24 * 3600 * 1000
FLUSH_MS = 5000
_MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
_CLASSIC = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?P<frac>\.\d+)?\s"
)
_RFC3339 = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?)(?P<tz>Z|[+-]\d\d:?\d\d)?\s")


@dataclass(frozen=True)
class Line:
    message: str
    original_ms: int | None  # the line's own timestamp, if it has one


@dataclass(frozen=True)
class Event:
    timestamp: int
    message: str
    event_id: str


@dataclass
class Batch:
    stream: str
    events: list[Event] = field(default_factory=list)


def line_timestamp_ms(line: str, year: int) -> int | None:
    """The timestamp a line carries, in ms since the epoch (UTC), or None."""
    if line.startswith("{"):
        try:
            doc = json.loads(line)
        except ValueError:
            return None
        body = doc.get("body") if isinstance(doc, dict) else None
        if isinstance(body, dict):
            raw = body.get("__REALTIME_TIMESTAMP") or body.get("_SOURCE_REALTIME_TIMESTAMP")
            if isinstance(raw, str | int) and str(raw).isdigit():
                return int(raw) // 1000
        return None
    m = _CLASSIC.match(line)
    if m:
        micros = int(float(m.group("frac")) * 1_000_000) if m.group("frac") else 0
        stamp = dt.datetime(
            year, _MONTHS[m.group("mon")], int(m.group("day")), int(m.group("h")), int(m.group("m")),
            int(m.group("s")), micros, tzinfo=dt.UTC,
        )  # fmt: skip
        return int(stamp.timestamp() * 1000)
    m = _RFC3339.match(line)
    if m:
        tz = m.group("tz") or "Z"
        tz = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
        try:
            return int(dt.datetime.fromisoformat(m.group("ts").replace(" ", "T") + tz).timestamp() * 1000)
        except ValueError:
            return None
    return None


def read_lines(text: str, year: int | None = None) -> list[Line]:
    year = year or dt.datetime.now(dt.UTC).year
    lines = []
    for raw in text.splitlines():
        if not raw.strip():
            continue  # CloudWatch Logs rejects empty messages; the agent skips them
        lines.append(Line(raw, line_timestamp_ms(raw, year)))
    return lines


def event_id(group: str, stream: str, timestamp: int, index: int) -> str:
    """A CloudWatch-shaped event id: a 56-digit decimal string, unique per event of a stream."""
    digest = int.from_bytes(hashlib.sha256(f"{group}\0{stream}\0{index}".encode()).digest()[:8], "big")
    return str((timestamp << 143) | (digest << 24) | (index & 0xFFFFFF)).zfill(56)[-56:]


def schedule(group: str, stream: str, lines: Sequence[Line], now_ms: int) -> list[Batch]:
    """Timestamps replayed to end at now_ms, then cut into the agent's 5-second batches."""
    known = [ln.original_ms for ln in lines if ln.original_ms is not None]
    last = max(known) if known else None
    stamps: list[int] = []
    previous = now_ms - len(lines) if last is None else None
    for index, line in enumerate(lines):
        if line.original_ms is not None and last is not None:
            stamp = max(now_ms - min(last - line.original_ms, MAX_AGE_MS), now_ms - MAX_AGE_MS)
        elif previous is not None:
            stamp = previous
        else:
            stamp = now_ms - len(lines) + index
        # PutLogEvents wants a batch in chronological order; a line stamped earlier than the one before it
        # (clock steps, interleaved writers) is shipped at the previous line's time.
        if stamps and stamp < stamps[-1]:
            stamp = stamps[-1]
        stamps.append(stamp)
        previous = stamp
    batches: list[Batch] = []
    for index, (line, stamp) in enumerate(zip(lines, stamps, strict=True)):
        if not batches or stamp - batches[-1].events[0].timestamp >= FLUSH_MS or len(batches[-1].events) >= 10000:
            batches.append(Batch(stream))
        batches[-1].events.append(Event(stamp, line.message, event_id(group, stream, stamp, index)))
    return batches


def put_batches(logs: Any, group: str, batches: list[Batch]) -> list[Batch]:
    """Write the batches into the log group (one ``PutLogEvents`` per batch), creating streams as needed,
    and return them with the event ids CloudWatch Logs gave the events (read back with FilterLogEvents)."""
    made: set[str] = set()
    for batch in batches:
        if batch.stream not in made:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=batch.stream)
            made.add(batch.stream)
        response = logs.put_log_events(
            logGroupName=group,
            logStreamName=batch.stream,
            logEvents=[{"timestamp": e.timestamp, "message": e.message} for e in batch.events],
        )
        rejected = response.get("rejectedLogEventsInfo")
        if rejected:
            raise RuntimeError(f"CloudWatch Logs rejected events of {batch.stream}: {rejected}")
    stored: dict[tuple[str, int, str], list[str]] = {}
    for stream in made:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamNames": [stream]}
        found: list[dict[str, Any]] = []
        while True:
            page = logs.filter_log_events(**kwargs)
            found += page.get("events", [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        found.sort(key=lambda e: (e["timestamp"], e["eventId"]))
        for found_event in found:
            key = (stream, found_event["timestamp"], found_event["message"])
            stored.setdefault(key, []).append(found_event["eventId"])
    result = []
    for batch in batches:
        events = []
        for e in batch.events:
            ids = stored.get((batch.stream, e.timestamp, e.message))
            events.append(Event(e.timestamp, e.message, ids.pop(0) if ids else e.event_id))
        result.append(Batch(batch.stream, events))
    return result


def subscription_payload(
    owner: str, group: str, stream: str, filter_name: str, events: Sequence[Event]
) -> dict[str, Any]:
    """The decoded DATA_MESSAGE CloudWatch Logs sends to a subscription destination."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": e.event_id, "timestamp": e.timestamp, "message": e.message} for e in events],
    }


def control_payload(now_ms: int) -> dict[str, Any]:
    """The reachability check CloudWatch Logs sends when a subscription filter is created."""
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {"id": "", "timestamp": now_ms, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda."}
        ],
    }


def lambda_event(payload: dict[str, Any]) -> dict[str, Any]:
    """``{"awslogs": {"data": base64(gzip(json))}}``, as a Lambda destination receives it."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def deliveries(
    owner: str, group: str, filter_name: str, matcher: Matcher, batches: Iterable[Batch]
) -> list[dict[str, Any]]:
    """The DATA_MESSAGE payloads for the events the filter passes, one per batch that has any."""
    found = []
    for batch in batches:
        matching = [e for e in batch.events if matcher(e.message)]
        if matching:
            found.append(subscription_payload(owner, group, batch.stream, filter_name, matching))
    return found
