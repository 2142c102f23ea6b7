"""The EventBridge contract end to end (moto, under demo/aws_rules.py): with ``EVENT_BUS`` set, every kill, loop,
digest and notice the handlers produce is put on the bus once, matches docs/events.schema.json and shares its
alert's chat thread; a failing bus costs the events only, never an alert; a retried invocation adds no event for
what already went out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import FIXED_MS, Clock, Invoke, LogCapture, World, client, corpus_lines, kills, log_events, payload
from jsonschema import Draft202012Validator
from service.logic import chat
from service.logic.ports import PublishFailed
from service.models.views import Message
from test_alarm_notice import contributor_event, metrics_api

__all__ = ["metrics_api"]  # a fixture, used by name

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(json.loads((REPO / "docs" / "events.schema.json").read_text()))
WINDOW_S = 15 * 60


class Bus:
    """What reached the default bus: a catch-all rule for source oomwatch, to an SQS queue (moto delivers it)."""

    def __init__(self) -> None:
        sqs = client("sqs")
        self.url = sqs.create_queue(QueueName="oomwatch-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = client("events")
        events.put_rule(Name="capture", EventPattern=json.dumps({"source": ["oomwatch"]}))
        events.put_targets(Rule="capture", Targets=[{"Id": "queue", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def events(self) -> list[dict[str, Any]]:
        sqs = client("sqs")
        while True:
            got = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return self.seen
            for m in got:
                self.seen.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [e["detail"] for e in self.events() if e["detail-type"] == detail_type]


@pytest.fixture
def bus(aws_env: dict[str, str], world: World, monkeypatch: pytest.MonkeyPatch) -> Bus:
    monkeypatch.setenv("EVENT_BUS", "default")
    return Bus()


@pytest.fixture
def runtime_(bus: Bus, runtime_: Any) -> Any:
    """conftest's fresh container, built after ``bus`` set EVENT_BUS."""
    return runtime_


def valid(detail: dict[str, Any]) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in VALIDATOR.iter_errors(detail)]
    assert errors == [], errors


def thread(sent: Any, kind: str) -> str:
    return chat.thread_of(Message(kind, sent.subject, sent.text, sent.doc, sent.attributes))


def test_a_kill_alert_is_one_oom_kill_event_in_its_alerts_thread(
    world: World, invoke_oom: Invoke, bus: Bus, logs: LogCapture
) -> None:
    # GIVEN one delivery of a mysqld report, delivered twice
    iid = world.instances["db-1"]
    lines = corpus_lines("01_")
    event = payload(iid, log_events(lines, FIXED_MS - len(lines)))
    invoke_oom(event)
    invoke_oom(event)
    # THEN one event: "OOM Kill", alerted, valid, in the alert's thread, carrying the kill's record
    (detail,) = bus.of("OOM Kill")
    assert len(bus.events()) == 1
    valid(detail)
    (sent,) = world.sent()
    assert detail["fingerprint"] == thread(sent, "oom_kill")
    assert detail["decision"] == "alert" and detail["alerted"] is True
    assert detail["summary"] == sent.subject and detail["instance_id"] == iid
    assert detail["record"]["kill_key"] == logs.events()[0]["kill_key"]


def test_folded_kills_the_loop_and_the_digest_share_one_fingerprint(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, bus: Bus, clock: Clock
) -> None:
    # GIVEN six kills of one fingerprint in one window (loop threshold 5), then the window ends
    host = "db-1"
    invoke_oom(payload(world.instances[host], kills(host, 3000, 6, int(clock.now * 1000))))
    clock.advance(WINDOW_S + 60)
    assert invoke_digest({"account": "123456789012"})["sent"] == 1
    # THEN the first kill alerted, three kills folded (no alert, an event each), the fifth is the loop alert, the
    # sixth folded; the digest: all in one thread, all valid
    kill_events = bus.of("OOM Kill")
    assert [d["decision"] for d in kill_events] == ["alert", "folded", "folded", "folded", "folded"]
    assert [d["alerted"] for d in kill_events] == [True, False, False, False, False]
    (loop,) = bus.of("OOM Loop")
    (digest,) = bus.of("OOM Digest")
    assert loop["decision"] == "loop" and digest["decision"] == "digest"
    every = [*kill_events, loop, digest]
    for detail in every:
        valid(detail)
    assert len({d["fingerprint"] for d in every}) == 1
    sent = {s.doc["type"]: s for s in world.sent()}
    assert digest["fingerprint"] == thread(sent["oom_digest"], "oom_digest")


def test_an_allow_listed_kill_is_an_event_only_event(world: World, invoke_oom: Invoke, bus: Bus) -> None:
    # GIVEN a kill of stress-ng, which ALLOW_LIST expects
    host = "db-1"
    stress = [
        log.__class__(log.id, log.timestamp, log.message.replace("php-fpm", "stress-ng"))
        for log in kills(host, 700, 1, FIXED_MS)
    ]
    invoke_oom(payload(world.instances[host], stress))
    # THEN no alert; one "OOM Kill" event, not alerted, decision event_only
    assert world.sent() == []
    (detail,) = bus.of("OOM Kill")
    valid(detail)
    assert detail["decision"] == "event_only" and detail["alerted"] is False
    assert detail["process"].startswith("stress-ng")


