"""The EventBridge contract (lambdas/service/logic/events.py): every kind of event matches
docs/events.schema.json, shares the chat thread's fingerprint, fits PutEvents (a detail that is too large is cut
the same way every time, and says so), and a failing bus never raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from service.logic import chat
from service.logic import events as ev
from service.models.views import Message

from tests.unit.service.logic.test_alerting_chat import IID, MS, every_kind

REPO = Path(__file__).resolve().parents[4]
SCHEMA = json.loads((REPO / "docs" / "events.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
MESSAGES = every_kind()
DECISION = {"oom_kill": "alert", "oom_loop": "loop", "oom_digest": "digest"}


def detail(entry: ev.Entry) -> dict[str, Any]:
    value = json.loads(entry["Detail"])
    assert isinstance(value, dict)  # PutEvents: "A valid JSON object"
    return value


def entry_of(message: Message) -> ev.Entry:
    return ev.message_entry(message, decision=DECISION.get(message.kind, "notice"), time_ms=MS)


def record(decision: str = "folded") -> dict[str, Any]:
    """A kill's structured event record, as kills.event_record writes it (the fields this module reads)."""
    return {
        "schema_version": 1, "source": "kernel", "victim": {"comm": "php-fpm", "pid": 48213, "rss_kb": 734_000},
        "lines": [f"line {n}" for n in range(40)], "kill_time": "2026-11-20T10:15:00.000+00:00",
        "instance_id": IID, "instance": {"id": IID, "name": "web-1", "asg": "shop-web"}, "severity": "critical",
        "fingerprint": "0123456789abcdef01234567", "occurrence": 3, "decision": decision,
        "account": "123456789012", "region": "eu-west-1", "kill_key": "k" + "b" * 40,
    }  # fmt: skip


def test_the_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema_version"] == {"const": ev.SCHEMA_VERSION}
    assert set(SCHEMA["properties"]["decision"]["enum"]) == set(ev.DECISIONS)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_kind_matches_the_schema_and_shares_the_chat_thread(name: str) -> None:
    # GIVEN a message of each kind the topic carries
    message = MESSAGES[name]
    # WHEN its event is built
    entry = entry_of(message)
    body = detail(entry)
    # THEN it is an oomwatch event of the kind's detail-type, valid against the schema, in the chat's thread
    assert entry["Source"] == "oomwatch"
    assert entry["DetailType"] == ev.DETAIL_TYPES.get(message.kind, "OOMWatch Notice")
    errors = [e.message for e in VALIDATOR.iter_errors(body)]
    assert errors == [], errors
    assert body["fingerprint"] == chat.thread_of(message)
    assert body["kind"] == message.kind and body["alerted"] is True and body["truncated"] is False
    assert body["summary"] == message.subject


def test_a_kill_its_loop_and_its_digest_share_one_fingerprint() -> None:
    fingerprints = {detail(entry_of(MESSAGES[n]))["fingerprint"] for n in ("kill", "loop", "digest")}
    assert len(fingerprints) == 1
    assert fingerprints != {detail(entry_of(MESSAGES["kill_memcg_no_instance"]))["fingerprint"]}


@pytest.mark.parametrize("decision", ["folded", "event_only"])
def test_a_kill_without_an_alert_has_an_event_in_the_same_thread(decision: str) -> None:
    # GIVEN a folded (or allow-listed) kill of the same fingerprint as an alerted one
    rec = record(decision)
    alerted = Message("oom_kill", "s", "", {"fingerprint": rec["fingerprint"]}, {})
    # WHEN its event is built
    entry = ev.kill_entry(rec, fingerprint=rec["fingerprint"], kill_key=rec["kill_key"], decision=decision, time_ms=MS)
    body = detail(entry)
    # THEN an "OOM Kill" event, not alerted, with the record, in the thread of the kill's alerts
    assert entry["DetailType"] == "OOM Kill"
    assert [e.message for e in VALIDATOR.iter_errors(body)] == []
    assert body["alerted"] is False and body["decision"] == decision
    assert body["fingerprint"] == chat.thread_of(alerted)
    assert body["record"]["kill_key"] == rec["kill_key"] and body["asg"] == "shop-web" and body["process"] == "php-fpm"
    assert "php-fpm killed on" in body["summary"]


