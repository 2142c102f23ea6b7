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
    assert (config.lambda_architecture, config.powertools_version) == ("arm64", "3.23.0")
    assert (config.noise_window_minutes, config.loop_threshold) == (15, 5)
    assert config.allow_list == AllowList()
    assert config.agent_version_parameter is None  # latest: the host checks the version journald needs
    assert (config.dashboard, config.kill_metric, config.sparkline) == (True, False, False)  # opt-ins off


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
    ("powertools_version", "latest", "expected a Powertools for AWS Lambda (Python) 3.x release such as 3.23.0"),
    ("powertools_version", 27, "expected a Powertools for AWS Lambda (Python) 3.x release"),
    ("powertools_version", "2.43.1", "expected a Powertools for AWS Lambda (Python) 3.x release"),
    ("critical_processes", ["java,node"], "separated by commas"),
    ("allow_list", "processes=java", "expected a JSON object"),
    ("allow_list", '{"hosts": ["i-123"]}', "unknown key (allowed: processes, units, tags)"),
    ("allow_list", '{"tags": {"team": 1}}', "expected a tag value (a string of up to 256 characters)"),
    ("allow_list", '{"units": ["not a unit"]}', "not a systemd unit name or pattern"),
    ("noise_window_minutes", "0", "expected a whole number from 1 to 1440"),
    ("loop_threshold", "1", "expected a whole number from 2 to 1000"),
    ("dashboard", "yes", "expected true or false"),
    ("kill_metric", 1, "expected true or false"),
]


@pytest.mark.parametrize(
    ("key", "value", "why"), RULES, ids=[f"{key}-{index}" for index, (key, _, _) in enumerate(RULES)]
)
def test_a_wrong_value_fails_with_one_line_naming_key_value_and_what_is_allowed(key: str, value: Any, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_app(context_with({key: value}))  # fails before any construct is built
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{caught.value.path}=") or message.startswith(f"{caught.value.path}: ")
    assert caught.value.path.startswith(key)
    assert why in message
    assert caught.value.key == key


def test_the_error_shows_the_offending_value() -> None:
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context({"alert_emails": "oncall@example.com,ops@@example.com"})
    assert str(caught.value).startswith("alert_emails[1]=ops@@example.com: ")
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


# --- keys that are no setting, and errors inside structured values (issue 11) ---------------------------


def test_an_unknown_key_is_refused_with_the_closest_setting() -> None:
    """A typo used to be ignored: ``-c alert_email=...`` deployed without any e-mail subscription."""
    with pytest.raises(ConfigError) as caught:
        build_app(context_with({"alert_email": "oncall@example.com"}))
    assert str(caught.value) == "alert_email: unknown setting (did you mean alert_emails?)"
    assert caught.value.key == "alert_email"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("Alert_Emails", "Alert_Emails: unknown setting (did you mean alert_emails?)"),
        ("memory_threshold", "memory_threshold: unknown setting (did you mean memory_threshold_percent?)"),
        ("allow_list.processes", "allow_list.processes: unknown setting (did you mean allow_list?)"),
        ("frobnicate", "frobnicate: unknown setting (the settings are listed in docs/configuration.md)"),
        # near CDK's own names, but not theirs: a prefix must match exactly
        (
            "aws-cdk-enableDiffNoFail",
            "aws-cdk-enableDiffNoFail: unknown setting (the settings are listed in docs/configuration.md)",
        ),
        ("@aws-cdk", "@aws-cdk: unknown setting (the settings are listed in docs/configuration.md)"),
    ],
)
def test_unknown_keys_name_themselves(key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context({key: "x"})
    assert str(caught.value) == message


def test_cdk_own_context_keys_are_left_alone() -> None:
    """What the CDK CLI itself puts into the context (toolkit-lib ``contextFromSettings``, cdk.context.json)."""
    config = OomWatchConfig.from_context(
        context_with(
            {
                "aws:cdk:enable-path-metadata": True,
                "aws:cdk:enable-asset-metadata": True,
                "aws:cdk:version-reporting": True,
                "aws:cdk:disable-version-reporting": True,
                "aws:cdk:bundling-stacks": ["**"],
                "aws:cdk:disable-asset-staging": True,
                "@aws-cdk/core:failSynthOnValidationErrors": False,
                "@aws-cdk/core:bootstrapQualifier": "hnb659fds",
                "@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver": True,
                "aws-cdk:enableDiffNoFail": True,
                "acknowledged-issue-numbers": [32775],
                "cli-telemetry": False,
                "assets-ecr-repository-name": "assets",
                "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a", "eu-west-1b"],
                "ssm:account=123456789012:parameterName=/x:region=eu-west-1": "value",
            }
        )
    )
    assert config == OomWatchConfig.from_context({})


