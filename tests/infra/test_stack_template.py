"""Fine-grained assertions on the synthesized template, unit by unit (defaults from the CLI synth, plus a variant)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth_kit import VARIANT
from template_kit import (
    as_list,
    function_by_handler,
    grants,
    only,
    render,
    resources,
    role_statements,
    target,
)

import app
from agent_config.builder import (
    AGENT_NAMESPACE,
    STANDARD_PARAMETER_LIMIT_BYTES,
    build_agent_config,
    config_digest,
)
from infra.agent_rollout import GRANT_LOG_ACCESS_SCRIPT
from infra.alarms import fleet_query
from infra.config import DEFAULTS
from infra.processing import PYTHON_VERSION
from infra.queries import QUERIES

Template = dict[str, Any]

#: Resources that hold data or that hosts and users refer to: their logical IDs must never change.
PINNED = {
    "SyslogLogGroup": "AWS::Logs::LogGroup",
    "EventsLogGroup": "AWS::Logs::LogGroup",
    "AlarmNoticeLogGroup": "AWS::Logs::LogGroup",
    "DigestLogGroup": "AWS::Logs::LogGroup",
    "AssociationNoticeLogGroup": "AWS::Logs::LogGroup",
    "AlertTopic": "AWS::SNS::Topic",
    "AlertTopicKey": "AWS::KMS::Key",
    "DeadLetterQueue": "AWS::SQS::Queue",
    "AgentConfigParameter": "AWS::SSM::Parameter",
    "StateTable": "AWS::DynamoDB::Table",
}

HANDLERS = ("service.handlers.oom.handler", "service.handlers.alarm_notice.handler", "service.handlers.digest.handler")


def props(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


# --- stateful resources -------------------------------------------------------------------------------------------


def test_stateful_logical_ids_are_pinned(template: Template, variant_template: Template) -> None:
    for tpl in (template, variant_template):
        for logical_id, type_ in PINNED.items():
            assert tpl["Resources"][logical_id]["Type"] == type_, logical_id


def test_log_group_retention(template: Template, variant_template: Template) -> None:
    for tpl, syslog_days, events_days in (
        (template, DEFAULTS["log_retention_days"], DEFAULTS["events_retention_days"]),
        (variant_template, int(VARIANT["log_retention_days"]), int(VARIANT["events_retention_days"])),
    ):
        assert props(tpl, "SyslogLogGroup")["RetentionInDays"] == syslog_days
        assert props(tpl, "EventsLogGroup")["RetentionInDays"] == events_days
        assert props(tpl, "AlarmNoticeLogGroup")["RetentionInDays"] == syslog_days
        assert props(tpl, "DigestLogGroup")["RetentionInDays"] == syslog_days
        for group in resources(tpl, "AWS::Logs::LogGroup").values():
            assert "LogGroupName" not in group["Properties"]  # CloudFormation names them


# --- host agent rollout -------------------------------------------------------------------------------------------


def test_agent_parameter(template: Template) -> None:
    parameter = props(template, "AgentConfigParameter")
    assert parameter["Name"] == "AmazonCloudWatch-OomWatch"  # fixed: a new configuration replaces the host's file
    assert (parameter["Type"], parameter["Tier"]) == ("String", "Standard")
    group = "OomWatch-SyslogLogGroup-Q1w2E3r4T5y6"
    value = render(parameter["Value"], {"SyslogLogGroup": group})
    assert json.loads(value) == build_agent_config(log_group_name=group, log_mode="oom", log_sources="both")
    assert len(value.encode()) <= STANDARD_PARAMETER_LIMIT_BYTES


def rollout(template: Template) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rollout association's and its document's properties."""
    (association,) = resources(template, "AWS::SSM::Association").values()
    (document_id, document), *_ = resources(template, "AWS::SSM::Document").items()
    assert association["Properties"]["Name"] == {"Ref": document_id}
    return association["Properties"], document["Properties"]


