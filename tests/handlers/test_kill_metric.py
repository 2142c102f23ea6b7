"""The ``OOMKills`` metric by Auto Scaling group (setting ``kill_metric``): one value per kill, ASG dimension only.

The OOM handler runs on moto with real corpus reports; the metric is read back from the EMF blobs Powertools
prints (what CloudWatch Logs turns into metrics in the function's log group).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from handler_kit import FIXED_MS, Clock, Invoke, LogCapture, World, corpus_lines, emf, log_events, payload
from test_delivery_faults import Lambda, arm, delivery


@pytest.fixture
def kill_metric_on(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the stack sets on the OOM function with ``kill_metric=true`` (read when the Runtime is built)."""
    monkeypatch.setenv("KILL_METRIC", "true")


def report(name: str, stream: str, end_ms: int = FIXED_MS) -> dict[str, Any]:
    lines = corpus_lines(name)
    return payload(stream, log_events(lines, end_ms - len(lines)))


def by_asg(stdout: str) -> list[dict[str, Any]]:
    """The OOMKills blobs that carry an Auto Scaling group, each checked to carry nothing else."""
    blobs = [m for m in emf(stdout) if "OOMKills" in m and "AutoScalingGroupName" in m]
    for blob in blobs:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["AutoScalingGroupName"]]
        assert directive["Namespace"] == "OOMWatch"
        assert directive["Metrics"] == [{"Name": "OOMKills", "Unit": "Count"}]
        assert "service" not in blob and "severity" not in blob
        assert blob["OOMKills"] == [1.0]
    return blobs


def test_one_value_per_kill_with_the_instances_asg_none_or_unknown(
    kill_metric_on: None,
    world: World,
    invoke_oom: Invoke,
    logs: LogCapture,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN kills on an ASG member (web-1), on an instance in no ASG (db-1), and on a host whose stream
    # names no instance (an existing syslog group)
    clock.now = FIXED_MS / 1000
    capsys.readouterr()

    # WHEN each report is delivered
    invoke_oom(report("05_", world.instances["web-1"]))
    invoke_oom(report("01_", world.instances["db-1"], FIXED_MS + 60_000))
    invoke_oom(report("02_", "legacy-host/syslog", FIXED_MS + 120_000))

    # THEN one value per kill event: the ASG from EC2, "none" outside an ASG, "unknown" when there is no instance
    values = [blob["AutoScalingGroupName"] for blob in by_asg(capsys.readouterr().out)]
    assert values == ["web-asg", "none", "unknown"]
    assert [(event.get("instance") or {}).get("asg") for event in logs.events()] == ["web-asg", None, None]


#: One fault per step of the delivery protocol (the matrix of test_delivery_faults.py, which holds one event per
#: kill for each): the metric goes with the event, so it must hold one value per kill too.
FAULTS = [("claim", "death"), ("count", "death"), ("render", "crash"), ("save", "timeout"), ("event", "crash"),
          ("publish", "throttle"), ("publish", "death"), ("release", "crash"), ("commit", "timeout")]  # fmt: skip


@pytest.mark.parametrize(("step", "kind"), FAULTS, ids=[f"{s}-{k}" for s, k in FAULTS])
def test_lambda_retries_and_redeliveries_count_each_kill_once(
    kill_metric_on: None,
    world: World,
    clock: Clock,
    logs: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    step: str,
    kind: str,
) -> None:
    # GIVEN two kills on db-1 (in no ASG) in one delivery, and a fault at one step of its first attempt
    from service.wiring import reset_runtime

    clock.now = FIXED_MS / 1000 + 30
    lam = Lambda(clock, monkeypatch)
    capsys.readouterr()
    also = ("publish", "throttle") if step == "release" else None  # a release follows a failed publish only
    fault = arm(monkeypatch, step, kind, also)
    try:
        # WHEN Lambda retries it (1 and 2 minutes later, same request id) and the queue redelivers it twice
        outcomes = lam.schedule(delivery(world), fault)
    finally:
        reset_runtime()

    # THEN each kill was counted once, with its instance's ASG (a kill whose event could not be rendered in
    # full has only the minimal event, which names no ASG)
    values = [blob["AutoScalingGroupName"] for blob in by_asg(capsys.readouterr().out)]
    assert values == (["unknown", "unknown"] if step == "event" else ["none", "none"]), outcomes
    assert len(logs.events()) == 2


def test_a_duplicate_delivery_adds_nothing(
    kill_metric_on: None, world: World, invoke_oom: Invoke, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one report from web-2, delivered and counted
    clock.now = FIXED_MS / 1000
    event = report("02_", world.instances["web-2"])
    invoke_oom(event)
    assert len(by_asg(capsys.readouterr().out)) == 1

    # WHEN the same payload arrives again as a new request
    import service.handlers.oom
    from handler_kit import FakeContext

    service.handlers.oom.handler(event, FakeContext(str(uuid.uuid4())))

    # THEN no second value
    assert by_asg(capsys.readouterr().out) == []


def test_without_the_setting_no_asg_metric_is_written(
    world: World, invoke_oom: Invoke, logs: LogCapture, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no KILL_METRIC in the environment (kill_metric=false, or a function deployed before it)
    clock.now = FIXED_MS / 1000
    capsys.readouterr()

    # WHEN a kill on an ASG member is delivered
    invoke_oom(report("05_", world.instances["web-1"]))

    # THEN the event is there, the per-severity OOMKills too, and no OOMKills by ASG
    assert len(logs.events()) == 1
    stdout = capsys.readouterr().out
    assert by_asg(stdout) == []
    assert [m["severity"] for m in emf(stdout) if "OOMKills" in m] == ["warning"]


def test_a_failing_metric_costs_neither_the_event_nor_the_alert(
    kill_metric_on: None,
    world: World,
    invoke_oom: Invoke,
    logs: LogCapture,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN Powertools cannot serialise the ASG metric
    from aws_lambda_powertools.metrics.base import SingleMetric

    class Broken(SingleMetric):
        def serialize_metric_set(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected")

    monkeypatch.setattr("service.wiring.SingleMetric", Broken)
    clock.now = FIXED_MS / 1000

    # WHEN a kill is delivered
    result = invoke_oom(report("01_", world.instances["db-1"]))

    # THEN the alert and the one event went out, and the failure is logged
    assert result["alerts"] == 1 and len(world.sent()) == 1
    assert len(logs.events()) == 1
    assert [r.get("error") for r in logs.records() if r.get("message") == "kill_metric_failed"] == ["RuntimeError"]
    assert by_asg(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("record", "value"),
    [
        ({"instance": {"id": "i-1", "asg": "web-asg"}}, "web-asg"),
        ({"instance": {"id": "i-1", "asg": "  web-asg "}}, "web-asg"),
        ({"instance": {"id": "i-1", "asg": None}}, "none"),
        ({"instance": {"id": "i-1", "asg": ""}}, "none"),
        ({"instance": {"id": "i-1"}}, "unknown"),  # EC2 could not be read
        ({"instance": None}, "unknown"),  # the stream names no instance
        ({}, "unknown"),  # the minimal event of a kill that could not be rendered
        ({"instance": {"id": "i-1", "asg": "a" * 300}}, "a" * 255),
    ],
)
def test_the_dimension_value(record: dict[str, Any], value: str) -> None:
    from service.wiring import kill_asg

    assert kill_asg(record) == value
