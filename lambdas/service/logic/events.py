"""The EventBridge contract: one event per kill, loop, digest and notice, on the account's bus (setting
``event_bus``), for rules of the user's own (PagerDuty, Opsgenie, a ticket queue, a Lambda).

Every event has ``source`` ``oomwatch``, a ``detail-type`` of :data:`DETAIL_TYPES` and a ``detail`` of
``schema_version`` :data:`SCHEMA_VERSION`, documented in docs/eventbridge.md and described by
docs/events.schema.json (the tests validate every kind the handlers produce against it). Versioning: fields are
only ever added within a version; a field removed, renamed or retyped is a new ``schema_version``.

``detail.fingerprint`` is the noise fingerprint as the chat form's ``threadId`` (:func:`service.logic.chat.thread_of`):
a kill, its loop alert and its digest share it, so a ``dedup_key`` set from it (PagerDuty Events v2) updates one
incident. ``decision`` says what noise control did: ``alert``, ``alert+loop``, ``loop``, ``folded`` (counted into
the digest, no alert of its own), ``event_only`` (allow-listed), ``muted`` (a mute silenced it), ``digest``, ``notice``.
``alerted`` is true when an SNS alert went out for it (what a paging rule matches). ``resource`` is never empty
(the instance, else the alarm, else ``account:region``): PagerDuty's ``payload.source``. Kills carry their
structured event record as ``record``; everything else the SNS message's JSON document as ``document``.

When: a kill's events go after its alerts went out (:func:`service.logic.kills.handle_kills`), one per message
sent in that invocation, or one for a kill folded on its first attempt; a retry that only re-commits adds none.

PutEvents limits (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html, and
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html): at most 10 entries per call;
the entries' total size (Source, DetailType, Detail and each Resource in UTF-8, 14 bytes for Time) "must be less
than 256KB"; ``Detail`` a JSON object. Each detail here is kept under :data:`DETAIL_MAX_BYTES` by a deterministic
trim (the report's lines first, then the record or document), with ``truncated: true``; the data-access layer
(:mod:`service.dal.eventbus`) packs the entries into calls under both limits.

Pure: builds entries; :func:`emit` hands them to ``rt.events`` and never raises (a failure is logged and counted
as ``EventFailures``; it never fails or repeats an alert).
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

from service.dal.clients import error_code
from service.logic.chat import thread_of
from service.logic.ports import Runtime
from service.logic.text import clean
from service.models.views import Message

SOURCE: Final = "oomwatch"
SCHEMA_VERSION: Final = 1
#: Message kind -> detail-type. Kinds not listed (a notice added later) are "OOMWatch Notice".
DETAIL_TYPES: Final[Mapping[str, str]] = {
    "oom_kill": "OOM Kill",
    "oom_loop": "OOM Loop",
    "oom_digest": "OOM Digest",
    "memory_alarm": "Memory Alarm",
    "mute_notice": "OOM Mute",
}
NOTICE: Final = "OOMWatch Notice"
DECISIONS: Final = ("alert", "alert+loop", "loop", "folded", "event_only", "digest", "notice", "muted")
SEVERITIES: Final = ("critical", "warning", "info")
#: One detail at most this many bytes of UTF-8 JSON: four fit in one PutEvents call (< 262,144 bytes in all).
DETAIL_MAX_BYTES: Final = 64_000
SUMMARY_MAX: Final = 1024  # PagerDuty Events v2 payload.summary
FINGERPRINT_MAX: Final = 255  # PagerDuty Events v2 dedup_key
_LINES_KEPT: Final = 10


class Entry(TypedDict):
    """One PutEvents request entry, without ``EventBusName`` (the data-access layer adds it)."""

    Source: str
    DetailType: str
    Detail: str


def detail_type(kind: str) -> str:
    return DETAIL_TYPES.get(kind, NOTICE)


def _iso(ms: int | float | None) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds")


def _text(value: object, limit: int) -> str | None:
    if value is None or value == "":
        return None
    return clean(value if isinstance(value, str) else str(value), limit) or None


def _severity(value: object) -> str:
    return value if isinstance(value, str) and value in SEVERITIES else "info"


def _asg(doc: Mapping[str, Any]) -> str | None:
    instance = doc.get("instance")
    if isinstance(instance, Mapping):
        return _text(instance.get("asg"), 255)
    return None


def _process(doc: Mapping[str, Any]) -> str | None:
    """The victim's name: from a record (``victim``), an alert's document (``event.victim``) or ``process``."""
    for owner in (doc, doc.get("event")):
        if isinstance(owner, Mapping) and isinstance(owner.get("victim"), Mapping):
            return _text(owner["victim"].get("comm"), 64)
    return _text(doc.get("process"), 64)


def _instance(doc: Mapping[str, Any]) -> str | None:
    for key in ("instance_id", "latest_instance_id"):
        if isinstance(doc.get(key), str) and doc[key]:
            return _text(doc[key], 64)
    items = doc.get("instances")
    if isinstance(items, list) and len(items) == 1:
        one = items[0].get("instance_id") if isinstance(items[0], Mapping) else items[0]
        return _text(one, 64)
    return None


def _cut_lines(part: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a record or document with the report's ``lines`` (its own, or its ``event``'s) cut to the
    first and last ten."""
    out = dict(part)
    if isinstance(out.get("event"), Mapping):
        out["event"] = _cut_lines(out["event"])
    lines = out.get("lines")
    if isinstance(lines, list) and len(lines) > 2 * _LINES_KEPT:
        out["lines"] = lines[:_LINES_KEPT] + lines[-_LINES_KEPT:]
    return out


