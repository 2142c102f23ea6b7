"""The emulator refuses what AWS refuses (demo/aws_rules.py), and the handlers stay within the rules.

Each rule: a violating call through boto3 and moto fails with AWS's error code, and the call just inside
the limit passes (so the test shows the rule, not a broken call). Then the handlers under the rules:
alarm notices (one Metrics Insights query per call), throttled reads, hostile names in subjects, a stash of
4-byte characters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import (
    ACCOUNT,
    REGION,
    SYSLOG_GROUP,
    TABLE,
    Invoke,
    LogCapture,
    LogEvent,
    World,
    client,
    corpus_lines,
    event_id,
    flat,
    log_events,
    only_filter_lines,
    payload,
    php_report,
    put_stream,
)

from demo import aws_rules

REPO = Path(__file__).resolve().parents[2]


def refused(call: Callable[[], Any], code: str, message: str | None = None) -> str:
    """Run a call that must fail with AWS error ``code`` (and a message matching ``message``)."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == code, error
    if message is not None:
        assert re.search(message, error.get("Message", "")), error
    return str(error.get("Message", ""))


def recent_ms() -> int:
    return int(time.time() * 1000) - 120_000


@pytest.fixture
def frozen() -> Iterator[list[float]]:
    """The rules' throttling clock, frozen (advance it by adding to [0])."""
    now = [1000.0]
    saved = aws_rules.clock
    aws_rules.clock = lambda: now[0]
    aws_rules.reset()
    yield now
    aws_rules.clock = saved
    aws_rules.reset()


# --------------------------------------------------------------------------------------------- the table


def test_every_rule_is_documented_with_its_source() -> None:
    # GIVEN the module's rules and docs/demo.md
    doc = (REPO / "docs" / "demo.md").read_text(encoding="utf-8")
    section = doc.split("## AWS rules the emulator enforces", 1)[1].split("\n## ", 1)[0]
    module_doc = aws_rules.__doc__ or ""

    # THEN each rule appears, with its source page, in both tables
    for rule in aws_rules.RULES:
        assert f"| {rule.id} |" in section, rule.id
        assert rule.source in section, rule.id
        assert rule.id in module_doc and rule.source in module_doc, rule.id


# --------------------------------------------------------------------------------------------- CloudWatch


def _insights(qid: str, metric: str) -> dict[str, Any]:
    return {"Id": qid, "Expression": f'SELECT MAX({metric}) FROM "CWAgent" GROUP BY InstanceId', "Period": 60}


def _window() -> dict[str, Any]:
    end = datetime.now(UTC)
    return {"StartTime": end - timedelta(minutes=10), "EndTime": end}


def test_get_metric_data_takes_one_metrics_insights_query(world: World) -> None:
    cw = client("cloudwatch")
    stat = {
        "Id": "cpu",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization"},
            "Period": 60,
            "Stat": "Average",
        },
    }
    # WHEN two Metrics Insights queries share a call: refused as AWS refuses it
    refused(
        lambda: cw.get_metric_data(
            MetricDataQueries=[_insights("mem", "mem_used_percent"), _insights("swap", "swap_used_percent")],
            **_window(),
        ),
        "ValidationError",
        r"^Maximum number of queries \(1\) exceeded$",
    )
    # AND one query with other metrics in the same call is allowed ("can also retrieve other metrics")
    cw.get_metric_data(MetricDataQueries=[_insights("mem", "mem_used_percent"), stat], **_window())
    # AND metric math is not a Metrics Insights query
    assert not aws_rules.is_insights({"Expression": "m1 * 100"})


