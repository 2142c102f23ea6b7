"""Degraded mode: each AWS dependency failing in turn. Enrichment, context and state failures cost
their part of the alert and say so; a publish failure fails the invocation (retry, then DLQ)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from handler_kit import FIXED_MS, Clock, Invoke, LogCapture, World, client, corpus_lines, flat, log_events, payload
from service.logic.ports import PublishFailed


def client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, op)


def report(world: World, name: str = "db-1") -> dict[str, Any]:
    lines = corpus_lines("01_")
    return payload(world.instances[name], log_events(lines, FIXED_MS - len(lines)))


def failing(exc: BaseException) -> Any:
    def call(*_a: Any, **_k: Any) -> Any:
        raise exc

    return call


def test_describe_instances_throttled_leaves_instance_out(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN DescribeInstances is throttled
    monkeypatch.setattr(
        runtime_.clients.ec2, "describe_instances", failing(client_error("RequestLimitExceeded", "DescribeInstances"))
    )

    # WHEN a kill arrives
    invoke_oom(report(world))

    # THEN the alert goes out with what the log says, and says what is missing and why
    [sent] = world.sent()
    iid = world.instances["db-1"]
    assert sent.subject == f"[OOM critical] mysqld killed on {iid} 19.7 GiB"
    assert "Instance details left out: ec2:DescribeInstances failed (RequestLimitExceeded)." in flat(sent.text)
    assert "Type:" not in flat(sent.text)
    [event] = logs.events()
    assert event["instance"] == {"id": iid}
    assert any("RequestLimitExceeded" in n for n in event["notes"])


def test_describe_instance_types_denied_leaves_ram_out(
    world: World, invoke_oom: Invoke, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the role may not call DescribeInstanceTypes
    monkeypatch.setattr(
        runtime_.clients.ec2,
        "describe_instance_types",
        failing(client_error("UnauthorizedOperation", "DescribeInstanceTypes")),
    )

    # WHEN a kill arrives
    invoke_oom(report(world))

    # THEN the host is named but no share of RAM is claimed
    [sent] = world.sent()
    assert "killed on db-1" in sent.subject and "RAM" not in sent.subject
    assert "RAM size left out: ec2:DescribeInstanceTypes failed (UnauthorizedOperation)." in flat(sent.text)
    assert "Host-wide OOM: right-size the instance type" in flat(sent.text)


def test_ec2_timeout_is_degraded_not_fatal(
    world: World, invoke_oom: Invoke, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN EC2 does not answer in time
    monkeypatch.setattr(runtime_.clients.ec2, "describe_instances", failing(ReadTimeoutError(endpoint_url="ec2")))

    # WHEN a kill arrives
    invoke_oom(report(world))

    # THEN the alert still goes out, naming the timeout
    assert "ec2:DescribeInstances failed (ReadTimeoutError)" in flat(world.sent()[0].text)


def test_enrichment_is_cached_across_invocations(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a counting wrapper around DescribeInstances
    calls: list[Any] = []
    real = runtime_.clients.ec2.describe_instances

    def counted(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(runtime_.clients.ec2, "describe_instances", counted)
    iid = world.instances["web-1"]
    line = (
        "Nov 26 10:00:00 web-1 kernel: [99.0] Memory cgroup out of memory: Killed process {pid} (worker) "
        "total-vm:1000kB, anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"
    )

    # WHEN two invocations from the same instance run within the cache TTL, and a third after it
    invoke_oom(payload(iid, log_events([line.format(pid=1)], FIXED_MS)))
    clock.advance(60)
    invoke_oom(payload(iid, log_events([line.format(pid=2)], FIXED_MS + 60_000, seq0=10)))
    clock.advance(600)
    invoke_oom(payload(iid, log_events([line.format(pid=3)], FIXED_MS + 660_000, seq0=20)))

    # THEN EC2 is asked once per TTL, with the id in a filter (so an unknown id cannot fail the batch)
    assert len(calls) == 2
    assert calls[0]["Filters"] == [{"Name": "instance-id", "Values": [iid]}]


def test_dynamodb_failure_still_alerts_from_memory(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN every DynamoDB write is throttled
    exc = client_error("ProvisionedThroughputExceededException", "TransactWriteItems")
    for op in ("transact_write_items", "update_item", "put_item", "get_item", "batch_write_item"):
        monkeypatch.setattr(runtime_.clients.dynamodb, op, failing(exc))

    # WHEN the same kill is delivered twice to this container
    invoke_oom(report(world))
    invoke_oom(report(world))

    # THEN one alert is sent and says noise control is running from memory; the event is written once
    [sent] = world.sent()
    assert "Noise control ran from this function's memory only: DynamoDB failed" in flat(sent.text)
    assert "(ProvisionedThroughputExceededException)" in flat(sent.text)
    [event] = logs.events()
    assert event["durable_state"] is False


def test_publish_failure_raises_and_the_retry_sends_the_same_alert_once(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SNS fails on the first attempt
    real_publish = runtime_.clients.sns.publish
    monkeypatch.setattr(runtime_.clients.sns, "publish", failing(client_error("InternalError", "Publish")))
    event = report(world)

    # WHEN the invocation runs, fails, and Lambda retries it once SNS is back
    with pytest.raises(PublishFailed, match="InternalError"):
        invoke_oom(event)
    monkeypatch.setattr(runtime_.clients.sns, "publish", real_publish)
    retry = invoke_oom(event)

    # THEN exactly one alert, as the first kill of its window; the event was written once
    assert retry["alerts"] == 1
    [sent] = world.sent()
    assert "Occurrence: 1st kill" in flat(sent.text)
    [logged] = logs.events()
    assert logged["occurrence"] == 1
    # AND the kill's claim is now done, so a further duplicate is dropped
    assert invoke_oom(event)["duplicates"] == 1
    items = client("dynamodb").scan(TableName="oomwatch-state")["Items"]
    [kill] = [i for i in items if i["pk"]["S"].startswith("kill#")]
    assert kill["status"]["S"] == "done" and kill["occurrence"]["N"] == "1"


def test_publish_failing_through_all_retries_keeps_the_payload_for_the_dlq(
    world: World, invoke_oom: Invoke, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SNS is down for the first invocation and both of Lambda's retries
    real_publish = runtime_.clients.sns.publish
    monkeypatch.setattr(runtime_.clients.sns, "publish", failing(client_error("KMSDisabledException", "Publish")))
    event = report(world)
    original = dict(event["awslogs"])

    # WHEN all three attempts run
    for _ in range(3):
        with pytest.raises(PublishFailed):
            invoke_oom(event)

    # THEN nothing was sent, the payload is untouched (the DLQ receives it as is), and
    # redriving it from the DLQ later sends the alert exactly once
    assert world.sent() == []
    assert event["awslogs"] == original
    monkeypatch.setattr(runtime_.clients.sns, "publish", real_publish)
    invoke_oom(event)
    invoke_oom(event)
    assert len(world.sent()) == 1
