"""Slack and Teams channels (infra/chat.py): one in-process synth (cdk-nag runs in it) with one channel of each,
checked resource by resource and with cfn-lint; no setting, no resource; a bad id stops synth with one line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from synth_kit import REPO, context_with, synth_in_process
from template_kit import only, render, resources, target

from infra.chat import GUARDRAIL_POLICY
from infra.config import ConfigError, OomWatchConfig

pytestmark = pytest.mark.slow

SLACK = {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}
TEAM = "2f1e5a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
TENANT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
TEAMS = {"team_id": TEAM, "channel_id": "19:0123456789abcdef0123456789abcdef@thread.tacv2", "tenant_id": TENANT}
SETTINGS = {"slack_channels": json.dumps([SLACK]), "teams_channels": json.dumps([TEAMS])}
SLACK_TYPE = "AWS::Chatbot::SlackChannelConfiguration"
TEAMS_TYPE = "AWS::Chatbot::MicrosoftTeamsChannelConfiguration"

Template = dict[str, Any]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Path]:
    """The stack with one Slack and one Teams channel (cdk-nag fails the synth on a finding)."""
    return synth_in_process(SETTINGS, tmp_path_factory.mktemp("chat-synth"))


@pytest.fixture(scope="module")
def chat_template(synthesized: tuple[Template, Path]) -> Template:
    return synthesized[0]


def test_one_configuration_per_channel_subscribed_to_the_alert_topic(chat_template: Template) -> None:
    _, slack = only(chat_template, SLACK_TYPE)
    _, teams = only(chat_template, TEAMS_TYPE)
    assert slack["Properties"]["SlackWorkspaceId"] == "T0123ABCD"
    assert slack["Properties"]["SlackChannelId"] == "C0123ABCD"
    # named by stack, Region (configurations are global to the account) and channel
    assert render(slack["Properties"]["ConfigurationName"], {}) == "OomWatch-eu-west-1-slack-C0123ABCD"
    assert teams["Properties"]["TeamId"] == TEAM and teams["Properties"]["TeamsTenantId"] == TENANT
    # the channel id as CloudFormation takes it: URL-encoded
    assert teams["Properties"]["TeamsChannelId"] == "19%3A0123456789abcdef0123456789abcdef%40thread.tacv2"
    assert render(teams["Properties"]["ConfigurationName"], {}).startswith("OomWatch-eu-west-1-teams-")
    for config in (slack, teams):
        props = config["Properties"]
        assert [target(arn) for arn in props["SnsTopicArns"]] == ["AlertTopic"]
        assert props["LoggingLevel"] == "ERROR"
        assert props["UserRoleRequired"] is False
        assert "CustomizationResourceArns" not in props  # no custom action buttons


def test_the_guardrail_is_cloudwatch_read_only_not_the_administrator_default(chat_template: Template) -> None:
    for config in (only(chat_template, SLACK_TYPE)[1], only(chat_template, TEAMS_TYPE)[1]):
        [policy] = config["Properties"]["GuardrailPolicies"]
        joined = json.dumps(policy)
        assert f":iam::aws:policy/{GUARDRAIL_POLICY}" in joined and "Administrator" not in joined
    assert GUARDRAIL_POLICY == "CloudWatchReadOnlyAccess"


def test_the_channel_role_is_trusted_by_the_service_and_may_do_nothing(chat_template: Template) -> None:
    slack = only(chat_template, SLACK_TYPE)[1]["Properties"]
    teams = only(chat_template, TEAMS_TYPE)[1]["Properties"]
    role_id = target(slack["IamRoleArn"])
    assert role_id is not None and target(teams["IamRoleArn"]) == role_id
    role = chat_template["Resources"][role_id]["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"Service": "chatbot.amazonaws.com"},
    }
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    attached = [
        res
        for res in {
            **resources(chat_template, "AWS::IAM::Policy"),
            **resources(chat_template, "AWS::IAM::ManagedPolicy"),
        }.values()
        if role_id in json.dumps(res["Properties"].get("Roles", []))
    ]
    assert attached == []


def test_cfn_lint_reports_nothing_on_the_template_with_channels(synthesized: tuple[Template, Path]) -> None:
    _, path = synthesized
    lint = subprocess.run(
        [str(REPO / ".venv" / "bin" / "cfn-lint"), "--format", "parseable", "--regions", "us-east-1", "eu-west-1",
         "--", str(path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_no_setting_means_no_chat_resource(variant_template: Template) -> None:
    for type_ in (SLACK_TYPE, TEAMS_TYPE):
        assert resources(variant_template, type_) == {}
    trusts = json.dumps(
        [r["Properties"]["AssumeRolePolicyDocument"] for r in resources(variant_template, "AWS::IAM::Role").values()]
    )
    assert "chatbot.amazonaws.com" not in trusts


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("slack_channels", [{**SLACK, "workspace_id": "t0123abcd"}],
         "slack_channels[0].workspace_id=t0123abcd: not a Slack workspace id (T and 8-20 capital letters or digits,"
         " such as T0123ABCD; the Amazon Q Developer console shows it once the workspace is authorised)"),
        ("slack_channels", [{**SLACK, "channel_id": "#alerts"}],
         "slack_channels[0].channel_id=#alerts: not a Slack channel id (C or G and 8-20 capital letters or digits,"
         " such as C0123ABCD; the end of the channel's link)"),
        ("slack_channels", [SLACK, SLACK],
         'slack_channels[1]={"workspace_id":"T0123ABCD","channel_id":"C0123ABCD"}: listed twice'),
        ("slack_channels", [SLACK, {**SLACK, "workspace_id": "T9876ZYXW"}],
         'slack_channels[1]={"workspace_id":"T9876ZYXW","channel_id":"C0123ABCD"}: listed twice'),
        ("slack_channels", [{"workspace_id": "T0123ABCD"}],
         "slack_channels[0].channel_id: missing: a Slack channel id is required (C or G and 8-20 capital letters or"
         " digits, such as C0123ABCD; the end of the channel's link)"),
        ("slack_channels", [{**SLACK, "channel": "C0123ABCD"}],
         "slack_channels[0].channel: unknown key (did you mean channel_id?)"),
        ("slack_channels", json.dumps(SLACK),
         'slack_channels={"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}: expected a JSON list such as'
         ' [{"workspace_id": "...", "channel_id": "..."}]'),
        ("teams_channels", [{**TEAMS, "team_id": "my-team"}],
         "teams_channels[0].team_id=my-team: not a Microsoft Teams team id (a GUID such as"
         " 2f1e5a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b; groupId= in the channel's link)"),
        ("teams_channels", [{**TEAMS, "tenant_id": TENANT[:-1]}],
         f"teams_channels[0].tenant_id={TENANT[:-1]}: not a Microsoft Entra tenant id (a GUID such as"
         " 2f1e5a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b; tenantId= in the channel's link)"),
        ("teams_channels", [{**TEAMS, "channel_id": "General"}],
         "teams_channels[0].channel_id=General: not a Microsoft Teams channel id (19%3A...%40thread.tacv2 (or"
         " 19:...@thread.tacv2) as in the channel's link, up to 256 characters)"),
    ],
)  # fmt: skip
def test_a_bad_channel_stops_synth_with_one_line_naming_the_key(key: str, value: Any, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context(context_with({key: value if isinstance(value, str) else json.dumps(value)}))
    assert str(caught.value) == line and "\n" not in str(caught.value)
    assert caught.value.key == key


def test_channels_from_cdk_json_values_and_from_the_command_line_agree() -> None:
    as_json = OomWatchConfig.from_context(context_with({"slack_channels": [SLACK], "teams_channels": [TEAMS]}))
    as_text = OomWatchConfig.from_context(context_with(SETTINGS))
    assert as_json.slack_channels == as_text.slack_channels and len(as_json.slack_channels) == 1
    assert as_json.teams_channels == as_text.teams_channels
    none = OomWatchConfig.from_context(context_with({"slack_channels": "", "teams_channels": "[]"}))
    assert none.slack_channels == () and none.teams_channels == ()