def test_get_metric_data_takes_at_most_500_queries(world: World) -> None:
    cw = client("cloudwatch")

    def queries(n: int) -> list[dict[str, Any]]:
        return [
            {
                "Id": f"m{i}",
                "MetricStat": {
                    "Metric": {"Namespace": "CWAgent", "MetricName": "mem_used_percent"},
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
            for i in range(n)
        ]

    refused(lambda: cw.get_metric_data(MetricDataQueries=queries(501), **_window()), "ValidationError", "500")
    cw.get_metric_data(MetricDataQueries=queries(500), **_window())


def test_get_metric_data_takes_expressions_of_at_most_2048_characters(world: World) -> None:
    cw = client("cloudwatch")

    def search(length: int) -> list[dict[str, Any]]:
        head = "SEARCH('{CWAgent,InstanceId,host} InstanceId=\""
        tail = "\"', 'Maximum', 60)"
        return [{"Id": "h", "Expression": head + "x" * (length - len(head) - len(tail)) + tail}]

    # WHEN an expression is one character over AWS's maximum: refused as AWS refuses it
    refused(
        lambda: cw.get_metric_data(MetricDataQueries=search(2049), **_window()),
        "ValidationError",
        r"metricDataQueries\.1\.member\.expression.*less than or equal to 2048",
    )
    # AND at the maximum it is allowed
    cw.get_metric_data(MetricDataQueries=search(2048), **_window())


def test_the_demo_server_applies_the_rules_over_its_own_patches() -> None:
    # GIVEN the demo's moto_server module, imported in a fresh interpreter (it patches moto for good)
    import subprocess
    import sys

    script = """
import sys
sys.path.insert(0, "demo")
import _moto_launcher  # noqa: F401  (patches moto as the demo server runs it)
from moto.cloudwatch.exceptions import ValidationError
from moto.ssm.exceptions import ValidationException
from moto.ssm.models import SimpleSystemManagerBackend
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
assert getattr(SimpleSystemManagerBackend.put_parameter, "__wrapped__", None) is not None, "ssm-1 not installed"
backend = SimpleSystemManagerBackend("123456789012", "eu-west-1")
try:
    backend.put_parameter("AmazonCloudWatch-x", "", "x" * 4097, "String", None, None, False, [], "text", "Standard",
                          None)
except ValidationException:
    pass
else:
    raise SystemExit("ssm-1 did not refuse a 4,097-byte standard parameter")
# the launcher's PutParameter patch still runs under the rule: a public Powertools name is allowed
backend.put_parameter("/aws/service/powertools/python/arm64/python3.13/3.23.0", "", "arn", "String", None, None,
                      False, [], "text", "Standard", None)
assert getattr(CloudWatchResponse.get_metric_data, "__wrapped__", None) is not None, "cw rules not installed"
assert CloudWatchBackend.get_metric_data.__name__ == "get_metric_data"  # metric_search on top of Insights
print("ok")
"""
    # WHEN it runs, THEN each rule still refuses and the launcher's own additions still work
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# --------------------------------------------------------------------------------------------- CloudWatch Logs


def test_filter_log_events_is_throttled_past_5_per_second(world: World, frozen: list[float]) -> None:
    logs = client("logs")

    def read() -> Any:
        return logs.filter_log_events(logGroupName=SYSLOG_GROUP)

    # GIVEN a frozen clock: five reads in the same second pass
    for _ in range(5):
        read()
    # WHEN a sixth comes in that second: throttled
    refused(read, "ThrottlingException", "^Rate exceeded$")
    # AND a fifth of a second later one more token has come back, and only one
    frozen[0] += 0.2
    read()
    refused(read, "ThrottlingException")


def test_a_throttled_context_read_is_retried_and_the_report_completed(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN the account's FilterLogEvents quota spent this second by other callers (real clock)
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())
    put_stream(iid, events)
    aws_rules.reset()
    while aws_rules.take_filter_log_events_token(ACCOUNT, REGION):
        pass

    # WHEN only the marker lines arrive and the handler reads the rest of the report back
    invoke_oom(payload(iid, only_filter_lines(events)))

    # THEN the throttled read was retried with back-off until the quota refilled: the report is complete
    [event] = logs.events()
    assert event["context"] == "fetched"
    assert event["complete"] is True and event["task_count"] == 85
    [sent] = world.sent()
    assert "TOP MEMORY USERS (task table, 85 tasks)" in sent.text


def test_a_read_quota_that_stays_spent_leaves_the_alert_on_time(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, frozen: list[float]
) -> None:
    # GIVEN the quota spent, on a clock that never refills it (a fleet-wide storm of readers)
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())
    put_stream(iid, events)
    while aws_rules.take_filter_log_events_token(ACCOUNT, REGION):
        pass

    # WHEN only the marker lines arrive
    started = time.monotonic()
    invoke_oom(payload(iid, only_filter_lines(events)))

    # THEN the alert goes out within the fetch's time budget and says why the context is missing
    assert time.monotonic() - started < runtime_.settings.context_budget_s + 1.0
    [sent] = world.sent()
    assert "the account's read quota (5 requests per second, shared" in sent.text
    assert logs.events()[0]["context"] == "failed"


def test_a_log_group_takes_two_subscription_filters(world: World) -> None:
    # GIVEN a Kinesis destination (moto checks that a destination exists)
    arn = client("kinesis").create_stream(StreamName="sink", ShardCount=1) or None
    arn = client("kinesis").describe_stream(StreamName="sink")["StreamDescription"]["StreamARN"]
    logs = client("logs")
    role = f"arn:aws:iam::{ACCOUNT}:role/cwl-to-kinesis"

    def put(name: str, pattern: str = "") -> Any:
        return logs.put_subscription_filter(
            logGroupName=SYSLOG_GROUP, filterName=name, filterPattern=pattern, destinationArn=arn, roleArn=role
        )

    # WHEN two filters exist, a third is refused
    put("team-a")
    put("team-b")
    refused(lambda: put("oomwatch-oom"), "LimitExceededException", r"^Resource limit exceeded\.$")
    # AND one of the two can still be updated by name (AWS allows it; moto alone refuses it)
    put("team-b", '"ERROR"')
    filters = logs.describe_subscription_filters(logGroupName=SYSLOG_GROUP)["subscriptionFilters"]
    assert {f["filterName"]: f["filterPattern"] for f in filters} == {"team-a": "", "team-b": '"ERROR"'}


def test_put_log_events_batch_rules(world: World) -> None:
    logs = client("logs")
    logs.create_log_stream(logGroupName=SYSLOG_GROUP, logStreamName="i-1")
    now = recent_ms()

    def put(events: list[dict[str, Any]]) -> Any:
        return logs.put_log_events(logGroupName=SYSLOG_GROUP, logStreamName="i-1", logEvents=events)

    refused(
        lambda: put([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]),
        "InvalidParameterException",
        "chronological order",
    )
    refused(
        lambda: put([{"timestamp": now, "message": "x"}] * 10_001),
        "InvalidParameterException",
        "less than or equal to 10000",
    )
    # 1,048,576 bytes = messages in UTF-8 + 26 bytes per event: 4 events of 262,118 bytes fit, one more byte not
    fits = [{"timestamp": now, "message": "é" * 131_059}] * 4
    refused(
        lambda: put([*fits[:3], {"timestamp": now, "message": "é" * 131_059 + "x"}]),
        "InvalidParameterException",
        "^Upload too large",
    )
    put(fits)


# --------------------------------------------------------------------------------------------- SNS


@pytest.mark.parametrize(
    "subject",
    [
        "x" * 100,  # "less than 100 characters"
        "",  # empty
        " starts with a space",
        "two\nlines",
        "tab\there",
        "bell\x07",
        "mysqld killed on caf\u00e9-1",  # not ASCII
        "\u2028line separator",
    ],
    ids=["100-chars", "empty", "leading-space", "newline", "tab", "control", "non-ascii", "u2028"],
)
def test_sns_refuses_subjects_aws_refuses(world: World, subject: str) -> None:
    sns = client("sns")
    refused(
        lambda: sns.publish(TopicArn=world.topic_arn, Message="m", Subject=subject),
        "InvalidParameter",
        r"^Invalid parameter: Subject$",
    )


def test_sns_takes_a_99_character_ascii_subject(world: World) -> None:
    sns = client("sns")
    sns.publish(TopicArn=world.topic_arn, Message="m", Subject="[OOM] " + "x" * 93)
    sns.publish(TopicArn=world.topic_arn, Message="m", Subject="~punctuation first")
    assert [s.subject for s in _raw_sent(world)] == ["[OOM] " + "x" * 93, "~punctuation first"]


def _raw_sent(world: World) -> list[Any]:
    from moto.sns.models import sns_backends

    class Raw:
        def __init__(self, subject: str) -> None:
            self.subject = subject

    topic = sns_backends[ACCOUNT][REGION].topics[world.topic_arn]
    return [Raw(subject or "") for _mid, _message, subject, _attrs, _group in topic.sent_notifications]


def test_sns_message_and_attributes_count_against_256_kib(world: World) -> None:
    sns = client("sns")
    attrs = {"kind": {"DataType": "String", "StringValue": "oom_kill"}}  # 4 + 6 + 8 = 18 bytes
    # the body alone: 262,144 bytes pass, one more byte does not (UTF-8 bytes, not characters)
    sns.publish(TopicArn=world.topic_arn, Message="é" * 131_072)
    refused(
        lambda: sns.publish(TopicArn=world.topic_arn, Message="é" * 131_072 + "x"),
        "InvalidParameter",
        r"^Invalid parameter: Message too long$",
    )
    # the attributes count too
    sns.publish(TopicArn=world.topic_arn, Message="x" * (262_144 - 18), MessageAttributes=attrs)
    refused(
        lambda: sns.publish(TopicArn=world.topic_arn, Message="x" * (262_144 - 17), MessageAttributes=attrs),
        "InvalidParameter",
        "Message too long",
    )


@pytest.mark.parametrize(
    "attributes",
    [
        {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
        {"AWS.kind": {"DataType": "String", "StringValue": "v"}},
        {"amazon.kind": {"DataType": "String", "StringValue": "v"}},
        {"a..b": {"DataType": "String", "StringValue": "v"}},
        {".a": {"DataType": "String", "StringValue": "v"}},
        {"a b": {"DataType": "String", "StringValue": "v"}},
        {"a" * 257: {"DataType": "String", "StringValue": "v"}},
    ],
    ids=["11-attributes", "AWS.", "amazon.", "successive-periods", "leading-period", "space", "257-chars"],
)
def test_sns_refuses_attributes_aws_refuses(world: World, attributes: dict[str, Any]) -> None:
    sns = client("sns")
    refused(
        lambda: sns.publish(TopicArn=world.topic_arn, Message="m", MessageAttributes=attributes),
        "ParameterValueInvalid",
    )


def test_sns_takes_ten_well_named_attributes(world: World) -> None:
    attrs = {f"oom.kind-{i}_x": {"DataType": "String", "StringValue": "v"} for i in range(10)}
    client("sns").publish(TopicArn=world.topic_arn, Message="m", MessageAttributes=attrs)
    assert len(_raw_sent(world)) == 1


# --------------------------------------------------------------------------------------------- SSM


def test_standard_ssm_parameters_hold_4_kb(world: World) -> None:
    ssm = client("ssm")
    # 4,096 bytes pass; 4,097 bytes (counted in UTF-8) do not
    ssm.put_parameter(Name="AmazonCloudWatch-oomwatch", Type="String", Value="x" * 4096)
    message = refused(
        lambda: ssm.put_parameter(Name="AmazonCloudWatch-big", Type="String", Value="é" * 2048 + "x"),
        "ValidationException",
        "^Standard tier parameters support a maximum parameter value of 4096 characters",
    )
    assert "advanced-parameter tier" in message
    # the Advanced tier holds 8 KB
    ssm.put_parameter(Name="AmazonCloudWatch-advanced", Type="String", Value="x" * 8192, Tier="Advanced")
    refused(
        lambda: ssm.put_parameter(Name="AmazonCloudWatch-huge", Type="String", Value="x" * 8193, Tier="Advanced"),
        "ValidationException",
    )


# --------------------------------------------------------------------------------------------- DynamoDB


def test_dynamodb_numbers_have_at_most_38_significant_digits(world: World) -> None:
    ddb = client("dynamodb")
    big = "1" * 39
    # leading and trailing zeros do not count
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "ok"}, "n": {"N": "1" * 38}, "z": {"N": "1" + "0" * 60}})
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "ok2"}, "n": {"N": "0.000" + "9" * 38}})
    msg = r"^Attempting to store more than 38 significant digits in a Number$"
    refused(lambda: ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "n": {"N": big}}), "ValidationException", msg)
    refused(
        lambda: ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "m": {"M": {"l": {"L": [{"N": big}]}}}}),
        "ValidationException",
        msg,
    )
    refused(
        lambda: ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "ok"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": big}},
        ),
        "ValidationException",
        msg,
    )
    refused(
        lambda: ddb.batch_write_item(
            RequestItems={TABLE: [{"PutRequest": {"Item": {"pk": {"S": "b"}, "ns": {"NS": ["1", big]}}}}]}
        ),
        "ValidationException",
        msg,
    )
    refused(
        lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": TABLE, "Item": {"pk": {"S": "c"}, "n": {"N": "-" + big}}}}]
        ),
        "ValidationException",
        msg,
    )


