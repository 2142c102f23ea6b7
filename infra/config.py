"""OOMWatch settings: read from CDK context, validated before any construct is built.

Config flows one way: ``cdk.json`` context (defaults) and ``cdk deploy -c key=value`` (overrides) →
``app.py`` → :meth:`OomWatchConfig.from_context` → keyword-only construct arguments. Constructs never
read context or the environment themselves.

Context values arrive either as JSON values (from ``cdk.json``) or as strings (from ``-c``), so every
parser accepts both: ``-c alert_emails=a@example.com,b@example.com``, ``-c memory_threshold_percent=85``,
``-c target_all_instances=true``, ``-c 'allow_list={"processes":["stress-ng"]}'``.

A wrong value raises :class:`ConfigError`, whose text is ONE line ``<path>=<value>: <why, with what is
allowed>``, where the path names the value inside a structured setting (``allow_list.processes[0]``); a
context key that is neither an OOMWatch setting nor one of CDK's own is ``<key>: unknown setting (did you
mean ...?)``. ``app.py`` prints it as ``oomwatch: config: <that line>`` and exits with status 2.
``docs/configuration.md`` documents every key.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast, get_args

from agent_config.builder import LOG_MODES, LOG_SOURCES, MIN_JOURNALD_AGENT_VERSION, LogMode, LogSources

#: The Lambda asset's folder: the settings table lives there, since the functions read it too.
LAMBDA_CODE: Final = FilePath(__file__).resolve().parent.parent / "lambdas"


def _lambda_module(name: str) -> ModuleType:
    """A stdlib-only module of the Lambda code, as the handlers import it when ``lambdas/`` is on the path
    (tests, the demo), else from its file: ``cdk synth`` runs ``app.py`` from the checkout's root."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        pass
    private = f"_oomwatch_lambda_{name.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(private, LAMBDA_CODE / (name.replace(".", "/") + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from service.models import settings_table as settings_table
else:
    settings_table = _lambda_module("service.models.settings_table")

Architecture = Literal["arm64", "x86_64"]
ARCHITECTURES: Final[tuple[str, ...]] = get_args(Architecture)

#: Retention periods CloudWatch Logs offers (PutRetentionPolicy), in days.
RETENTION_DAYS: Final = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

#: Metrics Insights alarms evaluate at most the last 3 hours, i.e. 180 one-minute periods.
MAX_EVALUATION_PERIODS: Final = 180
#: Longest process name or pattern accepted (the kernel prints at most 15 characters of a process name;
#: the Lambda compares only that many, and systemd unit names are longer).
MAX_NAME_LENGTH: Final = 256
#: One Lambda permission per watched log group; the function policy is limited to 20 KB.
MAX_EXISTING_LOG_GROUPS: Final = 20


def _lambda_default(key: str) -> Any:
    """The default of a setting the Lambda reads, from the table both sides share."""
    return settings_table.json_default(settings_table.BY_KEY[key])


#: The default of every key. ``cdk.json`` holds the same values (a test keeps them equal); those the
#: Lambda reads come from :mod:`service.models.settings_table` (``lambdas/service/models/settings_table.py``).
DEFAULTS: Final[Mapping[str, Any]] = {
    "stack_name": "OomWatch",
    "alert_emails": [],
    "target_all_instances": _lambda_default("target_all_instances"),
    "target_tag_key": _lambda_default("target_tag_key"),
    "target_tag_value": _lambda_default("target_tag_value"),
    "log_mode": _lambda_default("log_mode"),
    "log_sources": "both",
    "agent_version": "latest",
    "memory_threshold_percent": 90,
    "memory_evaluation_periods": 5,
    "memory_datapoints_to_alarm": 5,
    "swap_threshold_percent": 50,
    "swap_evaluation_periods": 5,
    "swap_datapoints_to_alarm": 5,
    "log_retention_days": 30,
    "events_retention_days": 365,
    "existing_log_groups": [],
    "lambda_architecture": "arm64",
    "lambda_memory_mb": 256,
    "powertools_version": "3.23.0",
    "critical_processes": _lambda_default("critical_processes"),
    "allow_list": _lambda_default("allow_list"),
    "noise_window_minutes": _lambda_default("noise_window_minutes"),
    "loop_threshold": _lambda_default("loop_threshold"),
    "dashboard": True,
    "kill_metric": _lambda_default("kill_metric"),
    "sparkline": _lambda_default("sparkline"),
    "coverage_interval_minutes": _lambda_default("coverage_interval_minutes"),
    "mute_max_hours": _lambda_default("mute_max_hours"),
    "mute_breakthrough_critical": _lambda_default("mute_breakthrough_critical"),
    "slack_channels": [],
    "teams_channels": [],
    "event_bus": _lambda_default("event_bus"),
    "pagerduty_secret_arn": "",
}

