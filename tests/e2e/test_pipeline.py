"""End to end on the local emulator: the real ``cdk deploy`` of app.py to moto_server, logs written into the
deployed syslog group, CloudWatch Logs delivery and Lambda emulated from the synthesized template, and what
comes out checked where a subscriber sees it (an SQS queue on the topic, the e-mail outbox) and in the events
log group. See docs/demo.md for what is real and what is emulated."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from demo.filterpattern import compile_pattern
from demo.pipeline import Demo

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "demo" / "samples"


CORPUS = REPO / "tests" / "corpus"


pytestmark = pytest.mark.slow

WEB = (SAMPLES / "web-1.ubuntu-22.04.syslog").read_text()
API = (SAMPLES / "api-1.al2023.agent-journald.jsonl").read_text()
LOOP = (SAMPLES / "worker-1.al2.oom-loop.messages").read_text()


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(str(m["attributes"].get("kind")) for m in messages)


# --- the deployment ------------------------------------------------------------------------------------------


def test_the_app_is_deployed_with_its_four_handlers(deployment: Demo) -> None:
    handlers = sorted(fn.handler for fn in deployment.functions.values())
    assert handlers == [
        "service.handlers.alarm_notice.handler",
        "service.handlers.association.handler",
        "service.handlers.digest.handler",
        "service.handlers.oom.handler",
    ]
    lam = deployment.aws.client("lambda")
    for fn in deployment.functions.values():
        config = lam.get_function_configuration(FunctionName=fn.name)
        assert config["Handler"] == fn.handler
        # Environment values are the physical resources moto created, not template tokens.
        assert fn.environment["TOPIC_ARN"] in deployment.topic_arns()
        assert not any("${Token" in value for value in fn.environment.values())
    # The code that runs is the zip `cdk deploy` published to the bootstrap bucket.
    oom = next(fn for fn in deployment.functions.values() if fn.handler == "service.handlers.oom.handler")
    assert (oom.asset_dir / "service" / "handlers" / "oom.py").is_file()
    assert (oom.asset_dir / "oomwatch" / "parser.py").is_file()


def test_the_alarms_and_the_email_subscription_exist_in_the_emulator(deployment: Demo) -> None:
    alarms = deployment.aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    memory = deployment.memory_alarm()
    assert memory is not None
    assert deployment.alarm_name(memory) in {a["AlarmName"] for a in alarms}
    subscriptions = deployment.aws.client("sns").list_subscriptions()["Subscriptions"]
    assert {(s["Protocol"], s["Endpoint"]) for s in subscriptions} >= {("email", "oncall@example.com")}


def test_only_the_subscription_filter_is_left_to_the_demo(deployment: Demo) -> None:
    skipped = {rtype for _, _, rtype in deployment.skipped}
    assert "AWS::Logs::SubscriptionFilter" in skipped
    assert "AWS::CloudWatch::Alarm" not in skipped  # created by the demo's moto launcher
    assert "AWS::SNS::Subscription" not in skipped
    assert "AWS::SSM::Association" not in skipped  # created by the demo's moto launcher (its AssociationId)
    assert "AWS::Lambda::Function" not in skipped


# --- kills through the log path ------------------------------------------------------------------------------


def test_a_php_fpm_kill_on_ubuntu_syslog_alerts_once_with_the_whole_report(deployment: Demo, seeded: Any) -> None:
    instance = seeded("web-1", "t3.medium", "shop-web")
    deliveries = deployment.play({instance: WEB})
    assert deliveries and all(d.ok for d in deliveries)

    messages = deployment.messages_for(instance)
    assert kinds(messages) == ["oom_kill"]
    alert = messages[0]
    assert alert["attributes"]["process"] == "php-fpm"
    assert alert["attributes"]["constraint"] == "global"
    assert "php-fpm" in alert["subject"] and instance in alert["subject"]
    doc = json.loads(alert["message"])  # what machine subscribers get (MessageStructure=json "default")
    assert doc["instance_id"] == instance

    events = deployment.events_for(instance)
    assert len(events) == 1
    event = events[0]
    assert event["victim"]["pid"] == 48213 and event["victim"]["uid"] == 33
    assert event["trigger"]["pid"] == 48217  # the CPU: line, fetched back from the stream
    assert event["cgroup"]["task_memcg"] == "/system.slice/php8.1-fpm.service"
    assert event["task_count"] == 29 and event["reaped"] is True
    assert "t3.medium" in json.dumps(event["instance"])  # enriched from the seeded EC2 instance


def test_the_alert_reads_as_an_email_to_the_subscribed_address(deployment: Demo, seeded: Any) -> None:
    instance = seeded("web-2", "t3.medium", "shop-web")
    deployment.play({instance: WEB})
    alert = deployment.messages_for(instance)[0]
    mails = deployment.mail()[str(alert["message_id"])]
    assert [m["endpoint"] for m in mails] == ["oncall@example.com"]
    text = mails[0]["message"]
    assert not text.lstrip().startswith("{")  # the plain-text "email" variant, not the JSON document
    assert "php-fpm" in text and instance in text


def test_a_java_memcg_kill_in_agent_journald_json_is_reassembled(deployment: Demo, seeded: Any) -> None:
    instance = seeded("api-1", "m6i.large", "shop-api")
    deployment.play({instance: API})
    messages = deployment.messages_for(instance)
    assert kinds(messages) == ["oom_kill"]
    assert messages[0]["attributes"]["constraint"] == "memcg"
    assert messages[0]["attributes"]["workload_kind"] == "docker"
    (event,) = deployment.events_for(instance)
    assert event["victim"]["pid"] == 31337 and event["victim"]["comm"] == "java"
    assert event["cgroup"]["workload"]["kind"] == "docker"
    assert event["memcg"]["limit_kb"] == 2097152


def test_an_oom_loop_is_one_alert_then_a_loop_alert_not_six_alerts(deployment: Demo, seeded: Any) -> None:
    instance = seeded("worker-1", "t3.small")
    deployment.play({instance: LOOP})
    events = deployment.events_for(instance)
    assert sorted(e["victim"]["pid"] for e in events) == [21877, 22431, 22988, 23519, 24102, 24655]
    assert kinds(deployment.messages_for(instance)) == ["oom_kill", "oom_loop"]
    decisions = [e["decision"] for e in sorted(events, key=lambda e: e["occurrence"])]
    assert decisions[0] == "alert" and "loop" in decisions


def test_a_duplicate_delivery_alerts_and_records_nothing_new(deployment: Demo, seeded: Any) -> None:
    instance = seeded("web-3", "t3.medium", "shop-web")
    first = deployment.play({instance: WEB})
    assert len(deployment.messages_for(instance)) == 1
    assert len(deployment.events_for(instance)) == 1
    for delivery in first:  # CloudWatch Logs / Lambda async retries hand the same payload over again
        oom = deployment.functions_by_handler("service.handlers.oom.handler")
        again = deployment.invoke_async("logs:redelivery", oom, delivery.event)
        assert again.ok
    assert len(deployment.messages_for(instance)) == 1
    assert len(deployment.events_for(instance)) == 1


def test_the_loop_is_put_on_the_event_bus_in_one_thread(deployment: Demo, seeded: Any) -> None:
    # GIVEN the deployed functions put to the default bus (event_bus, on by default)
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads((REPO / "docs" / "events.schema.json").read_text()))
    assert deployment.event_bus == "default"
    instance = seeded("worker-7", "t3.small")
    # WHEN the OOM loop is played
    deployment.play({instance: LOOP})
    deployment.drain_bus(1.0)
    mine = [e for e in deployment.bus_events if e["eventbridge"]["detail"].get("instance_id") == instance]
    # THEN the handlers' real PutEvents reached the bus: one event per kill or alert, valid, all in one thread
    types = sorted(e["eventbridge"]["detail-type"] for e in mine)
    assert types == ["OOM Kill"] * 5 + ["OOM Loop"], types
    details = [e["eventbridge"]["detail"] for e in mine]
    for detail in details:
        assert list(validator.iter_errors(detail)) == []
    assert len({d["fingerprint"] for d in details}) == 1
    assert sorted(d["decision"] for d in details) == ["alert", "folded", "folded", "folded", "folded", "loop"]
    assert all(e["eventbridge"]["source"] == "oomwatch" for e in mine)


def test_lines_without_a_kill_never_alert(deployment: Demo, seeded: Any) -> None:
    # In log_mode=oom the agent filters on the host, so the subscription of its group passes every line
    # (the handler then needs no read-back); lines without a kill reach the handler and yield nothing.
    instance = seeded("quiet-1")
    noise = "\n".join(line for line in WEB.splitlines() if "Killed process" not in line and "oom" not in line.lower())
    deliveries = deployment.play({instance: noise})
    assert all(d.ok for d in deliveries)
    assert deployment.messages_for(instance) == []
    assert deployment.events_for(instance) == []


# --- the alarm path ------------------------------------------------------------------------------------------


def test_a_memory_alarm_contributor_becomes_a_notice_for_that_instance(deployment: Demo, seeded: Any) -> None:
    instance = seeded("web-9", "t3.medium", "shop-web")
    deliveries = deployment.fire_alarm(instance)
    detail_types = sorted(d.source.rsplit(":", 1)[-1] for d in deliveries)
    assert detail_types == ["CloudWatch Alarm Contributor State Change", "CloudWatch Alarm State Change"]
    assert all(d.ok for d in deliveries)
    notices = deployment.messages_for(instance)
    assert kinds(notices) == ["memory_alarm"]
    assert notices[0]["attributes"]["alarm"] == deployment.alarm_name(deployment.memory_alarm())  # type: ignore[arg-type]
    assert "web-9" in notices[0]["subject"]


# --- the corpus ----------------------------------------------------------------------------------------------


def _corpus() -> list[Path]:
    files = sorted(CORPUS.glob("*.log"))
    assert files, f"the OOM corpus is missing at {CORPUS}"
    return files


def _body(path: Path) -> str:
    return "\n".join(line for line in path.read_text(errors="replace").splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name[:2])
def test_corpus_report_events_and_alerts(deployment: Demo, seeded: Any, path: Path) -> None:
    expected = json.loads((path.parent / "expected" / (path.stem + ".json")).read_text())["kills"]
    matcher = compile_pattern(deployment.syslog_filter().filter_pattern)
    body = _body(path)
    instance = seeded(re.sub(r"[^a-z0-9-]", "-", path.stem[:20].lower()))
    deliveries = deployment.play({instance: body})
    assert all(d.ok for d in deliveries), [d.attempts[-1].error_message for d in deliveries if not d.ok]

    # A kill can only arrive if its kill line passes the deployed subscription filter.
    lines = body.splitlines()
    arriving = [
        k
        for k in expected
        if k["source"] != "kernel"
        or any(f"({k['victim_comm']})" in ln and str(k["victim_pid"]) in ln and matcher(ln) for ln in lines)
    ]
    events = deployment.events_for(instance)
    kernel = sorted(k["victim_pid"] for k in arriving if k["source"] == "kernel")
    assert sorted(e["victim"]["pid"] for e in events if e["source"] == "kernel") == kernel
    for source in ("systemd-oomd", "earlyoom"):
        assert len([e for e in events if e["source"] == source]) == len([k for k in arriving if k["source"] == source])

    messages = deployment.messages_for(instance)
    if not arriving:
        assert messages == []
    else:
        assert messages, "kills arrived but nothing was published"
        assert len(messages) <= len(arriving) + 1


# --- make e2e-aws, pointed at the emulator --------------------------------------------------------------------


def test_the_aws_check_deploys_plays_and_cleans_up_after_itself(
    deployment: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against moto the alert cannot come (moto runs no Lambda code), so the check must time out, say so,
    and still remove the stack, its queue and the log groups the stack retains."""
    from demo import aws_check

    for key, value in deployment.aws.env().items():
        monkeypatch.setenv(key, value)
    cfn = deployment.aws.client("cloudformation")
    before = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}
    groups_before = {g["logGroupName"] for g in deployment.aws.client("logs").describe_log_groups()["logGroups"]}

    assert aws_check.main(["--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "FAILED: no alert for i-" in err and "destroying OomWatchE2E" in err

    after = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert after == before
    assert not [q for q in deployment.aws.client("sqs").list_queues().get("QueueUrls", []) if "oomwatch-e2e-" in q]
    groups_after = {g["logGroupName"] for g in deployment.aws.client("logs").describe_log_groups()["logGroups"]}
    assert groups_after <= groups_before | {g for g in groups_after if g.startswith("/aws/lambda/")}


# --- what the demo's moto launcher adds ----------------------------------------------------------------------


def test_metrics_insights_queries_group_order_and_limit(deployment: Demo, seeded: Any) -> None:
    import datetime as dt

    from demo import fleet

    hot, calm = seeded("hot-1"), seeded("calm-1")
    now = dt.datetime.now(dt.UTC)
    ec2, cw = deployment.aws.client("ec2"), deployment.aws.client("cloudwatch")
    fleet.put_memory_metrics(cw, ec2, [fleet.Host(hot, "hot-1", "t3.medium", None),
                                       fleet.Host(calm, "calm-1", "t3.medium", None)], hot, now)  # fmt: skip
    query = 'SELECT MAX(mem_used_percent) FROM SCHEMA("CWAgent", InstanceId) GROUP BY InstanceId ORDER BY MAX() DESC'
    results = cw.get_metric_data(
        MetricDataQueries=[{"Id": "q", "Expression": query, "Period": 60}],
        StartTime=now - dt.timedelta(minutes=15),
        EndTime=now,
        ScanBy="TimestampDescending",
    )["MetricDataResults"]
    labels = [r["Label"] for r in results]
    assert hot in labels and calm in labels and labels.index(hot) < labels.index(calm)
    series = {r["Label"]: r for r in results}
    assert series[hot]["Values"][0] == pytest.approx(97.1)  # newest first, the climb's last minute
    assert len(series[hot]["Values"]) == 10 and max(series[calm]["Values"]) < 50
    limited = cw.get_metric_data(
        MetricDataQueries=[{"Id": "q", "Expression": query + " LIMIT 1", "Period": 60}],
        StartTime=now - dt.timedelta(minutes=15),
        EndTime=now,
    )["MetricDataResults"]
    assert len(limited) == 1 and limited[0]["Label"] != calm


def test_the_alarm_names_its_contributor(deployment: Demo, seeded: Any) -> None:
    instance = seeded("contrib-1")
    deployment.fire_alarm(instance)
    alarm = deployment.alarm_name(deployment.memory_alarm())  # type: ignore[arg-type]
    contributors = deployment.aws.client("cloudwatch").describe_alarm_contributors(AlarmName=alarm)
    assert [c["ContributorAttributes"] for c in contributors["AlarmContributors"]] == [{"InstanceId": instance}]
    notice = deployment.messages_for(instance)
    mail = deployment.mail()[str(notice[0]["message_id"])][0]["message"]
    assert "97%" in mail  # the handler's GetMetricData (Metrics Insights) saw the datapoints


def test_the_alert_reaches_amazon_q_as_a_valid_chat_form_in_its_thread(deployment: Demo, seeded: Any) -> None:
    # GIVEN the demo's Amazon Q Developer HTTPS subscription (what a Slack or Teams channel configuration creates)
    from jsonschema import Draft202012Validator
    from service.logic import chat

    validator = Draft202012Validator(json.loads((Path(chat.__file__).parent / "chat.schema.json").read_text()))
    instance = seeded("web-3", "t3.medium", "shop-web")
    # WHEN a kill is played
    deployment.play({instance: WEB})
    alert = deployment.messages_for(instance)[0]
    # THEN SNS would POST the https key: the custom notification, valid, in the kill's thread (not the e-mail text)
    (post,) = deployment.chat()[str(alert["message_id"])]
    form = json.loads(post["message"])
    assert list(validator.iter_errors(form)) == []
    assert form["source"] == "custom" and "php-fpm" in form["content"]["title"]
    fingerprint = json.loads(alert["message"])["fingerprint"]
    assert form["metadata"]["threadId"] == f"oomwatch-kill-{fingerprint}"


def test_the_dashboard_is_created_with_its_widgets(deployment: Demo) -> None:
    # THEN the stack's dashboard exists in the emulator with the kills, top users and pipeline health widgets
    [(_, widgets)] = deployment.dashboards()
    titles = [str((w.get("properties") or {}).get("title")) for w in widgets]
    assert any("by Auto Scaling group" in t for t in titles) and any("by process" in t for t in titles)
    assert any("memory users" in t for t in titles) and any("Dead-letter" in t for t in titles)