def test_dynamodb_items_hold_400_kb(world: World) -> None:
    ddb = client("dynamodb")
    # GIVEN item sizes as DynamoDB counts them: names and values in UTF-8
    small = {"pk": {"S": "a"}, "body": {"S": "x" * 390_000}}
    big = {"pk": {"S": "b"}, "body": {"S": "é" * 205_000}}  # 410,000 bytes in 205,000 characters
    assert aws_rules.item_size(small) == 2 + 1 + 4 + 390_000
    assert aws_rules.item_size(big) > 409_600
    # THEN the first fits and the second is refused, by PutItem and by BatchWriteItem
    ddb.put_item(TableName=TABLE, Item=small)
    msg = "^Item size has exceeded the maximum allowed size$"
    refused(lambda: ddb.put_item(TableName=TABLE, Item=big), "ValidationException", msg)
    refused(
        lambda: ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": big}}]}), "ValidationException", msg
    )


def test_dynamodb_batch_sizes(world: World) -> None:
    ddb = client("dynamodb")

    def puts(n: int) -> list[dict[str, Any]]:
        return [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(n)]

    def transact(n: int) -> list[dict[str, Any]]:
        return [{"Put": {"TableName": TABLE, "Item": {"pk": {"S": f"t{i}"}}}} for i in range(n)]

    refused(lambda: ddb.batch_write_item(RequestItems={TABLE: puts(26)}), "ValidationException", "25")
    ddb.batch_write_item(RequestItems={TABLE: puts(25)})
    refused(lambda: ddb.transact_write_items(TransactItems=transact(101)), "ValidationException", "100")
    ddb.transact_write_items(TransactItems=transact(100))


