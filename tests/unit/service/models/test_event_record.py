"""The events log group's ``oom_kill`` record (service.models.event_record): the parser's event with the Lambda's
fields, typed; the two keys the logger owns renamed where the record is logged; the hint the use case passes in."""

from __future__ import annotations

from pathlib import Path

from oomwatch import parse_lines
from oomwatch.event import OomEvent
from service.logic.alert_text import render_kill, render_loop
from service.logic.kills import event_record
from service.logic.reassembly import Kill
from service.models.decisions import Fingerprint, Severity
from service.models.event_record import EventRecord, RecordExtra
from service.models.instance import InstanceInfo
from service.models.views import KillView
from service.wiring import RESERVED_LOG_KEYS, logged

CORPUS = Path(__file__).resolve().parents[3] / "corpus"
IID = "i-0abc12345def67890"
INFO = InstanceInfo(IID, name="db-1", instance_type="t3.large", memory_mib=8192)


def _event() -> OomEvent:
    """The RHEL 7 mysqld report of corpus 01, parsed."""
    path = next(CORPUS.glob("01_*.log"))
    [ev] = parse_lines([line for line in path.read_text().splitlines() if not line.startswith("# ")], stream=IID)
    return ev


def _view(ev: OomEvent, hint: tuple[str, ...] | None = None) -> KillView:
    fp = Fingerprint("0" * 24, "instance:" + IID, "kernel", "mysqld", "mysqld on instance x (kernel)")
    return KillView(
        event=ev, kill_time_ms=1_795_169_700_000, instance_id=IID, instance=INFO,
        severity=Severity("critical", "host-wide out of memory"), fingerprint=fp, occurrence=1, window_minutes=15,
        loop_threshold=5, region="eu-west-1", account="123456789012", log_group="/oomwatch/ec2/syslog", stream=IID,
        hint=hint,
    )  # fmt: skip


def test_the_record_type_is_the_event_type_plus_the_lambdas_fields() -> None:
    # GIVEN the record's and the event's TypedDicts
    record, event = EventRecord.__annotations__, OomEvent.__annotations__
    # THEN every key of the event is a key of the record, required as in the event; the Lambda adds its own
    assert set(event) <= set(record)
    assert OomEvent.__required_keys__ <= EventRecord.__required_keys__
    assert OomEvent.__optional_keys__ <= EventRecord.__optional_keys__
    assert {"kill_time", "instance", "fingerprint", "decision", "kill_key"} <= set(record) - set(event)
    # AND of the logger's own keys the event has exactly the two the logging adapter renames
    assert set(event) & RESERVED_LOG_KEYS == {"message", "timestamp"}
    assert not (set(record) - set(event)) & RESERVED_LOG_KEYS


def test_the_logged_record_is_the_event_with_its_logger_keys_renamed_in_place() -> None:
    # GIVEN a parsed kill's record
    ev = _event()
    extra: RecordExtra = {"kill_key": "k1", "durable_state": True}
    record = event_record(_view(ev), "alert", Kill(ev, 1_795_169_700_000), extra)
    # WHEN it is logged
    out = logged(record)
    # THEN the event's keys come first, in the event's order, message and timestamp as event_message/event_timestamp
    keys = list(out)
    assert keys[: len(ev)] == [f"event_{k}" if k in ("message", "timestamp") else k for k in ev]
    assert "message" not in out and out["event_timestamp"] == ev["timestamp"]
    # AND the Lambda's fields follow, the extra last
    assert (
        out["decision"] == "alert" and out["instance"] == INFO.as_log() and keys[-2:] == ["kill_key", "durable_state"]
    )


def test_the_renderers_show_the_hint_the_use_case_passed_in() -> None:
    # GIVEN a view that carries its hint (as service.logic.kills builds it)
    view = _view(_event(), hint=("Given hint line.",))
    # WHEN the kill and loop alerts are rendered
    kill, loop = render_kill(view), render_loop(view._replace(occurrence=5), [IID])
    # THEN they show that hint, and no other
    for message in (kill, loop):
        body = message.text.splitlines()
        at = body.index("WHAT TO DO")
        assert body[at + 1 : at + 3] == ["  - Given hint line.", ""]
        assert message.doc["hint"] == ["Given hint line."]