def test_a_changed_configuration_keeps_the_name_and_changes_the_association(cli_templates: dict[str, Template]) -> None:
    names = {props(tpl, "AgentConfigParameter")["Name"] for tpl in cli_templates.values()}
    assert names == {"AmazonCloudWatch-OomWatch"}
    digests = {mode: rollout(tpl)[0]["Parameters"]["configDigest"] for mode, tpl in cli_templates.items()}
    for mode, digest in digests.items():
        assert digest == [config_digest(log_mode=mode, log_sources="both")]  # type: ignore[arg-type]
    assert len({d[0] for d in digests.values()}) == len(digests)  # so State Manager re-runs it at once
    for mode, tpl in cli_templates.items():
        value = render(props(tpl, "AgentConfigParameter")["Value"], {"SyslogLogGroup": "g"})
        assert json.loads(value) == build_agent_config(log_group_name="g", log_mode=mode, log_sources="both")  # type: ignore[arg-type]


def test_one_association_installs_then_configures(template: Template) -> None:
    association, document = rollout(template)
    assert association["Parameters"] == {
        "configDigest": [config_digest(log_mode="oom", log_sources="both")],
        "logGroupName": [{"Ref": "SyslogLogGroup"}],  # a replaced log group re-runs it too
    }
    assert association["Targets"] == [{"Key": "tag:oomwatch:enabled", "Values": ["true"]}]
    assert "WaitForSuccessTimeoutSeconds" not in association
    assert association["ScheduleExpression"] == "rate(1 day)"
    assert document["DocumentType"] == "Command"
    content = document["Content"]
    assert content["schemaVersion"] == "2.2"
    install, configure = content["mainSteps"]
    assert install["action"] == "aws:runDocument"
    assert install["inputs"] == {
        "documentType": "SSMDocument",
        "documentPath": "AWS-ConfigureAWSPackage",
        "documentParameters": {"action": "Install", "name": "AmazonCloudWatchAgent"},  # latest
    }
    script = "\n".join(configure["inputs"]["runCommand"])
    assert "-a append-config -m ec2 -c ssm:AmazonCloudWatch-OomWatch -s" in script
    assert "older than 1.300070.0" in script  # journald: the host checks the version it got
    assert "usermod -aG" in script and "systemd-journal adm" in script and "setfacl -m u:cwagent:r" in script
    assert set(GRANT_LOG_ACCESS_SCRIPT) <= set(configure["inputs"]["runCommand"])


def test_agent_version_pinned_and_every_managed_instance(variant_template: Template) -> None:
    association, document = rollout(variant_template)
    assert association["Targets"] == [{"Key": "InstanceIds", "Values": ["*"]}]
    install, configure = document["Content"]["mainSteps"]
    assert install["inputs"]["documentParameters"]["version"] == "1.300071.0b1720"
    assert "older than" not in "\n".join(configure["inputs"]["runCommand"])  # files only: any version
    value = render(props(variant_template, "AgentConfigParameter")["Value"], {"SyslogLogGroup": "g"})
    assert "journald" not in json.loads(value)["logs"]["logs_collected"]  # log_sources=files
    assert props(variant_template, "AgentConfigParameter")["Name"] == "AmazonCloudWatch-OomWatchVariant"


