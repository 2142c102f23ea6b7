"""The EventBridge contract's infrastructure (infra/events.py): PutEvents on the one bus only; with
``pagerduty_secret_arn`` a connection, an API destination and a rule whose input transformer, applied to real
events as EventBridge applies it, makes valid PagerDuty Events v2 bodies; cdk-nag (in the synth) and cfn-lint
clean; bad values stop synth with one line."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from service.logic import events as ev
from synth_kit import REPO, context_with, synth_in_process
from template_kit import function_by_handler, only, resources, role_statements

from demo.eventpattern import matches
from infra.config import ConfigError, OomWatchConfig
from tests.unit.service.logic.test_alerting_chat import MS, every_kind

pytestmark = pytest.mark.slow

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:oomwatch/pagerduty-AbCdEf"
SETTINGS = {"pagerduty_secret_arn": SECRET, "event_bus": "ops-events"}
HANDLERS = ("oom", "digest", "alarm_notice", "association")
PD_SEVERITIES = ("critical", "error", "warning", "info")

Template = dict[str, Any]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Path]:
    """The stack with a bus of its own and the PagerDuty route (cdk-nag fails the synth on a finding)."""
    return synth_in_process(SETTINGS, tmp_path_factory.mktemp("events-synth"))


@pytest.fixture(scope="module")
def pd_template(synthesized: tuple[Template, Path]) -> Template:
    return synthesized[0]


def put_events_statements(template: Template) -> list[dict[str, Any]]:
    out = []
    for handler in HANDLERS:
        _, fn = function_by_handler(template, f"service.handlers.{handler}.handler")
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        out += [s for s in role_statements(template, role) if "events:PutEvents" in json.dumps(s.get("Action"))]
    return out


def test_every_function_may_put_events_on_the_default_bus_only(template: Template) -> None:
    # GIVEN the default template (event_bus=default)
    statements = put_events_statements(template)
    # THEN each of the four functions has one statement: PutEvents, on the default bus's ARN
    assert len(statements) == len(HANDLERS)
    for statement in statements:
        assert statement["Action"] == "events:PutEvents"
        assert json.dumps(statement["Resource"]).endswith(':event-bus/default"]]}')
    for handler in HANDLERS:
        _, fn = function_by_handler(template, f"service.handlers.{handler}.handler")
        assert fn["Properties"]["Environment"]["Variables"]["EVENT_BUS"] == "default"
    assert resources(template, "AWS::Events::Connection") == {}
    assert template["Outputs"]["EventBusName"]["Value"] == "default"


def test_a_bus_of_its_own_and_the_pagerduty_route(pd_template: Template) -> None:
    # THEN PutEvents names the configured bus
    for statement in put_events_statements(pd_template):
        assert json.dumps(statement["Resource"]).endswith(':event-bus/ops-events"]]}')
    # the connection takes the key from the secret, as a dynamic reference only
    _, connection = only(pd_template, "AWS::Events::Connection")
    auth = connection["Properties"]["AuthParameters"]
    reference = f"{{{{resolve:secretsmanager:{SECRET}:SecretString:::}}}}"
    assert auth["ApiKeyAuthParameters"]["ApiKeyValue"] == reference
    (body,) = auth["InvocationHttpParameters"]["BodyParameters"]
    assert body == {"Key": "routing_key", "Value": reference, "IsValueSecret": True}
    # the destination is PagerDuty's enqueue endpoint, by POST
    _, destination = only(pd_template, "AWS::Events::ApiDestination")
    assert destination["Properties"]["InvocationEndpoint"] == "https://events.pagerduty.com/v2/enqueue"
    assert destination["Properties"]["HttpMethod"] == "POST"
    # the rule is on that bus, with the dead-letter queue
    (rule,) = [r for r in resources(pd_template, "AWS::Events::Rule").values() if "InputTransformer" in json.dumps(r)]
    assert rule["Properties"]["EventBusName"] == "ops-events"
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert "Input" not in target
    assert SECRET.rsplit(":", 1)[-1] not in json.dumps(rule)


def test_cfn_lint_reports_nothing_on_the_template_with_the_pagerduty_route(
    synthesized: tuple[Template, Path],
) -> None:
    _, path = synthesized
    lint = subprocess.run(
        [str(REPO / ".venv" / "bin" / "cfn-lint"), "--format", "parseable", "--regions", "us-east-1", "eu-west-1",
         "--", str(path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr


# --------------------------------------------------------------------------------------------- the transformer


def json_path(event: Any, path: str) -> Any:
    """A JSONPath of an InputPathsMap (``$.a.b``: the only form the rule uses)."""
    assert re.fullmatch(r"\$(\.[A-Za-z_-]+)+", path), path
    value = event
    for part in path.split(".")[1:]:
        value = value[part]
    return value


def transform(event: dict[str, Any], paths: dict[str, str], template: str) -> dict[str, Any]:
    """EventBridge's input transformer for a JSON InputTemplate: each ``<name>`` placeholder outside quotes
    becomes its path's value as JSON (a string with its quotes and escapes, an object as an object)."""
    values = {name: json_path(event, path) for name, path in paths.items()}
    out = re.sub(r"<([A-Za-z0-9_.-]+)>", lambda m: json.dumps(values[m.group(1)]), template)
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def events_of_every_paging_kind() -> list[dict[str, Any]]:
    """Full EventBridge events (as a rule sees them) for every kind the handlers produce, paging or not."""
    messages = every_kind('"\\<>`')  # quotes and a backslash in every field a log line fills
    decision = {"oom_kill": "alert", "oom_loop": "loop", "oom_digest": "digest"}
    entries = [ev.message_entry(m, decision=decision.get(m.kind, "notice"), time_ms=MS) for m in messages.values()]
    record = {"victim": {"comm": "php-fpm"}, "instance_id": "i-0abc12345def67890", "severity": "warning"}
    entries.append(ev.kill_entry(record, fingerprint="0" * 24, kill_key="k" + "0" * 40, decision="folded", time_ms=MS))
    return [
        {"version": "0", "id": "x", "detail-type": e["DetailType"], "source": e["Source"],
         "account": "123456789012", "time": "2026-11-20T10:15:00Z", "region": "eu-west-1", "resources": [],
         "detail": json.loads(e["Detail"])}
        for e in entries
    ]  # fmt: skip