# --------------------------------------------------------------------------------------------- the handlers


@pytest.fixture
def insights_backend(monkeypatch: pytest.MonkeyPatch, world: World) -> list[list[str]]:
    """moto's CloudWatch backend answering Metrics Insights GROUP BY InstanceId queries with fixed values.

    Behind moto's request handler, so the rules see the real call; returns the queries of each call.
    """
    from moto.cloudwatch.models import CloudWatchBackend

    web1, web2 = world.instances["web-1"], world.instances["web-2"]
    values = {"mem_used_percent": {web1: 93.24, web2: 91.0}, "swap_used_percent": {web1: 41.0, web2: 0.0}}
    calls: list[list[str]] = []

    def get_metric_data(
        self: Any, queries: list[dict[str, Any]], start_time: Any, end_time: Any, scan_by: str = ""
    ) -> Any:
        calls.append([q["Id"] for q in queries])
        out = []
        for q in queries:
            metric = re.search(r"MAX\((\w+)\)", q["Expression"]).group(1)  # type: ignore[union-attr]
            for iid, value in values[metric].items():
                out.append(
                    {
                        "id": q["Id"],
                        "label": iid,
                        "values": [value],
                        "timestamps": [end_time],
                        "status_code": "Complete",
                    }
                )
        return out

    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", get_metric_data)
    return calls