def test_instance_role_profile_and_managed_policy(template: Template) -> None:
    roles = {
        lid: res
        for lid, res in resources(template, "AWS::IAM::Role").items()
        if res["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "ec2.amazonaws.com"}
    }
    ((role_id, role),) = roles.items()
    managed = [render(arn, {}) for arn in role["Properties"]["ManagedPolicyArns"]]
    assert managed == [
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ]
    _, profile = only(template, "AWS::IAM::InstanceProfile")
    assert [target(r) for r in profile["Properties"]["Roles"]] == [role_id]

    _, policy = only(template, "AWS::IAM::ManagedPolicy")
    allowed = grants(policy["Properties"]["PolicyDocument"]["Statement"])
    assert allowed == {
        "ssm:GetParameter": [allowed["ssm:GetParameter"][0]],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["SyslogLogGroup", "Arn"]}],
        "logs:DescribeLogStreams": [{"Fn::GetAtt": ["SyslogLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["SyslogLogGroup", "Arn"]}],
        "cloudwatch:PutMetricData": ["*"],
    }
    # The agent calls ec2:DescribeTags only for a global metrics.append_dimensions, which OOMWatch never sets.
    assert "ec2:DescribeTags" not in json.dumps(policy)
    parameter_arn = render(allowed["ssm:GetParameter"][0], {"AgentConfigParameter": "AmazonCloudWatch-OomWatch-x"})
    assert parameter_arn == "arn:aws:ssm:eu-west-1:123456789012:parameter/AmazonCloudWatch-OomWatch-x"
    (metrics,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "cloudwatch:PutMetricData"
    ]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": AGENT_NAMESPACE}}


def test_outputs_name_what_users_need(template: Template) -> None:
    outputs = template["Outputs"]
    assert outputs["HostTargets"]["Value"] == "instances tagged oomwatch:enabled=true"
    assert target(outputs["InstanceProfileName"]["Value"]) in resources(template, "AWS::IAM::InstanceProfile")
    assert target(outputs["AgentManagedPolicyArn"]["Value"]) in resources(template, "AWS::IAM::ManagedPolicy")
    assert outputs["AgentConfigParameterName"]["Value"] == {"Ref": "AgentConfigParameter"}
    assert outputs["SyslogLogGroupName"]["Value"] == {"Ref": "SyslogLogGroup"}
    assert outputs["EventsLogGroupName"]["Value"] == {"Ref": "EventsLogGroup"}
    assert outputs["AlertTopicArn"]["Value"] == {"Ref": "AlertTopic"}
    assert {"InstanceRoleName", "StateTableName", "DeadLetterQueueUrl", "MemoryAlarmName", "SwapAlarmName"} <= set(
        outputs
    )
    dashboard_id, _ = only(template, "AWS::CloudWatch::Dashboard")
    assert render(outputs["DashboardUrl"]["Value"], {dashboard_id: "OomWatch-Dashboard-x"}) == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/OomWatch-Dashboard-x"
    )


# --- syslog subscription ------------------------------------------------------------------------------------------


def test_one_subscription_and_one_exact_permission_per_group(template: Template, variant_template: Template) -> None:
    oom_id, _ = function_by_handler(template, "service.handlers.oom.handler")
    (subscription,) = resources(template, "AWS::Logs::SubscriptionFilter").values()
    assert subscription["Properties"]["LogGroupName"] == {"Ref": "SyslogLogGroup"}
    assert target(subscription["Properties"]["DestinationArn"]) == oom_id
    (permission,) = [
        p
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    ]
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": ["SyslogLogGroup", "Arn"]}

    existing = VARIANT["existing_log_groups"].split(",")
    groups = {
        (render(f["Properties"]["LogGroupName"], {}) if isinstance(f["Properties"]["LogGroupName"], str) else "new")
        for f in resources(variant_template, "AWS::Logs::SubscriptionFilter").values()
    }
    assert groups == {"new", *existing}
    sources = sorted(
        render(p["Properties"]["SourceArn"], {"SyslogLogGroup": "arn:new"})
        for p in resources(variant_template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    )
    assert sources == sorted(
        ["arn:new", *(f"arn:aws:logs:eu-west-1:123456789012:log-group:{name}:*" for name in existing)]
    )


# --- functions ------------------------------------------------------------------------------------------------------


def test_functions(template: Template, variant_template: Template) -> None:
    for tpl, arch, memory, powertools in (
        (template, "arm64", 256, "3.23.0"),
        (variant_template, "x86_64", int(VARIANT["lambda_memory_mb"]), VARIANT["powertools_version"]),
    ):
        for handler in HANDLERS:
            _, fn = function_by_handler(tpl, handler)
            p = fn["Properties"]
            assert (p["Runtime"], p["Architectures"], p["MemorySize"]) == ("python3.13", [arch], memory)
            # The layer's ARN is AWS's public SSM parameter for the Region, resolved at deploy time
            ((layer,),) = [p["Layers"]]
            parameter = tpl["Parameters"][target(layer)]
            assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
            assert parameter["Default"] == f"/aws/service/powertools/python/{arch}/python3.13/{powertools}"
            assert p["LoggingConfig"]["LogFormat"] == "JSON"
            assert p["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
            assert "S3Key" in p["Code"]  # an asset, no inline code
        assert "arn:aws:lambda:" not in json.dumps(tpl["Resources"])  # no hard-coded layer ARN, any partition
    log_groups = {
        handler: function_by_handler(template, handler)[1]["Properties"]["LoggingConfig"]["LogGroup"]
        for handler in HANDLERS
    }
    assert log_groups == {
        "service.handlers.oom.handler": {"Ref": "EventsLogGroup"},
        "service.handlers.alarm_notice.handler": {"Ref": "AlarmNoticeLogGroup"},
        "service.handlers.digest.handler": {"Ref": "DigestLogGroup"},
    }


def test_async_invocation_retries_twice_then_dead_letter_queue(template: Template) -> None:
    configs = {
        target(c["Properties"]["FunctionName"]): c["Properties"]
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    for handler in HANDLERS:
        lid, _ = function_by_handler(template, handler)
        assert configs[lid]["MaximumRetryAttempts"] == 2
        assert configs[lid]["DestinationConfig"] == {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
        }


POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": "oomwatch",
    "POWERTOOLS_METRICS_NAMESPACE": "OOMWatch",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def test_environment_contract(template: Template, variant_template: Template) -> None:
    def environment(tpl: Template, handler: str) -> dict[str, Any]:
        env: dict[str, Any] = function_by_handler(tpl, handler)[1]["Properties"]["Environment"]["Variables"]
        return env

    # EVENT_BUS: event_bus=default (infra/events.py), on every function
    common = {
        "TOPIC_ARN": {"Ref": "AlertTopic"},
        "STATE_TABLE": {"Ref": "StateTable"},
        **POWERTOOLS,
        "EVENT_BUS": "default",
    }
    noise = {
        "NOISE_WINDOW_MINUTES": "15",
        "LOOP_THRESHOLD": "5",
        "CRITICAL_PROCESSES": ",".join(DEFAULTS["critical_processes"]),
        "ALLOW_LIST": '{"processes":[],"units":[],"tags":{}}',
        "MUTE_MAX_HOURS": "72",
    }
    # log_mode=oom: the OOM handler joins split reports from a stash for the agent's own group
    assert environment(template, "service.handlers.oom.handler") == {
        **common,
        **noise,
        "LOG_MODE": "oom",
        "SYSLOG_GROUP": {"Ref": "SyslogLogGroup"},
        "KILL_METRIC": "false",
        "SPARKLINE": "false",
        "MUTE_BREAKTHROUGH_CRITICAL": "true",
    }
    coverage = {
        "COVERAGE_INTERVAL_MINUTES": "60",
        "TARGET_TAG_KEY": "oomwatch:enabled",
        "TARGET_TAG_VALUE": "true",
        "TARGET_ALL_INSTANCES": "false",
    }
    assert environment(template, "service.handlers.digest.handler") == {**common, **noise, **coverage}
    memory_alarm, swap_alarm = fleet_alarm_ids(template)
    assert environment(template, "service.handlers.alarm_notice.handler") == {
        **common,
        "MEMORY_ALARM_NAME": {"Ref": memory_alarm},
        "SWAP_ALARM_NAME": {"Ref": swap_alarm},
        "AGENT_NAMESPACE": "CWAgent",
    }
    variant = environment(variant_template, "service.handlers.oom.handler")
    assert variant["KILL_METRIC"] == "true"
    assert variant["SPARKLINE"] == "true" and variant["AGENT_NAMESPACE"] == "CWAgent"
    assert (variant["NOISE_WINDOW_MINUTES"], variant["LOOP_THRESHOLD"]) == ("30", "7")
    assert variant["CRITICAL_PROCESSES"] == "java,postgres,php-fpm*"
    assert json.loads(variant["ALLOW_LIST"]) == {
        "processes": ["stress-ng*"],
        "units": ["batch-*.service"],
        "tags": {"oom-expected": "true"},
    }


def test_code_asset_leaves_tests_and_caches_out_and_ships_bytecode_for_the_runtime(
    cli_assemblies: dict[str, Any],
) -> None:
    assets = json.loads((cli_assemblies["oom"] / "OomWatch.assets.json").read_text())["files"]
    (source,) = {a["source"]["path"] for a in assets.values() if a["source"].get("packaging") == "zip"}
    root = cli_assemblies["oom"] / source
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    assert any(f.startswith("oomwatch/") for f in files)
    assert not [f for f in files if ".egg-info" in f or "/tests/" in f or f.startswith("tests")]
    modules = sorted(f for f in files if f.endswith(".py"))
    bytecode = sorted(f for f in files if f.endswith(".pyc"))
    if app.bytecode_python() is not None:
        # THEN every module has bytecode for the runtime's Python (python3.13: cpython-313), and only that
        tag = "cpython-{}{}".format(*PYTHON_VERSION)
        expected = [
            f"{m.rpartition('/')[0]}/__pycache__/{m.rpartition('/')[2][:-3]}.{tag}.pyc".lstrip("/") for m in modules
        ]
        assert bytecode == sorted(expected)
    else:
        # THEN (no CPython of the runtime's version on this machine) sources only, and synth says so
        assert bytecode == []
        infos = [
            entry["data"]
            for artifact in json.loads((cli_assemblies["oom"] / "manifest.json").read_text())["artifacts"].values()
            for entries in artifact.get("metadata", {}).values()
            for entry in entries
            if entry["type"] == "aws:cdk:info"
        ]
        assert any("without bytecode" in str(info) for info in infos)


def test_function_depends_only_on_its_policy(template: Template) -> None:
    for handler in HANDLERS:
        _, fn = function_by_handler(template, handler)
        (policy_id,) = fn["DependsOn"]
        assert template["Resources"][policy_id]["Type"] == "AWS::IAM::Policy"


# --- least privilege ----------------------------------------------------------------------------------------------


def role_grants(template: Template, handler: str) -> dict[str, list[Any]]:
    role_id = target(function_by_handler(template, handler)[1]["Properties"]["Role"])
    assert role_id is not None
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole
    return grants(role_statements(template, role_id))


TABLE = [{"Fn::GetAtt": ["StateTable", "Arn"]}]


def table(*actions: str) -> dict[str, list[Any]]:
    return {f"dynamodb:{a}": TABLE for a in actions}


PUBLISH = {
    "sns:Publish": [{"Ref": "AlertTopic"}],
    "kms:Decrypt": [{"Fn::GetAtt": ["AlertTopicKey", "Arn"]}],
    "kms:GenerateDataKey": [{"Fn::GetAtt": ["AlertTopicKey", "Arn"]}],
}
DLQ = {
    a: [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}]
    for a in ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage")
}
#: event_bus=default (infra/events.py): PutEvents on the default bus's ARN only.
EVENTS = {
    "events:PutEvents": [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":events:", {"Ref": "AWS::Region"}, ":",
                           {"Ref": "AWS::AccountId"}, ":event-bus/default"]]}
    ]
}  # fmt: skip


