"""Readable notices for the fleet memory/swap Metrics Insights alarms."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import (
    ACCOUNT,
    FIXED_MS,
    REGION,
    Clock,
    Invoke,
    World,
    corpus_lines,
    flat,
    log_events,
    payload,
    rendered,
    snapshot,
)
from service.logic.ports import PublishFailed

MEMORY_ALARM = "oomwatch-fleet-memory"
QUERY = 'SELECT MAX(mem_used_percent) FROM "CWAgent" GROUP BY InstanceId ORDER BY MAX() DESC'


def contributor_event(instance_id: str, state: str = "ALARM", alarm: str = MEMORY_ALARM) -> dict[str, Any]:
    """The EventBridge event of one contributor (instance) of a multi-time-series alarm."""
    return {
        "version": "0",
        "id": "6d226bbc-07f0-9a31-3359-1736968f8ded",
        "detail-type": "CloudWatch Alarm Contributor State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2026-11-20T10:20:04Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "alarmContributor": {"id": "6d442278dba546f6", "attributes": {"InstanceId": instance_id}},
            "state": {
                "value": state,
                "reason": "Threshold Crossed: 1 datapoint was greater than the threshold (90.0). The most recent"
                " datapoint which crossed the threshold: [93.2 (20/11/26 10:19:00)].",
                "timestamp": "2026-11-20T10:20:04.919+0000",
            },
            "configuration": {"metrics": [{"id": "m1", "expression": QUERY, "returnData": True, "period": 60}]},
        },
    }


def alarm_event(in_alarm: int, total: int) -> dict[str, Any]:
    """The alarm-level event: it names no instance, only how many series are in ALARM."""
    return {
        "version": "0",
        "id": "80ddd249-dedf-7c4d-0708-0eb78132dd78",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2026-11-20T10:20:04Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{MEMORY_ALARM}"],
        "detail": {
            "alarmName": MEMORY_ALARM,
            "state": {
                "value": "ALARM",
                "reason": f"{in_alarm} out of {total} time series evaluated to ALARM",
                "timestamp": "2026-11-20T10:20:04.919+0000",
            },
            "previousState": {"value": "OK", "reason": "", "timestamp": "2026-11-20T09:00:00.000+0000"},
            "configuration": {"metrics": [{"id": "m1", "expression": QUERY, "returnData": True, "period": 60}]},
        },
    }


def metric_results(values: dict[str, dict[str, float]]) -> dict[str, Any]:
    """A GetMetricData answer for GROUP BY InstanceId queries: one series per instance, labelled by its id."""
    stamp = datetime(2026, 11, 20, 10, 19, tzinfo=UTC)
    return {
        "MetricDataResults": [
            {"Id": qid, "Label": iid, "Timestamps": [stamp], "Values": [value], "StatusCode": "Complete"}
            for qid, series in values.items()
            for iid, value in series.items()
        ]
    }


@pytest.fixture
def metrics_api(runtime_: Any, monkeypatch: pytest.MonkeyPatch, world: World) -> list[dict[str, Any]]:
    """GetMetricData answered from fixed values (moto cannot run Metrics Insights queries)."""
    calls: list[dict[str, Any]] = []
    web1, web2, web3 = (world.instances[n] for n in ("web-1", "web-2", "web-3"))

    def get_metric_data(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        ids = {q["Id"] for q in kwargs["MetricDataQueries"]}
        data = {
            "mem": {web1: 93.24, web2: 91.0, web3: 40.0},
            "swap": {web1: 41.0, web2: 0.0, web3: 0.0},
            "q": {web1: 93.24, web2: 91.0, web3: 40.0},
        }
        return metric_results({k: v for k, v in data.items() if k in ids})

    monkeypatch.setattr(runtime_.clients.cloudwatch, "get_metric_data", get_metric_data)
    return calls


def denied(op: str) -> Any:
    def call(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, op)

    return call


def test_contributor_alarm_names_the_instance_with_usage_and_last_kill(
    world: World, invoke_oom: Invoke, invoke_alarm: Invoke, metrics_api: list[dict[str, Any]], clock: Clock
) -> None:
    # GIVEN web-1 had an OOM kill earlier, then its memory contributor goes to ALARM
    clock.now = FIXED_MS / 1000
    lines = corpus_lines("01_")
    invoke_oom(payload(world.instances["web-1"], log_events(lines, FIXED_MS - len(lines))))
    clock.advance(300)

    # WHEN the contributor state change arrives
    result = invoke_alarm(contributor_event(world.instances["web-1"]))

    # THEN one readable notice: name, type, RAM, memory and swap use, last kill
    assert result["sent"] == 1
    notice = world.sent()[-1]
    assert notice.doc["type"] == "memory_alarm"
    assert notice.subject == f"[memory ALARM] web-1 ({world.instances['web-1']}) at 93%"
    assert "memory used 93%, swap used 41%" in notice.text
    assert "last OOM kill: mysqld (pid 6576, 20,146 MiB)" in notice.text
    # (the kill's own call, its memory history, is the OOM function's: the notice's calls follow it)
    notice_calls = [c for c in metrics_api if c["MetricDataQueries"][0]["Id"] != "history"]
    assert notice_calls[0]["MetricDataQueries"][0]["Expression"].startswith(
        'SELECT MAX(mem_used_percent) FROM "CWAgent"'
    )
    snapshot("memory_alarm_contributor.txt", rendered(notice, world))


def test_alarm_level_event_finds_the_instances_and_later_contributor_events_do_not_repeat_them(
    world: World,
    invoke_alarm: Invoke,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN DescribeAlarmContributors is not granted, so the alarm's own query ranks the instances
    monkeypatch.setattr(runtime_.clients.cloudwatch, "describe_alarm_contributors", denied("DescribeAlarmContributors"))

    # WHEN the alarm-level event (2 of 3 series in ALARM) arrives, then web-1's contributor event
    first = invoke_alarm(alarm_event(2, 3))
    second = invoke_alarm(contributor_event(world.instances["web-1"]))

    # THEN one notice names the two highest instances, and the contributor event adds nothing
    assert first["instances"] == [world.instances["web-1"], world.instances["web-2"]]
    assert second == {"sent": 0, "ignored": "instances already notified"}
    [notice] = world.sent()
    assert notice.subject == f"[memory ALARM] web-1 ({world.instances['web-1']}) +1 more at 93%"
    assert "DescribeAlarmContributors failed (AccessDenied)" in notice.text
    assert metrics_api[0]["MetricDataQueries"][0]["Expression"] == QUERY


def test_alarm_level_event_uses_describe_alarm_contributors_when_allowed(
    world: World,
    invoke_alarm: Invoke,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN DescribeAlarmContributors lists web-3 (whatever the query says)
    web3 = world.instances["web-3"]

    def contributors(**kwargs: Any) -> dict[str, Any]:
        assert kwargs["AlarmName"] == MEMORY_ALARM
        return {"AlarmContributors": [{"ContributorId": "abc", "ContributorAttributes": {"InstanceId": web3},
                                       "StateReason": "Threshold Crossed"}]}  # fmt: skip

    monkeypatch.setattr(runtime_.clients.cloudwatch, "describe_alarm_contributors", contributors)

    # WHEN the alarm-level event arrives
    result = invoke_alarm(alarm_event(1, 3))

    # THEN the notice names exactly that instance
    assert result["instances"] == [web3]
    assert world.sent()[0].subject.startswith("[memory ALARM] web-3")


def old_sdk_cloudwatch(tmp_path: Path) -> Any:
    """A real boto3 CloudWatch client from an SDK that predates DescribeAlarmContributors.

    botocore's own service model with that one operation removed, loaded the way botocore loads any
    model (a data path searched first), as a Lambda runtime's bundled botocore < 1.40.27 would have it.
    """
    import botocore
    import botocore.session

    model_dir = Path(botocore.__file__).parent / "data" / "cloudwatch" / "2010-08-01"
    model = json.loads(gzip.decompress((model_dir / "service-2.json.gz").read_bytes()))
    del model["operations"]["DescribeAlarmContributors"]
    target = tmp_path / "cloudwatch" / "2010-08-01"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    return session.create_client("cloudwatch", region_name=REGION)


def test_alarm_level_event_with_an_sdk_without_describe_alarm_contributors_still_sends_the_notice(
    world: World,
    invoke_alarm: Invoke,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    # GIVEN the runtime's AWS SDK has no DescribeAlarmContributors (calling it would be an AttributeError)
    old = old_sdk_cloudwatch(tmp_path)
    assert not hasattr(old, "describe_alarm_contributors")
    old.get_metric_data = runtime_.clients.cloudwatch.get_metric_data  # the fixed query answers
    runtime_.clients._clients["cloudwatch"] = old

    # WHEN the alarm-level event (2 of 3 series in ALARM) arrives
    result = invoke_alarm(alarm_event(2, 3))

    # THEN the notice is sent, from the alarm's own query, and says why
    assert result["instances"] == [world.instances["web-1"], world.instances["web-2"]]
    [notice] = world.sent()
    assert notice.subject == f"[memory ALARM] web-1 ({world.instances['web-1']}) +1 more at 93%"
    assert "DescribeAlarmContributors is not in this runtime's AWS SDK" in flat(notice.text)
    assert "botocore 1.40.27 or later" in flat(notice.text)
    assert metrics_api[0]["MetricDataQueries"][0]["Expression"] == QUERY


def test_malformed_contributors_are_skipped_not_fatal(
    world: World,
    invoke_alarm: Invoke,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a contributors page whose entries are partly not what the API reference describes
    web2 = world.instances["web-2"]

    def contributors(**_: Any) -> dict[str, Any]:
        entries: list[Any] = ["junk", {"ContributorAttributes": None}, {"ContributorAttributes": {"InstanceId": 7}}]
        return {"AlarmContributors": [*entries, {"ContributorAttributes": {"InstanceId": web2}}]}

    monkeypatch.setattr(runtime_.clients.cloudwatch, "describe_alarm_contributors", contributors)

    # WHEN the alarm-level event arrives
    result = invoke_alarm(alarm_event(1, 3))

    # THEN the one well-formed contributor is named
    assert result["instances"] == [web2]


def test_ok_transitions_and_other_alarms_are_ignored(world: World, invoke_alarm: Invoke) -> None:
    # GIVEN a contributor back to OK, and an alarm that is not one of the fleet alarms
    web1 = world.instances["web-1"]

    # WHEN they arrive
    ok = invoke_alarm(contributor_event(web1, state="OK"))
    other = invoke_alarm(contributor_event(web1, alarm="someone-elses-alarm"))

    # THEN nothing is sent
    assert ok["sent"] == 0 and other["sent"] == 0
    assert world.sent() == []


def test_metrics_failure_degrades_the_notice(
    world: World, invoke_alarm: Invoke, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN GetMetricData is denied
    monkeypatch.setattr(runtime_.clients.cloudwatch, "get_metric_data", denied("GetMetricData"))

    # WHEN a contributor goes to ALARM
    invoke_alarm(contributor_event(world.instances["web-2"]))

    # THEN the notice names the instance and says the figures are missing
    [notice] = world.sent()
    assert notice.subject == f"[memory ALARM] web-2 ({world.instances['web-2']})"
    assert "memory used ?, swap used ?" in notice.text
    assert "cloudwatch:GetMetricData failed (AccessDenied)" in flat(notice.text)


def test_notice_publish_failure_raises(
    world: World,
    invoke_alarm: Invoke,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN SNS is down
    monkeypatch.setattr(runtime_.clients.sns, "publish", denied("Publish"))

    # WHEN a contributor goes to ALARM
    # THEN the invocation fails (EventBridge retries it, then its DLQ keeps the event)
    with pytest.raises(PublishFailed):
        invoke_alarm(contributor_event(world.instances["web-1"]))


def test_notice_whose_publish_failed_is_sent_by_the_retry(
    world: World,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import service.handlers.alarm_notice
    from handler_kit import FakeContext

    # GIVEN SNS fails on the first attempt
    real = runtime_.clients.sns.publish
    monkeypatch.setattr(runtime_.clients.sns, "publish", denied("Publish"))
    event = contributor_event(world.instances["web-1"])
    with pytest.raises(PublishFailed):
        service.handlers.alarm_notice.handler(event, FakeContext("req-alarm"))

    # WHEN the retry runs a minute later with SNS back (same request id, as Lambda's retry has),
    # and a later, distinct delivery of the same event
    monkeypatch.setattr(runtime_.clients.sns, "publish", real)
    clock.advance(60)
    result = service.handlers.alarm_notice.handler(event, FakeContext("req-alarm"))
    clock.advance(600)
    again = service.handlers.alarm_notice.handler(event, FakeContext("req-other"))

    # THEN the retry sends the notice (the failed attempt did not mark the instance notified), once
    assert result["sent"] == 1
    assert again["sent"] == 0
    assert len(world.sent()) == 1


def test_notice_retried_by_another_request_after_a_failed_publish(
    world: World,
    runtime_: Any,
    metrics_api: list[dict[str, Any]],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import service.handlers.alarm_notice
    from handler_kit import FakeContext

    # GIVEN SNS failed for the alarm-level event; then the contributor event (another request) arrives
    real = runtime_.clients.sns.publish
    monkeypatch.setattr(runtime_.clients.sns, "publish", denied("Publish"))
    event = contributor_event(world.instances["web-1"])
    with pytest.raises(PublishFailed):
        service.handlers.alarm_notice.handler(event, FakeContext("req-a"))
    monkeypatch.setattr(runtime_.clients.sns, "publish", real)

    # THEN that one sends the notice: the failed attempt released its claim
    assert service.handlers.alarm_notice.handler(event, FakeContext("req-b"))["sent"] == 1