KEYS: Final = tuple(DEFAULTS)

#: Context keys that belong to CDK, not to OOMWatch, by prefix: feature flags and framework settings
#: (``@aws-cdk/...``, ``@aws-cdk-containers/...``: aws-cdk-lib ``cx-api/lib/features.ts`` and the
#: framework's own keys such as ``@aws-cdk/core:bootstrapQualifier``), the ``aws:cdk:`` keys of
#: ``cx-api/lib/cxapi.ts`` that the CLI sets from its settings (``aws:cdk:enable-path-metadata``,
#: ``aws:cdk:version-reporting``, ``aws:cdk:bundling-stacks``, ...: toolkit-lib ``contextFromSettings``)
#: and ``aws-cdk:enableDiffNoFail``; then the lookup results the CLI caches in ``cdk.context.json``
#: under ``<provider>:<query>`` (cloud-assembly-schema ``ContextProvider``).
CDK_CONTEXT_PREFIXES: Final = (
    "@aws-cdk/",
    "@aws-cdk-containers/",
    "aws:cdk:",
    "aws-cdk:",
    *(
        f"{provider}:"
        for provider in (
            "ami",
            "availability-zones",
            "hosted-zone",
            "ssm",
            "vpc-provider",
            "endpoint-service-availability-zones",
            "load-balancer",
            "load-balancer-listener",
            "security-group",
            "key-provider",
            "cc-api-provider",
            "plugin",
        )
    ),
)
#: CDK context keys without a prefix: ``cdk acknowledge`` and ``cdk cli-telemetry`` save theirs in
#: ``cdk.context.json`` (aws-cdk ``lib/cli/notices``, ``lib/cli/telemetry``); aws-ecr-assets reads the last.
CDK_CONTEXT_KEYS: Final = frozenset({"acknowledged-issue-numbers", "cli-telemetry", "assets-ecr-repository-name"})

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}"
)
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
_TAG_TEXT = re.compile(r"[\w.:/=+\-@ ]+")
_LOG_GROUP_NAME = re.compile(r"[\w.\-/#]{1,512}")
_UNIT_NAME = re.compile(r"[\w@.:\\\-*?\[\]]{1,256}")
#: How the agent names its releases: ``1.300071.0`` in RELEASE_NOTES and the GitHub tags, and the build
#: ``1.300071.0b1720`` (``CWAGENT_VERSION``, the package file names, what Distributor installs).
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:b\d+)?")
#: Powertools v3 releases as the SSM public parameters name them (``3.23.0``; not ``latest``: pinned).
_POWERTOOLS_VERSION = re.compile(r"3\.\d{1,4}\.\d{1,4}")


#: Where a value sits inside a structured setting: object keys (str) and list positions (int).
Path = tuple[str | int, ...]

#: ``value`` of a :class:`ConfigError` about a key rather than a value: the message shows no ``=value``.
NO_VALUE: Final = object()