def test_the_rule_pages_for_alerts_only(pd_template: Template) -> None:
    (rule,) = [r for r in resources(pd_template, "AWS::Events::Rule").values() if "InputTransformer" in json.dumps(r)]
    pattern = rule["Properties"]["EventPattern"]
    paged = {e["detail"]["kind"] for e in events_of_every_paging_kind() if matches(pattern, e)}
    assert paged == {"oom_kill", "oom_loop", "oom_digest", "memory_alarm"}
    folded = [e for e in events_of_every_paging_kind() if e["detail"]["decision"] == "folded"]
    assert folded and not any(matches(pattern, e) for e in folded)


def test_the_input_transformer_makes_valid_events_v2_bodies(pd_template: Template) -> None:
    # GIVEN the rule's transformer as deployed, and the connection's body parameter
    (rule,) = [r for r in resources(pd_template, "AWS::Events::Rule").values() if "InputTransformer" in json.dumps(r)]
    transformer = rule["Properties"]["Targets"][0]["InputTransformer"]
    pattern = rule["Properties"]["EventPattern"]
    for event in events_of_every_paging_kind():
        if not matches(pattern, event):
            continue
        # WHEN EventBridge applies it, and the connection adds routing_key (the secret; here a stand-in)
        body = transform(event, transformer["InputPathsMap"], transformer["InputTemplate"])
        body["routing_key"] = "R0UTINGKEY0123456789012345678901"
        # THEN every field Events v2 requires is there and within its rules; dedup_key is the fingerprint
        assert body["event_action"] == "trigger"
        assert isinstance(body["routing_key"], str) and len(body["routing_key"]) == 32
        assert body["dedup_key"] == event["detail"]["fingerprint"] and 0 < len(body["dedup_key"]) <= 255
        payload = body["payload"]
        assert isinstance(payload["summary"], str) and 0 < len(payload["summary"]) <= 1024
        assert isinstance(payload["source"], str) and payload["source"]
        assert payload["severity"] in PD_SEVERITIES
        assert payload["custom_details"] == event["detail"]


def test_the_transformer_emulation_can_fail() -> None:
    # a placeholder whose path is missing, or a template that is no JSON object, is refused
    with pytest.raises(KeyError):
        transform({"detail": {}}, {"x": "$.detail.missing"}, '{"a":<x>}')
    with pytest.raises(AssertionError):
        transform({"detail": {"x": 1}}, {"x": "$.detail.x"}, "[<x>]")


# --------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({"event_bus": "my bus"},
         "event_bus=my bus: expected default, off, an event bus name (1-256 letters, digits, . - _) or an event bus"
         " ARN"),
        ({"event_bus": "aws.partner"}, "event_bus=aws.partner: aws.* buses are partner event buses: OOMWatch cannot"
         " put to them"),
        ({"pagerduty_secret_arn": "oomwatch/pagerduty"},
         'pagerduty_secret_arn=oomwatch/pagerduty: expected "" or a Secrets Manager secret ARN'
         " (arn:aws:secretsmanager:...)"),
        ({"pagerduty_secret_arn": SECRET, "event_bus": "off"},
         f"pagerduty_secret_arn={SECRET}: needs event_bus (it is off)"),
    ],
)  # fmt: skip
def test_a_bad_value_stops_synth_with_one_line(settings: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context(context_with(settings))
    assert str(caught.value) == line


@pytest.mark.parametrize(
    ("value", "held"),
    [("default", "default"), ("off", ""), ("", ""), ("OFF", ""), ("ops-events", "ops-events"),
     ("arn:aws:events:eu-west-1:123456789012:event-bus/ops", "arn:aws:events:eu-west-1:123456789012:event-bus/ops")],
)  # fmt: skip
def test_event_bus_values(value: str, held: str) -> None:
    assert OomWatchConfig.from_context(context_with({"event_bus": value})).event_bus == held
