"""Settings: defaults in cdk.json, both value forms, and one one-line error per validation rule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth_kit import REPO, cdk_json_context, context_with

from app import build_app
from infra.config import DEFAULTS, KEYS, AllowList, ConfigError, OomWatchConfig


def test_every_key_has_its_default_in_cdk_json() -> None:
    context = cdk_json_context()
    assert {key: context.get(key) for key in KEYS} == dict(DEFAULTS)


def test_cdk_json_runs_the_app_with_the_project_venv() -> None:
    assert json.loads((REPO / "cdk.json").read_text())["app"] == ".venv/bin/python app.py"


def test_defaults() -> None:
    config = OomWatchConfig.from_context(cdk_json_context())
    assert config.alert_emails == ()
    assert (config.target_all_instances, config.target_tag_key, config.target_tag_value) == (
        False,
        "oomwatch:enabled",
        "true",
    )
    assert (config.log_mode, config.log_sources) == ("oom", "both")
    assert (config.memory_threshold_percent, config.memory_evaluation_periods, config.memory_datapoints_to_alarm) == (
        90,
        5,
        5,
    )
    assert (config.swap_threshold_percent, config.swap_evaluation_periods, config.swap_datapoints_to_alarm) == (
        50,
        5,
        5,
    )
    assert (config.lambda_architecture, config.powertools_layer_version) == ("arm64", 27)
    assert (config.noise_window_minutes, config.loop_threshold) == (15, 5)
    assert config.allow_list == AllowList()
    assert config.agent_version_parameter is None  # latest: the host checks the version journald needs


def test_missing_keys_fall_back_to_the_defaults() -> None:
    assert OomWatchConfig.from_context({}) == OomWatchConfig.from_context(cdk_json_context())


def test_command_line_strings_are_parsed() -> None:
    """``cdk deploy -c key=value`` hands every value over as a string."""
    config = OomWatchConfig.from_context(
        {
            "alert_emails": " oncall@example.com , team+oom@mail.example.org ",
            "target_all_instances": "TRUE",
            "memory_threshold_percent": "92.5",
            "memory_evaluation_periods": "10",
            "existing_log_groups": "/legacy/syslog,/var/log/messages",
            "critical_processes": '["java", "php-fpm*"]',
            "allow_list": '{"processes": ["stress-ng*"], "tags": {"oom-expected": "true"}}',
            "agent_version": "latest",
            "alert_emails_unused": "ignored",
        }
    )
    assert config.alert_emails == ("oncall@example.com", "team+oom@mail.example.org")
    assert config.target_all_instances is True
    assert config.memory_threshold_percent == 92.5
    assert config.memory_evaluation_periods == 10
    assert config.existing_log_groups == ("/legacy/syslog", "/var/log/messages")
    assert config.critical_processes_csv == "java,php-fpm*"
    assert json.loads(config.allow_list.to_json()) == {
        "processes": ["stress-ng*"],
        "units": [],
        "tags": {"oom-expected": "true"},
    }
    assert config.agent_version_parameter is None


def test_an_empty_string_is_an_empty_list() -> None:
    assert OomWatchConfig.from_context({"alert_emails": ""}).alert_emails == ()


# (key, value, what the message must say) — one case per validation rule.
RULES: list[tuple[str, Any, str]] = [
    ("stack_name", "1-starts-with-a-digit", "a letter, then up to 63 letters, digits or hyphens"),
    ("stack_name", "x" * 65, "a letter, then up to 63 letters, digits or hyphens"),
    ("alert_emails", "oncall@example.com,ops@@example.com", "not an e-mail address"),
    ("alert_emails", "ops@localhost", "not an e-mail address"),
    ("alert_emails", "a@example.com,a@example.com", "listed twice"),
    ("alert_emails", {"to": "a@example.com"}, "expected a list or comma-separated values"),
    ("target_all_instances", "yes", "expected true or false"),
    ("target_tag_key", "aws:autoscaling:groupName", "reserved by AWS"),
    ("target_tag_key", "oomwatch!", "1-128 letters, digits, spaces"),
    ("target_tag_value", "", "1-256 letters, digits, spaces"),
    ("log_mode", "bogus", "allowed values: oom, kernel, full"),
    ("log_sources", "syslog", "allowed values: both, files, journald"),
    ("agent_version", "1.300069.0", "journald collection needs 1.300070.0 or later"),
    ("agent_version", "newest", "expected latest or a release such as 1.300071.0 or 1.300071.0b1720"),
    ("agent_version", "1.300071.0-1", "expected latest or a release such as 1.300071.0"),
    ("agent_version", "1.300069.0b1143", "journald collection needs 1.300070.0 or later"),
    ("memory_threshold_percent", "0", "expected a percentage from 1 to 100"),
    ("memory_threshold_percent", 100.5, "expected a percentage from 1 to 100"),
    ("swap_threshold_percent", "half", "expected a percentage from 1 to 100"),
    ("memory_evaluation_periods", "0", "expected a whole number from 1 to 180"),
    ("swap_evaluation_periods", 181, "expected a whole number from 1 to 180"),
    ("memory_datapoints_to_alarm", 6, "expected a whole number from 1 to memory_evaluation_periods (5)"),
    ("swap_datapoints_to_alarm", "0", "expected a whole number from 1 to swap_evaluation_periods (5)"),
    ("log_retention_days", "2", "CloudWatch Logs retention in days, one of 1, 3, 5, 7, 14, 30"),
    ("events_retention_days", "forever", "CloudWatch Logs retention in days, one of 1, 3, 5, 7, 14, 30"),
    ("existing_log_groups", "/ok,/not ok", "not a log group name"),
    ("existing_log_groups", [f"/g{n}" for n in range(21)], "at most 20 groups"),
    ("lambda_architecture", "amd64", "allowed values: arm64, x86_64"),
    ("lambda_memory_mb", "64", "expected a whole number from 128 to 10240"),
    ("powertools_layer_version", "latest", "expected a whole number from 1 to 10000"),
    ("critical_processes", ["java,node"], "separated by commas"),
    ("allow_list", "processes=java", "expected a JSON object"),
    ("allow_list", '{"hosts": ["i-123"]}', "expected a JSON object"),
    ("allow_list", '{"tags": {"team": 1}}', '"tags" to map tag keys to tag values'),
    ("allow_list", '{"units": ["not a unit"]}', "not a systemd unit name or pattern"),
    ("noise_window_minutes", "0", "expected a whole number from 1 to 1440"),
    ("loop_threshold", "1", "expected a whole number from 2 to 1000"),
]


@pytest.mark.parametrize(
    ("key", "value", "why"), RULES, ids=[f"{key}-{index}" for index, (key, _, _) in enumerate(RULES)]
)
def test_a_wrong_value_fails_with_one_line_naming_key_value_and_what_is_allowed(key: str, value: Any, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_app(context_with({key: value}))  # fails before any construct is built
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{key}=")
    assert why in message
    assert caught.value.key == key


def test_the_error_shows_the_offending_value() -> None:
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context({"alert_emails": "oncall@example.com,ops@@example.com"})
    assert str(caught.value).startswith("alert_emails=ops@@example.com: ")
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context({"log_retention_days": 2})
    assert str(caught.value).startswith("log_retention_days=2: ")


def test_the_agents_build_names_are_accepted() -> None:
    # Releases are tagged 1.300071.0; the builds Distributor installs are named 1.300071.0b1720 (CWAGENT_VERSION).
    for version in ("1.300071.0", "1.300071.0b1720", "1.300070.0"):
        assert OomWatchConfig.from_context({"agent_version": version}).agent_version_parameter == version


def test_journald_version_rule_does_not_apply_to_files_only() -> None:
    config = OomWatchConfig.from_context({"log_sources": "files", "agent_version": "1.300069.0"})
    assert config.agent_version_parameter == "1.300069.0"


def test_constructs_read_no_environment_and_no_context() -> None:
    """Config flows one way: cdk.json/-c → app.py → OomWatchConfig → keyword arguments."""
    for path in sorted((REPO / "infra").glob("*.py")):
        text = path.read_text()
        for lookup in ("os.environ", "getenv", "try_get_context", "get_context(", "node.get_context"):
            assert lookup not in text, (path.name, lookup)


def test_config_is_immutable() -> None:
    config = OomWatchConfig.from_context({})
    with pytest.raises(AttributeError):
        config.log_mode = "full"  # type: ignore[misc]