def logs_write(group: str) -> dict[str, list[Any]]:
    return {a: [{"Fn::GetAtt": [group, "Arn"]}] for a in ("logs:CreateLogStream", "logs:PutLogEvents")}


def test_oom_function_permissions(template: Template, variant_template: Template) -> None:
    assert role_grants(template, "service.handlers.oom.handler") == {
        **logs_write("EventsLogGroup"),
        **PUBLISH,
        **DLQ,
        **EVENTS,
        "ec2:DescribeInstances": ["*"],
        "ec2:DescribeInstanceTypes": ["*"],
        "logs:FilterLogEvents": [{"Fn::GetAtt": ["SyslogLogGroup", "Arn"]}],
        **table("GetItem", "PutItem", "UpdateItem", "BatchWriteItem"),
    }  # sparkline off (the default): no read, no grant
    variant = role_grants(variant_template, "service.handlers.oom.handler")
    # sparkline on: the memory before a kill; GetMetricData has no resource-level permissions
    assert variant["cloudwatch:GetMetricData"] == ["*"]
    filter_on = variant["logs:FilterLogEvents"]
    rendered = sorted(render(r, {"SyslogLogGroup": "new"}) for r in filter_on)
    expected = [
        f"arn:aws:logs:eu-west-1:123456789012:log-group:{n}:*" for n in VARIANT["existing_log_groups"].split(",")
    ]
    assert rendered == sorted(["new", *expected])