def test_a_failing_bus_costs_the_event_not_the_alert(
    world: World, invoke_oom: Invoke, runtime_: Any, bus: Bus, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN EventBridge refusing every call
    def down(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutEvents")

    monkeypatch.setattr(runtime_.clients.events, "put_events", down)
    iid = world.instances["db-1"]
    lines = corpus_lines("01_")
    # WHEN a kill arrives
    result = invoke_oom(payload(iid, log_events(lines, FIXED_MS - len(lines))))
    # THEN the alert and the structured event went out, the invocation succeeded, and the failure is logged
    assert result["alerts"] == 1 and len(world.sent()) == 1 and len(logs.events()) == 1
    warnings = [r for r in logs.records() if r.get("message") == "events_failed"]
    assert warnings and warnings[0]["errors"] == ["AccessDeniedException"]
    assert bus.events() == []


def test_a_retried_invocation_puts_the_event_of_what_it_sent_once(
    world: World, invoke_oom: Invoke, runtime_: Any, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SNS failing for the first attempt
    real = runtime_.clients.sns.publish

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "Throttled", "Message": "x"}}, "Publish")

    monkeypatch.setattr(runtime_.clients.sns, "publish", throttled)
    iid = world.instances["db-1"]
    lines = corpus_lines("01_")
    event = payload(iid, log_events(lines, FIXED_MS - len(lines)))
    # WHEN the first attempt fails and Lambda retries it
    with pytest.raises(PublishFailed):
        invoke_oom(event)
    assert bus.events() == []  # nothing went out, so no event
    monkeypatch.setattr(runtime_.clients.sns, "publish", real)
    invoke_oom(event)
    invoke_oom(event)  # and a third delivery of the same lines
    # THEN one alert and one event
    assert len(world.sent()) == 1
    (detail,) = bus.of("OOM Kill")
    assert detail["decision"] == "alert"


def test_no_bus_no_events(world: World, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN EVENT_BUS=off (the setting turned off)
    import service.handlers.oom
    from service.wiring import reset_runtime, runtime

    monkeypatch.setenv("EVENT_BUS", "off")
    reset_runtime()
    try:
        # THEN the container has no bus
        assert runtime(service.handlers.oom.telemetry).events is None
    finally:
        reset_runtime()


def test_a_memory_alarm_notice_is_a_memory_alarm_event(
    world: World, invoke_alarm: Invoke, bus: Bus, metrics_api: list[dict[str, Any]]
) -> None:
    # GIVEN web-1's memory contributor goes to ALARM
    iid = world.instances["web-1"]
    # WHEN the notice is sent
    assert invoke_alarm(contributor_event(iid))["sent"] == 1
    # THEN one "Memory Alarm" event, in the notice's thread, naming the instance and the alarm's document
    (detail,) = bus.of("Memory Alarm")
    valid(detail)
    (sent,) = world.sent()
    assert detail["fingerprint"] == thread(sent, "memory_alarm")
    assert detail["instance_id"] == iid and detail["severity"] == "critical" and detail["decision"] == "notice"
    assert detail["document"]["alarm_name"] == "oomwatch-fleet-memory"


def test_a_muted_kill_and_its_mutes_notices_are_events(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, bus: Bus, runtime_: Any, clock: Clock
) -> None:
    from handler_kit import TABLE
    from oomwatch.mute_store import MuteStore

    # GIVEN a mute of php-fpm* (no breakthrough: the kill is critical and host-wide), announced by the digest run
    clock.now = FIXED_MS / 1000
    runtime_.settings = runtime_.settings._replace(mute_breakthrough_critical=False)
    mute = MuteStore(client("dynamodb"), TABLE, max_hours=72).set(
        "process", "php-fpm*", 4 * 3600, "deploy 42", "alice", now_s=clock.now
    )
    invoke_digest({"account": "123456789012"})
    # WHEN a kill of php-fpm is delivered
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    # THEN one "OOM Kill" event, muted, not alerted, naming the mute; valid
    (kill,) = bus.of("OOM Kill")
    valid(kill)
    assert (kill["decision"], kill["alerted"], kill["record"]["mute_id"]) == ("muted", False, mute.id)
    # AND the mute's notice is one "OOM Mute" event in the notice's thread
    (notice,) = bus.of("OOM Mute")
    valid(notice)
    (sent,) = [s for s in world.sent() if s.doc.get("type") == "mute_notice"]
    assert notice["fingerprint"] == thread(sent, "mute_notice") and notice["kind"] == "mute_notice"
    assert notice["decision"] == "notice" and notice["alerted"] is True