def test_the_schema_refuses_what_the_contract_forbids() -> None:
    body = detail(entry_of(MESSAGES["kill"]))
    for bad in ({"decision": "folded"}, {"severity": "error"}, {"schema_version": 2}, {"surprise": 1}):
        assert list(VALIDATOR.iter_errors({**body, **bad})), bad


def test_an_oversize_detail_is_cut_the_same_way_every_time_and_says_so() -> None:
    # GIVEN a kill whose record holds a 400 KB report
    rec = record("alert") | {"lines": [f"{n:06d} " + "x" * 1000 for n in range(400)]}
    message = MESSAGES["kill"]
    # WHEN its event is built twice
    first = ev.message_entry(message, decision="alert", record=rec, time_ms=MS)
    second = ev.message_entry(message, decision="alert", record=rec, time_ms=MS)
    body = detail(first)
    # THEN the detail fits, identical both times, marked truncated, valid, the report cut to its ends
    assert first == second
    assert len(first["Detail"].encode()) <= ev.DETAIL_MAX_BYTES
    assert body["truncated"] is True and [e.message for e in VALIDATOR.iter_errors(body)] == []
    lines = body["record"]["lines"]
    assert len(lines) == 20 and lines[0].startswith("000000") and lines[-1].startswith("000399")


def test_a_detail_too_large_even_cut_keeps_its_identity() -> None:
    # GIVEN a record with a huge field that is not the report's lines
    rec = record("alert") | {"notes": ["n" * 1000] * 200}
    body = detail(ev.message_entry(MESSAGES["kill"], decision="alert", record=rec, time_ms=MS))
    # THEN the record is left out; the fields a rule matches on stay
    assert "record" not in body and body["truncated"] is True
    assert body["fingerprint"].startswith("oomwatch-kill-") and body["decision"] == "alert"
    assert [e.message for e in VALIDATOR.iter_errors(body)] == []


class Recorder:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, object]]] = []
        self.counts: list[tuple[str, int]] = []

    def warning(self, message: str, **fields: object) -> None:
        self.warnings.append((message, fields))

    def count(self, name: str, value: int = 1) -> None:
        self.counts.append((name, value))


class Bus:
    def __init__(self, answer: list[str] | Exception) -> None:
        self.answer = answer
        self.calls: list[list[Any]] = []

    def put(self, entries: list[Any]) -> list[str]:
        self.calls.append(entries)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Rt:
    def __init__(self, bus: Bus | None) -> None:
        self.events = bus
        self.telemetry = Recorder()


@pytest.mark.parametrize("answer", [["InternalFailure"], RuntimeError("boom")], ids=["entry", "call"])
def test_a_failing_bus_is_counted_and_never_raises(answer: list[str] | Exception) -> None:
    # GIVEN a bus that refuses an entry, or whose call fails
    rt = Rt(Bus(answer))
    entries = [entry_of(MESSAGES["kill"])]
    # WHEN the events are emitted
    failed = ev.emit(rt, entries)  # type: ignore[arg-type]
    # THEN the failure is counted as EventFailures and logged, and nothing is raised
    assert failed == 1
    assert rt.telemetry.counts == [("EventFailures", 1)]
    assert rt.telemetry.warnings[0][0] == "events_failed"


def test_no_bus_means_no_call() -> None:
    rt = Rt(None)
    assert ev.emit(rt, [entry_of(MESSAGES["kill"])]) == 0  # type: ignore[arg-type]
    assert ev.emit_message(rt, MESSAGES["alarm"]) == 0  # type: ignore[arg-type]
    assert rt.telemetry.counts == []