class ConfigError(ValueError):
    """One invalid setting. ``str()`` is a single line: ``<path>=<value>: <why>`` (or ``<path>: <why>``).

    ``key`` is the setting; ``at`` locates the offending part inside a structured value, so that
    ``{"processes": 3}`` is reported as ``allow_list.processes=3``, not as the whole setting.
    """

    def __init__(self, key: str, value: object, why: str, *, at: Path = ()) -> None:
        self.key = key
        self.at = at
        self.path = key + "".join(_segment(part) for part in at)
        self.value = value
        self.why = why
        shown = _show(self.path) if value is NO_VALUE else f"{_show(self.path)}={_show(value)}"
        super().__init__(f"{shown}: {why}")


def _segment(part: str | int) -> str:
    """``.name`` for an object key, ``[n]`` for a list position; odd keys as JSON strings (``["a b"]``)."""
    if isinstance(part, int):
        return f"[{part}]"
    return f".{part}" if re.fullmatch(r"[\w:@-]+", part) else f"[{json.dumps(part)}]"


def _show(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return " ".join(text.split())  # keep the message on one line


@dataclass(frozen=True, kw_only=True)
class AllowList:
    """Kills the Lambda reports without alerting: by process name, systemd unit, or EC2 instance tag."""

    processes: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        """The ``ALLOW_LIST`` environment variable: ``{"processes": [...], "units": [...], "tags": {...}}``."""
        return settings_table.ALLOW_LIST.encode(
            {"processes": self.processes, "units": self.units, "tags": dict(self.tags)}
        )


@dataclass(frozen=True, kw_only=True)
class SlackChannel:
    """A Slack channel that gets every message of the alert topic (Amazon Q Developer in chat applications)."""

    workspace_id: str
    channel_id: str


@dataclass(frozen=True, kw_only=True)
class TeamsChannel:
    """A Microsoft Teams channel that gets every message of the alert topic; ``channel_id`` URL-encoded."""

    team_id: str
    channel_id: str
    tenant_id: str


@dataclass(frozen=True, kw_only=True)
class OomWatchConfig:
    """Every OOMWatch setting, validated. See ``docs/configuration.md`` for meanings and defaults."""

    stack_name: str
    alert_emails: tuple[str, ...]
    target_all_instances: bool
    target_tag_key: str
    target_tag_value: str
    log_mode: LogMode
    log_sources: LogSources
    agent_version: str
    memory_threshold_percent: float
    memory_evaluation_periods: int
    memory_datapoints_to_alarm: int
    swap_threshold_percent: float
    swap_evaluation_periods: int
    swap_datapoints_to_alarm: int
    log_retention_days: int
    events_retention_days: int
    existing_log_groups: tuple[str, ...]
    lambda_architecture: Architecture
    lambda_memory_mb: int
    powertools_version: str
    critical_processes: tuple[str, ...]
    allow_list: AllowList
    noise_window_minutes: int
    loop_threshold: int
    dashboard: bool
    kill_metric: bool
    sparkline: bool
    coverage_interval_minutes: int
    mute_max_hours: int = 72
    mute_breakthrough_critical: bool = True
    slack_channels: tuple[SlackChannel, ...] = ()
    teams_channels: tuple[TeamsChannel, ...] = ()
    event_bus: str = ""
    pagerduty_secret_arn: str = ""

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> OomWatchConfig:
        """Parse and validate; keys missing from ``context`` take their :data:`DEFAULTS` value."""

        _check_keys(context)

        def get(key: str) -> Any:
            value = context.get(key)
            return DEFAULTS[key] if value is None else value

        log_sources = _choice("log_sources", get("log_sources"), LOG_SOURCES)
        memory_periods = _int("memory_evaluation_periods", get("memory_evaluation_periods"), 1, MAX_EVALUATION_PERIODS)
        swap_periods = _int("swap_evaluation_periods", get("swap_evaluation_periods"), 1, MAX_EVALUATION_PERIODS)
        return cls(
            stack_name=_matching(
                "stack_name", get("stack_name"), _STACK_NAME, "a letter, then up to 63 letters, digits or hyphens"
            ),
            alert_emails=_emails(get("alert_emails")),
            target_all_instances=_bool("target_all_instances", get("target_all_instances")),
            target_tag_key=_tag_key(get("target_tag_key")),
            target_tag_value=_matching(
                "target_tag_value",
                get("target_tag_value"),
                _TAG_TEXT,
                "1-256 letters, digits, spaces or _ . : / = + - @",
                max_length=256,
            ),
            log_mode=cast(LogMode, _choice("log_mode", get("log_mode"), LOG_MODES)),
            log_sources=cast(LogSources, log_sources),
            agent_version=_agent_version(get("agent_version"), journald=log_sources in ("both", "journald")),
            memory_threshold_percent=_percent("memory_threshold_percent", get("memory_threshold_percent")),
            memory_evaluation_periods=memory_periods,
            memory_datapoints_to_alarm=_datapoints(
                "memory_datapoints_to_alarm", get("memory_datapoints_to_alarm"), memory_periods
            ),
            swap_threshold_percent=_percent("swap_threshold_percent", get("swap_threshold_percent")),
            swap_evaluation_periods=swap_periods,
            swap_datapoints_to_alarm=_datapoints(
                "swap_datapoints_to_alarm", get("swap_datapoints_to_alarm"), swap_periods
            ),
            log_retention_days=_retention("log_retention_days", get("log_retention_days")),
            events_retention_days=_retention("events_retention_days", get("events_retention_days")),
            existing_log_groups=_log_groups(get("existing_log_groups")),
            lambda_architecture=cast(
                Architecture, _choice("lambda_architecture", get("lambda_architecture"), ARCHITECTURES)
            ),
            lambda_memory_mb=_int("lambda_memory_mb", get("lambda_memory_mb"), 128, 10240),
            powertools_version=_powertools_version(get("powertools_version")),
            critical_processes=_process_names("critical_processes", get("critical_processes")),
            allow_list=_allow_list(get("allow_list")),
            noise_window_minutes=_whole(settings_table.NOISE_WINDOW, get("noise_window_minutes")),
            loop_threshold=_whole(settings_table.LOOP_THRESHOLD, get("loop_threshold")),
            dashboard=_bool("dashboard", get("dashboard")),
            kill_metric=_bool("kill_metric", get("kill_metric")),
            sparkline=_bool("sparkline", get("sparkline")),
            coverage_interval_minutes=_coverage_interval(get("coverage_interval_minutes")),
            mute_max_hours=_whole(settings_table.MUTE_MAX_HOURS, get("mute_max_hours")),
            mute_breakthrough_critical=_bool("mute_breakthrough_critical", get("mute_breakthrough_critical")),
            slack_channels=_chat_channels("slack_channels", get("slack_channels"), SLACK_FIELDS, SlackChannel),
            teams_channels=_chat_channels("teams_channels", get("teams_channels"), TEAMS_FIELDS, TeamsChannel),
            **_event_contract(get("event_bus"), get("pagerduty_secret_arn")),
        )

    @property
    def critical_processes_csv(self) -> str:
        """The ``CRITICAL_PROCESSES`` environment variable."""
        return settings_table.CRITICAL_PROCESSES.encode(self.critical_processes)

    @property
    def agent_version_parameter(self) -> str | None:
        """``version`` for AWS-ConfigureAWSPackage; None (parameter omitted) installs the latest release."""
        return None if self.agent_version == "latest" else self.agent_version


def is_cdk_context_key(key: str) -> bool:
    """Whether ``key`` is one of CDK's own context keys (a feature flag, a CLI setting, a cached lookup)."""
    return key in CDK_CONTEXT_KEYS or key.startswith(CDK_CONTEXT_PREFIXES)


def _check_keys(context: Mapping[str, Any]) -> None:
    """A key that is neither an OOMWatch setting nor CDK's is a typo until shown otherwise: refuse it."""
    for key in context:
        if key not in DEFAULTS and not is_cdk_context_key(key):
            raise ConfigError(key, NO_VALUE, f"unknown setting ({_did_you_mean(key, KEYS)})")


def _did_you_mean(name: str, known: tuple[str, ...]) -> str:
    """``did you mean alert_emails?`` for the closest known name, else the list (or where it is)."""
    close = difflib.get_close_matches(name.lower(), known, n=1)
    if close:
        return f"did you mean {close[0]}?"
    if len(known) <= 5:
        return f"allowed: {', '.join(known)}"
    return "the settings are listed in docs/configuration.md"


# --- parsers: each raises ConfigError naming the key, the value and what is allowed ---------------------


def _text(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(key, value, "expected a single value, not a list or an object")
    return str(value).strip()


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = _text(key, value)
    if text not in allowed:
        raise ConfigError(key, value, f"allowed values: {', '.join(allowed)}")
    return text


def _matching(key: str, value: Any, pattern: re.Pattern[str], allowed: str, *, max_length: int = 10_000) -> str:
    text = _text(key, value)
    if not pattern.fullmatch(text) or len(text) > max_length:
        raise ConfigError(key, value, f"expected {allowed}")
    return text


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, value, f"expected a whole number from {low} to {high}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        number = int(value)
    else:
        raise ConfigError(key, value, f"expected a whole number from {low} to {high}")
    if not low <= number <= high:
        raise ConfigError(key, value, f"expected a whole number from {low} to {high}")
    return number


#: The coverage check's bounds (``lambdas/service/models/settings_table.py`` says why).
COVERAGE_INTERVAL_MIN: Final = cast(int, settings_table.COVERAGE_INTERVAL.low)
COVERAGE_INTERVAL_MAX: Final = cast(int, settings_table.COVERAGE_INTERVAL.high)


def _whole(setting: settings_table.Setting, value: Any) -> int:
    """A whole number within the bounds the Lambda reads it with."""
    assert setting.low is not None and setting.high is not None and setting.off is None
    return _int(setting.key, value, setting.low, setting.high)


def _coverage_interval(value: Any) -> int:
    """0 (coverage check off), or 15 to 1440 minutes."""
    setting = settings_table.COVERAGE_INTERVAL
    why = f"expected 0 (off) or a whole number of minutes from {COVERAGE_INTERVAL_MIN} to {COVERAGE_INTERVAL_MAX}"
    try:
        number = _int(setting.key, value, 0, COVERAGE_INTERVAL_MAX)
    except ConfigError:
        raise ConfigError(setting.key, value, why) from None
    if not setting.allows(number):
        raise ConfigError(setting.key, value, why)
    return number


#: EventBridge bus names (CreateEventBus ``Name``: 1-256 of ``[/\.\-_A-Za-z0-9]``; a custom bus's name has no
#: ``/``) and the bus ARN PutEvents takes as ``EventBusName``
#: (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html).
_EVENT_BUS_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,256}")
_EVENT_BUS_ARN = re.compile(
    r"arn:aws[\w-]*:events:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:event-bus/[.\-_A-Za-z0-9]{1,256}"
)
#: Secrets Manager secret ARNs (``arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>``).
_SECRET_ARN = re.compile(r"arn:aws[\w-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:secret:[\w/+=.@-]{1,512}")


def _event_contract(bus_value: Any, secret_value: Any) -> dict[str, str]:
    """``event_bus`` ("" when off) and ``pagerduty_secret_arn`` (which needs a bus)."""
    bus = _text("event_bus", bus_value)
    if bus.lower() == "off":
        bus = ""
    if bus and not (_EVENT_BUS_NAME.fullmatch(bus) or _EVENT_BUS_ARN.fullmatch(bus)):
        raise ConfigError(
            "event_bus",
            bus_value,
            "expected default, off, an event bus name (1-256 letters, digits, . - _) or an event bus ARN",
        )
    if bus.startswith("aws."):
        raise ConfigError("event_bus", bus_value, "aws.* buses are partner event buses: OOMWatch cannot put to them")
    secret = _text("pagerduty_secret_arn", secret_value)
    if secret and not _SECRET_ARN.fullmatch(secret):
        raise ConfigError(
            "pagerduty_secret_arn",
            secret_value,
            'expected "" or a Secrets Manager secret ARN (arn:aws:secretsmanager:...)',
        )
    if secret and not bus:
        raise ConfigError("pagerduty_secret_arn", secret_value, "needs event_bus (it is off)")
    return {"event_bus": bus, "pagerduty_secret_arn": secret}


def _percent(key: str, value: Any) -> float:
    why = "expected a percentage from 1 to 100"
    if isinstance(value, bool):
        raise ConfigError(key, value, why)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, why) from None
    if not 1 <= number <= 100:
        raise ConfigError(key, value, why)
    return number


