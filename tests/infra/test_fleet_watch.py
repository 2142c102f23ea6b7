"""The rollout-notice rule and function, and the coverage settings of the digest function, in the template."""

from __future__ import annotations

import json
from typing import Any

from template_kit import function_by_handler, render, resources, target
from test_stack_template import DLQ, EVENTS, PUBLISH, logs_write, role_grants, table

from demo.eventpattern import matches
from infra.fleet_watch import ASSOCIATION_DETAIL_TYPE

Template = dict[str, Any]
HANDLER = "service.handlers.association.handler"


def association_id(template: Template) -> str:
    (lid,) = resources(template, "AWS::SSM::Association")
    return lid


def rule(template: Template) -> dict[str, Any]:
    (found,) = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"] and r["Properties"]["EventPattern"].get("source") == ["aws.ssm"]
    ]
    properties: dict[str, Any] = found
    return properties


def event(association: str, status: str) -> dict[str, Any]:
    return {
        "source": "aws.ssm",
        "detail-type": ASSOCIATION_DETAIL_TYPE,
        "detail": {"association-id": association, "instance-id": "i-0123456789abcdef0", "status": status},
    }


def test_the_rule_matches_only_oomwatchs_association_and_the_statuses_that_matter(template: Template) -> None:
    props = rule(template)
    pattern = props["EventPattern"]
    assoc = association_id(template)
    assert pattern == {
        "source": ["aws.ssm"],
        "detail-type": [ASSOCIATION_DETAIL_TYPE],
        "detail": {
            "association-id": [{"Fn::GetAtt": [assoc, "AssociationId"]}],
            "status": ["Failed", "TimedOut", "Success"],
        },
    }
    # the deployed pattern (the association id resolved) against events
    deployed = json.loads(json.dumps(pattern).replace(json.dumps({"Fn::GetAtt": [assoc, "AssociationId"]}), '"ours"'))
    assert matches(deployed, event("ours", "Failed"))
    assert matches(deployed, event("ours", "Success"))
    assert not matches(deployed, event("ours", "InProgress"))
    assert not matches(deployed, event("someone-elses", "Failed"))
    # its target is the association-notice function, with the dead-letter queue
    (rule_target,) = props["Targets"]
    lid, _ = function_by_handler(template, HANDLER)
    assert target(rule_target["Arn"]) == lid
    assert rule_target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


def test_the_notice_function_reads_only_its_association_runs(template: Template) -> None:
    assoc = association_id(template)
    grants = role_grants(template, HANDLER)
    association_arn = [render(r, {assoc: "ASSOC"}) for r in grants.pop("ssm:DescribeAssociationExecutions")]
    assert association_arn == ["arn:aws:ssm:eu-west-1:123456789012:association/ASSOC"]
    assert [
        render(r, {assoc: "ASSOC"}) for r in grants.pop("ssm:DescribeAssociationExecutionTargets")
    ] == association_arn
    assert grants == {
        **logs_write("AssociationNoticeLogGroup"),
        **PUBLISH,
        **DLQ,
        **EVENTS,
        "ssm:GetCommandInvocation": ["*"],
        "ec2:DescribeInstances": ["*"],
        "ec2:DescribeInstanceTypes": ["*"],
        **table("GetItem", "UpdateItem", "DeleteItem"),
    }


def test_environment_names_the_association_and_the_coverage_settings(
    template: Template, variant_template: Template
) -> None:
    _, fn = function_by_handler(template, HANDLER)
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["ROLLOUT_ASSOCIATION_ID"] == {"Fn::GetAtt": [association_id(template), "AssociationId"]}
    assert fn["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": "AssociationNoticeLogGroup"}
    _, digest = function_by_handler(template, "service.handlers.digest.handler")
    denv = digest["Properties"]["Environment"]["Variables"]
    assert (denv["COVERAGE_INTERVAL_MINUTES"], denv["TARGET_TAG_KEY"], denv["TARGET_TAG_VALUE"]) == (
        "60",
        "oomwatch:enabled",
        "true",
    )
    assert denv["TARGET_ALL_INSTANCES"] == "false"
    _, variant_digest = function_by_handler(variant_template, "service.handlers.digest.handler")
    venv = variant_digest["Properties"]["Environment"]["Variables"]
    assert venv["COVERAGE_INTERVAL_MINUTES"] == "0" and "TARGET_TAG_KEY" not in venv


def test_the_new_function_has_the_pipeline_health_alarm_like_the_others(template: Template) -> None:
    lid, _ = function_by_handler(template, HANDLER)
    alarmed = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if any(target(d.get("Value")) == lid for d in a["Properties"].get("Dimensions", []))
    ]
    assert alarmed and all(a["MetricName"] == "Errors" for a in alarmed)