def test_alarm_notice_function_permissions(template: Template) -> None:
    (memory_alarm,) = [k for k in resources(template, "AWS::CloudWatch::Alarm") if k.startswith("FleetAlarmsMemory")]
    (swap_alarm,) = [k for k in resources(template, "AWS::CloudWatch::Alarm") if k.startswith("FleetAlarmsSwap")]
    assert role_grants(template, "service.handlers.alarm_notice.handler") == {
        **logs_write("AlarmNoticeLogGroup"),
        **PUBLISH,
        **DLQ,
        **EVENTS,
        "cloudwatch:GetMetricData": ["*"],
        "cloudwatch:DescribeAlarmContributors": [
            {"Fn::GetAtt": [memory_alarm, "Arn"]},
            {"Fn::GetAtt": [swap_alarm, "Arn"]},
        ],
        "ec2:DescribeInstances": ["*"],
        "ec2:DescribeInstanceTypes": ["*"],
        **table("PutItem", "DeleteItem", "BatchGetItem"),
    }


def test_digest_function_permissions(template: Template, variant_template: Template) -> None:
    base = {
        **logs_write("DigestLogGroup"),
        **PUBLISH,
        **DLQ,
        **EVENTS,
        "ec2:DescribeInstances": ["*"],
        "ec2:DescribeInstanceTypes": ["*"],
        **table("Scan", "UpdateItem", "GetItem"),
    }
    # the coverage check (default: hourly) lists managed instances and runs one Metrics Insights query
    assert role_grants(template, "service.handlers.digest.handler") == {
        **base,
        "ssm:DescribeInstanceInformation": ["*"],
        "cloudwatch:GetMetricData": ["*"],
    }
    # coverage_interval_minutes=0 (the variant): no coverage grants
    assert role_grants(variant_template, "service.handlers.digest.handler") == base