def _contributor_event(world: World, name: str = "web-1") -> dict[str, Any]:
    iid = world.instances[name]
    return {
        "version": "0",
        "id": "c0ffee00-0000-0000-0000-000000000001",
        "detail-type": "CloudWatch Alarm Contributor State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2026-11-20T10:20:04Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:oomwatch-fleet-memory"],
        "detail": {
            "alarmName": "oomwatch-fleet-memory",
            "alarmContributor": {"id": "c1", "attributes": {"InstanceId": iid}},
            "state": {"value": "ALARM", "reason": "threshold crossed", "timestamp": "2026-11-20T10:20:04.919+0000"},
            "previousState": {"value": "OK", "reason": "", "timestamp": "2026-11-20T09:00:00.000+0000"},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "expression": 'SELECT MAX(mem_used_percent) FROM "CWAgent" GROUP BY InstanceId',
                        "returnData": True,
                        "period": 60,
                    }
                ]
            },
        },
    }


def test_alarm_notice_reads_memory_and_swap_one_query_per_call(
    world: World, invoke_alarm: Invoke, insights_backend: list[list[str]]
) -> None:
    # GIVEN web-1's memory contributor goes to ALARM, and CloudWatch holds its memory and swap use
    # WHEN the notice is built under AWS's rules (one Metrics Insights query per GetMetricData)
    invoke_alarm(_contributor_event(world))

    # THEN memory and swap were read in two calls of one query each, and the notice shows both
    assert insights_backend == [["mem"], ["swap"]]
    [notice] = world.sent()
    assert "memory used 93%, swap used 41%" in notice.text
    assert "GetMetricData failed" not in notice.text