# (setting, value, the whole message): the path names the part that is wrong, for every structured kind.
STRUCTURED: list[tuple[str, Any, str]] = [
    ("allow_list", '{"processes": 3}', "allow_list.processes=3: expected a list or comma-separated values"),
    (
        "allow_list",
        '{"processes": ["java", 3]}',
        "allow_list.processes[1]=3: expected process names or shell-style patterns (such as java or php-fpm*), "
        "separated by commas",
    ),
    ("allow_list", {"processes": ["java", "java"]}, "allow_list.processes[1]=java: listed twice"),
    (
        "allow_list",
        '{"units": ["ok.service", "not a unit"]}',
        "allow_list.units[1]=not a unit: not a systemd unit name or pattern (such as nginx.service or batch-*.service)",
    ),
    ("allow_list", '{"units": {"a": 1}}', 'allow_list.units={"a":1}: expected a list or comma-separated values'),
    (
        "allow_list",
        '{"tags": {"team": 1}}',
        "allow_list.tags.team=1: expected a tag value (a string of up to 256 characters)",
    ),
    (
        "allow_list",
        '{"tags": {"oom expected": "x", "oomwatch:skip": ["y"]}}',
        'allow_list.tags.oomwatch:skip=["y"]: expected a tag value (a string of up to 256 characters)',
    ),
    (
        "allow_list",
        '{"tags": {"a.b": 2}}',
        'allow_list.tags["a.b"]=2: expected a tag value (a string of up to 256 characters)',
    ),
    ("allow_list", '{"tags": {"": "x"}}', 'allow_list.tags="": not a tag key (1-128 characters)'),
    (
        "allow_list",
        '{"tags": ["team"]}',
        'allow_list.tags=["team"]: expected an object mapping tag keys to values {"key": "value"}',
    ),
    ("allow_list", '{"process": ["java"]}', "allow_list.process: unknown key (did you mean processes?)"),
    ("allow_list", '{"hosts": ["i-1"]}', "allow_list.hosts: unknown key (allowed: processes, units, tags)"),
    (
        "alert_emails",
        "oncall@example.com,ops@@example.com",
        "alert_emails[1]=ops@@example.com: not an e-mail address (expected name@example.com; separate several "
        "with commas)",
    ),
    (
        "alert_emails",
        ["oncall@example.com", 7],
        "alert_emails[1]=7: not an e-mail address (expected name@example.com; separate several with commas)",
    ),
    ("critical_processes", '["java", "node", "java"]', "critical_processes[2]=java: listed twice"),
    (
        "existing_log_groups",
        "/ok,/not ok",
        "existing_log_groups[1]=/not ok: not a log group name (1-512 of letters, digits and _ - / . #)",
    ),
    ("existing_log_groups", {"a": 1}, 'existing_log_groups={"a":1}: expected a list or comma-separated values'),
]


@pytest.mark.parametrize(("key", "value", "message"), STRUCTURED, ids=[m.split("=")[0] for _, _, m in STRUCTURED])
def test_an_error_inside_a_structured_value_names_its_path(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context({key: value})
    assert str(caught.value) == message
    assert caught.value.key == key