def test_no_wildcard_actions_and_star_only_where_unavoidable(template: Template) -> None:
    unavoidable = {
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceTypes",
        "cloudwatch:GetMetricData",
        "cloudwatch:PutMetricData",
        "ssm:DescribeInstanceInformation",
        "ssm:GetCommandInvocation",
    }
    documents = [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::Policy").values()]
    documents += [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::ManagedPolicy").values()]
    for document in documents:
        for action, on in grants(document["Statement"]).items():
            assert "*" not in action, action
            if "*" in on:
                assert action in unavoidable, action


# --- state table, topic, queue ------------------------------------------------------------------------------------


def test_state_table(template: Template) -> None:
    table = props(template, "StateTable")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def rendered_condition(condition: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {op: {key: render(value, {}) for key, value in pairs.items()} for op, pairs in condition.items()}


def test_topic_encryption_and_tls_only(template: Template) -> None:
    assert props(template, "AlertTopic")["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlertTopicKey", "Arn"]}
    key = props(template, "AlertTopicKey")
    assert key["EnableKeyRotation"] is True
    (cloudwatch,) = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert sorted(as_list(cloudwatch["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    # only on behalf of this account's alarms in this Region (confused deputy)
    alarms_here = {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"}
    assert rendered_condition(cloudwatch["Condition"]) == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": alarms_here,
    }
    service_statements = [s for s in key["KeyPolicy"]["Statement"] if "Service" in s.get("Principal", {})]
    assert all("aws:SourceAccount" in s.get("Condition", {}).get("StringEquals", {}) for s in service_statements)
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "sns:Publish",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": "*",
        "Resource": {"Ref": "AlertTopic"},
        "Sid": "AllowPublishThroughSSLOnly",
    } in statements
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert rendered_condition(allow["Condition"]) == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"},
    }


def test_email_subscriptions(template: Template, variant_template: Template) -> None:
    assert resources(template, "AWS::SNS::Subscription") == {}  # the topic exists without any
    subscriptions = resources(variant_template, "AWS::SNS::Subscription").values()
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("email", "team-memory@example.org"),
    ]
    assert {target(s["Properties"]["TopicArn"]) for s in subscriptions} == {"AlertTopic"}


def test_dead_letter_queue(template: Template) -> None:
    queue = props(template, "DeadLetterQueue")
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = resources(template, "AWS::SQS::QueuePolicy").values()
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- alarms and events --------------------------------------------------------------------------------------------


def fleet_alarm_ids(template: Template) -> tuple[str, str]:
    by_query = {
        res["Properties"]["Metrics"][0]["Expression"]: lid
        for lid, res in resources(template, "AWS::CloudWatch::Alarm").items()
        if "Metrics" in res["Properties"]
    }
    return by_query[fleet_query("mem_used_percent")], by_query[fleet_query("swap_used_percent")]


@pytest.mark.parametrize("which", ["default", "variant"])
def test_fleet_alarms(template: Template, variant_template: Template, which: str) -> None:
    tpl, settings = (template, DEFAULTS) if which == "default" else (variant_template, {**DEFAULTS, **VARIANT})
    for alarm_id, prefix, metric in zip(
        fleet_alarm_ids(tpl), ("memory", "swap"), ("mem_used_percent", "swap_used_percent"), strict=True
    ):
        alarm = props(tpl, alarm_id)
        assert alarm["Metrics"] == [
            {
                "Expression": f'SELECT MAX({metric}) FROM SCHEMA("CWAgent", InstanceId, host) '
                "GROUP BY InstanceId ORDER BY MAX() DESC",
                "Id": "expr_1",
                "Label": metric,
                "Period": 60,
                "ReturnData": True,
            }
        ]
        assert alarm["Threshold"] == float(settings[f"{prefix}_threshold_percent"])
        assert alarm["EvaluationPeriods"] == int(settings[f"{prefix}_evaluation_periods"])
        assert alarm["DatapointsToAlarm"] == int(settings[f"{prefix}_datapoints_to_alarm"])
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        for actions in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            assert actions not in alarm  # notices go through EventBridge, not straight to the topic


def test_alarm_state_changes_reach_the_notice_function(template: Template) -> None:
    notice_id, _ = function_by_handler(template, "service.handlers.alarm_notice.handler")
    rules = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"] and r["Properties"]["EventPattern"]["source"] == ["aws.cloudwatch"]
    ]
    (rule,) = rules
    memory, swap = fleet_alarm_ids(template)
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"],
        "resources": [{"Fn::GetAtt": [memory, "Arn"]}, {"Fn::GetAtt": [swap, "Arn"]}],
    }
    (rule_target,) = rule["Targets"]
    assert target(rule_target["Arn"]) == notice_id
    assert rule_target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