def _datapoints(key: str, value: Any, periods: int) -> int:
    try:
        return _int(key, value, 1, periods)
    except ConfigError:
        periods_key = key.replace("datapoints_to_alarm", "evaluation_periods")
        raise ConfigError(key, value, f"expected a whole number from 1 to {periods_key} ({periods})") from None


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(key, value, "expected true or false")


def _list(key: str, value: Any, at: Path = ()) -> list[Any]:
    """A JSON list, or a comma-separated string (``-c key=a,b``); an empty string is an empty list."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(key, value, "expected a JSON list or comma-separated values", at=at) from None
            if isinstance(parsed, list):
                return parsed
        return [item.strip() for item in text.split(",") if item.strip()]
    raise ConfigError(key, value, "expected a list or comma-separated values", at=at)


def _items(key: str, value: Any, check: Callable[[str], bool], why: str, at: Path = ()) -> tuple[str, ...]:
    """The list's strings, each checked; an error names the item's position (``key[1]``)."""
    items: list[str] = []
    for index, item in enumerate(_list(key, value, at)):
        if not isinstance(item, str) or not check(item):
            raise ConfigError(key, item, why, at=(*at, index))
        if item in items:
            raise ConfigError(key, item, "listed twice", at=(*at, index))
        items.append(item)
    return tuple(items)


def _emails(value: Any) -> tuple[str, ...]:
    return _items(
        "alert_emails",
        value,
        lambda item: bool(_EMAIL.fullmatch(item)) and len(item) <= 254,
        "not an e-mail address (expected name@example.com; separate several with commas)",
    )


def _tag_key(value: Any) -> str:
    text = _matching(
        "target_tag_key", value, _TAG_TEXT, "1-128 letters, digits, spaces or _ . : / = + - @", max_length=128
    )
    if text.lower().startswith("aws:"):
        raise ConfigError("target_tag_key", value, "tag keys starting with aws: are reserved by AWS")
    return text


def _retention(key: str, value: Any) -> int:
    allowed = ", ".join(str(days) for days in RETENTION_DAYS)
    try:
        days = _int(key, value, 1, RETENTION_DAYS[-1])
    except ConfigError:
        raise ConfigError(key, value, f"CloudWatch Logs retention in days, one of {allowed}") from None
    if days not in RETENTION_DAYS:
        raise ConfigError(key, value, f"CloudWatch Logs retention in days, one of {allowed}")
    return days


def _log_groups(value: Any) -> tuple[str, ...]:
    groups = _items(
        "existing_log_groups",
        value,
        lambda item: bool(_LOG_GROUP_NAME.fullmatch(item)),
        "not a log group name (1-512 of letters, digits and _ - / . #)",
    )
    if len(groups) > MAX_EXISTING_LOG_GROUPS:
        raise ConfigError(
            "existing_log_groups", value, f"at most {MAX_EXISTING_LOG_GROUPS} groups (one Lambda permission each)"
        )
    return groups


def _agent_version(value: Any, *, journald: bool) -> str:
    text = _text("agent_version", value)
    if text == "latest":
        return text
    match = _VERSION.fullmatch(text)
    if not match:
        raise ConfigError("agent_version", value, "expected latest or a release such as 1.300071.0 or 1.300071.0b1720")
    minimum = ".".join(str(part) for part in MIN_JOURNALD_AGENT_VERSION)
    if journald and tuple(int(part) for part in match.groups()) < MIN_JOURNALD_AGENT_VERSION:
        raise ConfigError("agent_version", value, f"journald collection needs {minimum} or later (or latest)")
    return text


def _powertools_version(value: Any) -> str:
    """A Powertools for AWS Lambda (Python) v3 release: the functions use its V3 layer, whose ARN AWS publishes
    as the public SSM parameter ``/aws/service/powertools/python/<arch>/python3.13/<version>``."""
    text = _text("powertools_version", value)
    if not _POWERTOOLS_VERSION.fullmatch(text):
        raise ConfigError(
            "powertools_version", value, "expected a Powertools for AWS Lambda (Python) 3.x release such as 3.23.0"
        )
    return text


def _process_names(key: str, value: Any, at: Path = ()) -> tuple[str, ...]:
    return _items(
        key,
        value,
        lambda item: 0 < len(item) <= MAX_NAME_LENGTH and "," not in item and item.strip() == item,
        "expected process names or shell-style patterns (such as java or php-fpm*), separated by commas",
        at,
    )


#: The keys of ``allow_list``.
ALLOW_LIST_KEYS: Final = ("processes", "units", "tags")


def _allow_list(value: Any) -> AllowList:
    raw = value
    if isinstance(value, str):
        try:
            raw = json.loads(value)
        except json.JSONDecodeError:
            raw = None
    if not isinstance(raw, dict):
        raise ConfigError(
            "allow_list", value, 'expected a JSON object {"processes": [...], "units": [...], "tags": {"key": "value"}}'
        )
    for name in raw:
        if name not in ALLOW_LIST_KEYS:
            raise ConfigError(
                "allow_list", NO_VALUE, f"unknown key ({_did_you_mean(str(name), ALLOW_LIST_KEYS)})", at=(str(name),)
            )
    return AllowList(
        processes=_process_names("allow_list", raw.get("processes", []), ("processes",)),
        units=_items(
            "allow_list",
            raw.get("units", []),
            lambda item: bool(_UNIT_NAME.fullmatch(item)),
            "not a systemd unit name or pattern (such as nginx.service or batch-*.service)",
            ("units",),
        ),
        tags=_tags(raw.get("tags", {})),
    )


def _tags(value: Any) -> tuple[tuple[str, str], ...]:
    """``allow_list.tags``: EC2 tag key → value, within EC2's limits (128 and 256 characters)."""
    if not isinstance(value, dict):
        raise ConfigError(
            "allow_list", value, 'expected an object mapping tag keys to values {"key": "value"}', at=("tags",)
        )
    for key, tag_value in value.items():
        if not 0 < len(key) <= 128:
            raise ConfigError("allow_list", json.dumps(key), "not a tag key (1-128 characters)", at=("tags",))
        if not isinstance(tag_value, str) or len(tag_value) > 256:
            raise ConfigError(
                "allow_list", tag_value, "expected a tag value (a string of up to 256 characters)", at=("tags", key)
            )
    return tuple(sorted(value.items()))