def test_alarm_notice_keeps_memory_when_only_the_swap_read_fails(
    world: World, invoke_alarm: Invoke, insights_backend: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.cloudwatch.exceptions import InvalidParameterValue
    from moto.cloudwatch.models import CloudWatchBackend

    answer = CloudWatchBackend.get_metric_data

    def swap_fails(self: Any, queries: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        if "swap_used_percent" in queries[0]["Expression"]:
            raise InvalidParameterValue("swap is broken")
        return answer(self, queries, *args, **kwargs)

    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", swap_fails)
    invoke_alarm(_contributor_event(world))

    [notice] = world.sent()
    assert "memory used 93%, swap used ?" in notice.text
    assert "Current swap use left out: cloudwatch:GetMetricData failed (InvalidParameterValue)." in flat(notice.text)


HOSTILE = {
    "non-ascii comm": "caf\u00e9-\u65e5\u672c-\U0001f600",
    "newline in comm": "evil\nSubject: spoofed",
    "300-char comm": "p" * 300,
    "control chars": "\x07\x1b[2Jbell",
    "leading space": "   spaced",
}


@pytest.mark.parametrize("comm", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_process_names_give_subjects_sns_accepts(
    comm: str, world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN a complete report whose victim's name is whatever a local user wrote into syslog, and an
    # instance Name tag of 300 characters with a line break
    iid = world.instances["web-1"]
    client("ec2").create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": "web\n" + "w" * 296}])
    lines = [line.replace("php-fpm8.1", comm) for line in php_report("web-1", 4242, 600_000, 5000.0)]
    start = recent_ms()
    events = [LogEvent(event_id(start + i, i), start + i, line) for i, line in enumerate(lines)]

    # WHEN the handler runs (SNS here refuses what AWS refuses)
    result = invoke_oom(payload(iid, events))

    # THEN the alert is published, with a subject within SNS's rules
    assert result["kills"] == 1
    [sent] = world.sent()
    assert aws_rules.check_subject(sent.subject) is None, sent.subject
    assert sent.subject.isascii() and len(sent.subject) < 100 and "\n" not in sent.subject


def test_hostile_instance_name_gives_an_alarm_subject_sns_accepts(
    world: World, invoke_alarm: Invoke, insights_backend: list[list[str]]
) -> None:
    iid = world.instances["web-1"]
    client("ec2").create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": " \u00e9\n" + "n" * 300}])
    invoke_alarm(_contributor_event(world))
    [notice] = world.sent()
    assert aws_rules.check_subject(notice.subject) is None, notice.subject


def test_a_stash_of_four_byte_characters_fits_in_one_item(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture
) -> None:
    # GIVEN log_mode=oom, and a delivery ending in an unfinished report whose lines a local user filled with
    # 4-byte characters (200,000 characters of them would be 800 KB: twice DynamoDB's item limit)
    runtime_.settings = runtime_.settings._replace(log_mode="oom", syslog_group=SYSLOG_GROUP)
    iid = world.instances["db-1"]
    report = php_report("db-1", 4242, 600_000, 5000.0)
    header, rest = report[0], report[1:-1]  # no kill line yet
    emoji = "\U0001f600" * 2000
    filler = [f"Nov 26 10:00:00 db-1 kernel: [5000.000000] {emoji}" for _ in range(100)]
    start = recent_ms()
    lines = [header, *filler, *rest]
    events = [LogEvent(event_id(start + i, i), start + i, line) for i, line in enumerate(lines)]

    # WHEN it is delivered
    invoke_oom(payload(iid, events))

    # THEN the unfinished report was kept (DynamoDB accepted the item) and is within 400 KB
    items = client("dynamodb").scan(TableName=TABLE)["Items"]
    [stash] = [i for i in items if i["pk"]["S"].startswith("stash#")]
    assert aws_rules.item_size(stash) <= 409_600
    assert not [r for r in logs.records() if "stash" in str(r.get("message", "")) and r.get("level") == "WARNING"]
    rows = stash["rows"]["L"]
    assert rows[0]["M"]["m"]["S"] == header
    assert 10 <= len(rows) < len(lines)  # capped by bytes, not characters


# --------------------------------------------------------------------------------------------- EventBridge


def _entry(detail: str = '{"a":1}') -> dict[str, Any]:
    return {"Source": "oomwatch", "DetailType": "OOM Kill", "Detail": detail, "EventBusName": "default"}


def test_put_events_takes_1_to_10_entries(world: World) -> None:
    events = client("events")
    # THEN 10 entries go in, 11 and none are refused (eb-1)
    assert events.put_events(Entries=[_entry()] * 10)["FailedEntryCount"] == 0
    refused(lambda: events.put_events(Entries=[_entry()] * 11), "ValidationException", "less than or equal to 10")
    # (the SDK refuses an empty list before sending it; the rule answers a raw request as AWS would)
    assert "greater than or equal to 1" in str(aws_rules.check_put_events([]))


def test_put_events_entries_total_less_than_256_kb(world: World) -> None:
    events = client("events")
    overhead = len("oomwatch") + len("OOM Kill") + len('{"a":""}')
    # GIVEN entries whose sizes, as EventBridge counts them, total one byte under 256 KB, then exactly 256 KB
    under = [_entry('{"a":"' + "x" * (131_071 - overhead) + '"}'), _entry('{"a":"' + "y" * (131_072 - overhead) + '"}')]
    assert sum(aws_rules.put_events_entry_size(e) for e in under) == aws_rules.EVENTS_REQUEST_BYTES - 1
    over = [under[0], _entry('{"a":"' + "y" * (131_073 - overhead) + '"}')]
    # THEN the first is put, the second refused as a whole (eb-2); a four-byte character counts four
    assert events.put_events(Entries=under)["FailedEntryCount"] == 0
    refused(lambda: events.put_events(Entries=over), "ValidationException", "Total size of the entries")
    wide = [_entry('{"a":"' + "\U0001f600" * 65_536 + '"}')]
    refused(lambda: events.put_events(Entries=wide), "ValidationException", "Total size of the entries")


def test_put_events_detail_must_be_a_json_object(world: World) -> None:
    events = client("events")
    # WHEN an object, an array, a number and text that is no JSON are put together
    result = events.put_events(Entries=[_entry(), _entry("[1, 2]"), _entry("3"), _entry("{not json")])
    # THEN only the object is taken; the others fail one by one with MalformedDetail (eb-3)
    assert result["FailedEntryCount"] == 3
    assert "EventId" in result["Entries"][0]
    assert [e.get("ErrorCode") for e in result["Entries"][1:]] == ["MalformedDetail"] * 3


# --------------------------------------------------------------------------------------------- the demo


@pytest.mark.slow
def test_the_demos_moto_server_enforces_the_rules(tmp_path: Path) -> None:
    from demo import emulator

    # GIVEN the demo's moto_server (its own process, started as the demo starts it)
    server = emulator.start(tmp_path)
    try:
        import boto3
        from botocore.config import Config

        def raw(service: str) -> Any:  # no SDK retries: the test sees each answer
            return boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            ).client(service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))

        cw, sns, logs, events = raw("cloudwatch"), raw("sns"), raw("logs"), raw("events")
        topic = sns.create_topic(Name="t")["TopicArn"]
        logs.create_log_group(logGroupName="g")
        # THEN it refuses two Metrics Insights queries in one call, a subject SNS refuses, and a burst of reads
        refused(
            lambda: cw.get_metric_data(
                MetricDataQueries=[_insights("mem", "mem_used_percent"), _insights("swap", "swap_used_percent")],
                **_window(),
            ),
            "ValidationError",
            r"Maximum number of queries \(1\) exceeded",
        )
        refused(lambda: sns.publish(TopicArn=topic, Message="m", Subject="two\nlines"), "InvalidParameter")
        # EventBridge: a Detail that is no JSON object, and a request of 256 KB or more
        malformed = events.put_events(Entries=[_entry("[1]")])
        assert malformed["Entries"][0].get("ErrorCode") == "MalformedDetail", malformed
        refused(
            lambda: events.put_events(Entries=[_entry('{"a":"' + "x" * 140_000 + '"}')] * 2),
            "ValidationException",
            "Total size of the entries",
        )
        from concurrent.futures import ThreadPoolExecutor

        def read(_: int) -> str:
            try:
                logs.filter_log_events(logGroupName="g")
                return "ok"
            except ClientError as exc:
                return str(exc.response["Error"]["Code"])

        with ThreadPoolExecutor(max_workers=20) as pool:  # 20 reads at once: more than a second's quota
            codes = list(pool.map(read, range(20)))
        assert codes.count("ok") >= 5 and "ThrottlingException" in codes, codes
    finally:
        server.stop()