def test_digest_schedule(template: Template) -> None:
    digest_id, _ = function_by_handler(template, "service.handlers.digest.handler")
    (rule,) = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert [target(t["Arn"]) for t in rule["Targets"]] == [digest_id]


def test_pipeline_health_alarms_notify_the_topic(template: Template) -> None:
    health = {
        lid: res["Properties"]
        for lid, res in resources(template, "AWS::CloudWatch::Alarm").items()
        if "Metrics" not in res["Properties"]
    }
    watched = set()
    for alarm in health.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        if alarm["MetricName"] == "Errors":
            assert (alarm["Namespace"], alarm["Statistic"]) == ("AWS/Lambda", "Sum")
            watched.add(target(alarm["Dimensions"][0]["Value"]))
        else:
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
            assert alarm["Dimensions"] == [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
            ]
            watched.add("DeadLetterQueue")
    every_function = {function_by_handler(template, h)[0] for h in (*HANDLERS, "service.handlers.association.handler")}
    assert watched == every_function | {"DeadLetterQueue"}


# --- saved queries ------------------------------------------------------------------------------------------------


def test_saved_queries(template: Template) -> None:
    queries = {
        q["Properties"]["Name"]: q["Properties"] for q in resources(template, "AWS::Logs::QueryDefinition").values()
    }
    assert set(queries) == {f"OOMWatch-OomWatch/{name}" for name in QUERIES}
    for name, query in queries.items():
        assert query["LogGroupNames"] == [{"Ref": "EventsLogGroup"}]
        assert 'filter message = "oom_kill"' in query["QueryString"], name
    text = {name.split("/", 1)[1]: q["QueryString"] for name, q in queries.items()}
    assert "sort @timestamp desc" in text["Recent kills"]
    assert "by victim.comm" in text["Kills by process"]
    assert "coalesce(instance_id, instance.id, host) as instance_or_host" in text["Kills by instance"]
    assert "by instance_or_host" in text["Kills by instance"]
    assert "by cgroup.workload.name" in text["Kills by workload"]
    assert "sort victim.anon_rss_kb desc" in text["Biggest victims"]