# --- chat channels (Amazon Q Developer in chat applications) -----------------------------------------------

_GUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
#: A Teams channel id as CloudFormation takes it: URL-encoded, ``19%3A...%40thread.tacv2``
#: (``AWS::Chatbot::MicrosoftTeamsChannelConfiguration`` TeamsChannelId); ``19:...@thread.tacv2`` is encoded.
_TEAMS_CHANNEL = re.compile(r"[\w\-=+/.,]*%3[aA][\w\-=+/.,]*%40[\w\-=+/.,]*")
_TEAMS_GUID = "a GUID such as 2f1e5a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#: Per field of an entry: the pattern it must match, what it is, and how it looks and where to find it.
ChatFields = Mapping[str, tuple[re.Pattern[str], str, str]]
SLACK_FIELDS: Final[ChatFields] = {
    "workspace_id": (
        re.compile(r"T[0-9A-Z]{8,20}"),
        "a Slack workspace id",
        "T and 8-20 capital letters or digits, such as T0123ABCD; the Amazon Q Developer console shows it once "
        "the workspace is authorised",
    ),
    "channel_id": (
        re.compile(r"[CG][0-9A-Z]{8,20}"),
        "a Slack channel id",
        "C or G and 8-20 capital letters or digits, such as C0123ABCD; the end of the channel's link",
    ),
}
TEAMS_FIELDS: Final[ChatFields] = {
    "team_id": (_GUID, "a Microsoft Teams team id", f"{_TEAMS_GUID}; groupId= in the channel's link"),
    "channel_id": (
        _TEAMS_CHANNEL,
        "a Microsoft Teams channel id",
        "19%3A...%40thread.tacv2 (or 19:...@thread.tacv2) as in the channel's link, up to 256 characters",
    ),
    "tenant_id": (_GUID, "a Microsoft Entra tenant id", f"{_TEAMS_GUID}; tenantId= in the channel's link"),
}