def _encode(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, separators=(",", ":"), default=str, ensure_ascii=False)


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def fit(detail: dict[str, Any], limit: int = DETAIL_MAX_BYTES) -> str:
    """The detail as JSON under ``limit`` bytes: whole if it fits; else the report lines cut to the first and last
    ten, then without the record/document, then only the identity fields; every cut sets ``truncated``."""
    text = _encode(detail)
    if _size(text) <= limit:
        return text
    body = "record" if "record" in detail else "document"
    part = detail.get(body)
    if isinstance(part, Mapping):
        detail = {**detail, body: _cut_lines(part), "truncated": True}
        text = _encode(detail)
        if _size(text) <= limit:
            return text
    detail = {k: v for k, v in detail.items() if k not in ("record", "document")} | {"truncated": True}
    text = _encode(detail)
    if _size(text) <= limit:
        return text
    detail = {**detail, "subject": _text(detail.get("subject"), 200), "summary": _text(detail.get("summary"), 200)}
    return _encode(detail)


def _entry(kind: str, detail: dict[str, Any]) -> Entry:
    return {"Source": SOURCE, "DetailType": detail_type(kind), "Detail": fit(detail)}


def message_entry(
    message: Message,
    *,
    decision: str,
    alerted: bool = True,
    record: Mapping[str, Any] | None = None,
    time_ms: int | None = None,
) -> Entry:
    """The event of a message that was published (its SNS JSON document as ``document``; a kill's structured
    event record as ``record`` instead)."""
    doc = message.doc
    summary = clean(message.subject, SUMMARY_MAX) or detail_type(message.kind)
    account = _text(doc.get("account"), 12)
    region = _text(doc.get("region"), 32)
    instance_id = _instance(doc)
    # what PagerDuty calls the payload's source: never empty
    resource = instance_id or _text(doc.get("alarm_name"), 255) or f"{account or 'unknown'}:{region or 'unknown'}"
    detail: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": message.kind,
        "fingerprint": thread_of(message)[:FINGERPRINT_MAX],
        "severity": _severity(message.attributes.get("severity") or doc.get("severity")),
        "decision": decision,
        "alerted": alerted,
        "account": account,
        "region": region,
        "instance_id": instance_id,
        "asg": _asg(record or doc),
        "process": _process(record or doc) or _text(message.attributes.get("process"), 64),
        "resource": resource,
        "time": _iso(time_ms),
        "subject": clean(message.subject, 200),
        "summary": summary,
        "truncated": False,
    }
    if record is not None:
        detail["record"] = dict(record)
    else:
        detail["document"] = {k: v for k, v in doc.items() if k != "links"}
    return _entry(message.kind, detail)


def kill_message(record: Mapping[str, Any], fingerprint: str, kill_key: str, summary: str) -> Message:
    """A stand-in message for a kill that sent none (folded, allow-listed): the same thread as its alerts."""
    doc = {
        "fingerprint": fingerprint,
        "kill_key": kill_key,
        "severity": record.get("severity"),
        "account": record.get("account"),
        "region": record.get("region"),
        "instance_id": record.get("instance_id"),
    }
    return Message("oom_kill", summary, "", doc, {})


def kill_summary(record: Mapping[str, Any], decision: str) -> str:
    """The short line of a kill that sent no alert: what died where, and why no alert."""
    victim = record.get("victim")
    comm = victim.get("comm") if isinstance(victim, Mapping) else None
    where = record.get("instance_id") or record.get("host") or "unknown host"
    why = {"folded": "folded into the digest", "event_only": "allow-listed", "muted": "muted"}.get(decision, decision)
    occurrence = record.get("occurrence")
    nth = f", kill {occurrence} of its window" if isinstance(occurrence, int) and occurrence > 1 else ""
    return clean(f"[OOM {why}] {comm or 'unknown process'} killed on {where}{nth}", SUMMARY_MAX)


def kill_entry(record: Mapping[str, Any], *, fingerprint: str, kill_key: str, decision: str, time_ms: int) -> Entry:
    """The "OOM Kill" event of a kill that sent no alert of its own."""
    summary = kill_summary(record, decision)
    message = kill_message(record, fingerprint, kill_key, summary)
    return message_entry(message, decision=decision, alerted=False, record=record, time_ms=time_ms)


def emit(rt: Runtime, entries: Sequence[Entry]) -> int:
    """Put the entries on the bus; the number that failed (logged and counted, never raised)."""
    bus = rt.events
    if bus is None or not entries:
        return 0
    try:
        failures = bus.put(list(entries))
    except Exception as exc:  # a bug or an SDK error outside the calls: the alerts stand
        failures = [error_code(exc)] * len(entries)
    if failures:
        rt.telemetry.warning("events_failed", count=len(failures), errors=sorted(set(failures))[:5])
        rt.telemetry.count("EventFailures", len(failures))
    return len(failures)


def emit_message(rt: Runtime, message: Message, *, decision: str = "notice", time_ms: int | None = None) -> int:
    """The event of one published message (a notice), put at once; never raises (0 when off or put)."""
    if rt.events is None:
        return 0
    try:
        entry = message_entry(message, decision=decision, time_ms=time_ms)
    except Exception as exc:
        rt.telemetry.warning("event_build_failed", kind=message.kind, error=type(exc).__name__)
        rt.telemetry.count("EventFailures")
        return 1
    return emit(rt, [entry])