# --- cdk-nag acknowledgements -------------------------------------------------------------------------------------


def test_every_acknowledgement_is_specific_and_explained(template: Template, variant_template: Template) -> None:
    for tpl in (template, variant_template):
        acknowledged = {
            lid: res["Metadata"]["cdk_nag"]["rules_to_suppress"]
            for lid, res in tpl["Resources"].items()
            if "cdk_nag" in res.get("Metadata", {})
        }
        assert acknowledged
        for lid, rules in acknowledged.items():
            assert tpl["Resources"][lid]["Type"] != "AWS::CloudFormation::Stack"
            for rule in rules:
                assert len(rule["reason"]) >= 40, (lid, rule)
                if rule["id"].startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
                    assert rule["id"].endswith("]") and "[" in rule["id"], (lid, rule)  # one finding, not the rule


def test_cfn_lint_ignores_are_narrow(template: dict[str, Any]) -> None:
    # Only W3037 (cfn-lint's IAM action list lacks cloudwatch:DescribeAlarmContributors), only on one policy.
    ignored = {
        logical_id: resource["Metadata"]["cfn-lint"]
        for logical_id, resource in template["Resources"].items()
        if "cfn-lint" in resource.get("Metadata", {})
    }
    assert len(ignored) == 1, ignored
    ((logical_id, config),) = ignored.items()
    assert logical_id.startswith("ProcessingAlarmNoticeRoleDefaultPolicy")
    assert config == {"config": {"ignore_checks": ["W3037"]}}