def _teams_channel_id(text: str) -> str:
    """``19:abc@thread.tacv2`` as the link encodes it (``19%3Aabc%40thread.tacv2``); an encoded id as it is."""
    return text.replace(":", "%3A").replace("@", "%40") if "%" not in text else text


_Channel = TypeVar("_Channel", SlackChannel, TeamsChannel)


def _chat_channels(key: str, value: Any, fields: ChatFields, build: Callable[..., _Channel]) -> tuple[_Channel, ...]:
    """A JSON list of objects with exactly ``fields``, each value checked; a channel id twice is refused (the
    construct names its configuration after it)."""
    example = json.dumps([dict.fromkeys(fields, "...")])
    raw = value
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list):
        raise ConfigError(key, raw, f"expected a JSON list such as {example}")
    channels: list[_Channel] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError(key, entry, f"expected an object such as {example[1:-1]}", at=(index,))
        channel = build(**_chat_channel_fields(key, index, entry, fields))
        if any(other.channel_id == channel.channel_id for other in channels):  # it names the resources
            raise ConfigError(key, entry, "listed twice", at=(index,))
        channels.append(channel)
    return tuple(channels)


def _chat_channel_fields(key: str, index: int, entry: dict[str, Any], fields: ChatFields) -> dict[str, str]:
    """One channel's values: no key but ``fields``, each present and matching its pattern."""
    for name in entry:
        if name not in fields:
            why = f"unknown key ({_did_you_mean(str(name), tuple(fields))})"
            raise ConfigError(key, NO_VALUE, why, at=(index, str(name)))
    values = {}
    for name, (pattern, noun, detail) in fields.items():
        if name not in entry:
            raise ConfigError(key, NO_VALUE, f"missing: {noun} is required ({detail})", at=(index, name))
        text = entry[name]
        if key == "teams_channels" and name == "channel_id" and isinstance(text, str):
            text = _teams_channel_id(text)
        if not isinstance(text, str) or len(text) > 256 or not pattern.fullmatch(text):
            raise ConfigError(key, entry[name], f"not {noun} ({detail})", at=(index, name))
        values[name] = text
    return values
