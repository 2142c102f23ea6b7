"""The settings both sides read: one row per setting, its cdk.json key, default, bounds and environment name.

The CDK app (``infra/config.py``, strict: a bad value fails synth) and the Lambda (``service/models/settings.py``,
forgiving: a bad value degrades to a default and a warning) both take a setting's default, bounds and environment
variable from here, so they cannot drift apart. It lives under ``lambdas/`` because the Lambda asset ships that
folder only; it imports nothing but the standard library, so infra can import it without AWS or CDK.

Units stay what the key says along the whole path: ``noise_window_minutes`` is minutes in ``cdk.json``, in
``NOISE_WINDOW_MINUTES``, in ``Settings.noise_window_minutes`` and in the state store's ``window_minutes``, up to
``service.dal.state.windows.window_ms``, the one conversion, where a window opens on the items' clock (epoch ms).
``COVERAGE_INTERVAL_MINUTES`` likewise reaches the store in minutes.

``absent`` is what the Lambda assumes when the variable is missing (a function deployed before the variable
existed), which is not always the ``cdk.json`` default: ``KILL_METRIC`` (and ``SPARKLINE``) missing means off, as
it was before the setting; ``COVERAGE_INTERVAL_MINUTES`` missing means no coverage check. The environment names are
a contract with deployed stacks: never rename them.
"""

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

#: How a value is written into, and read back from, its environment variable.
Codec = Literal["whole", "bool", "names", "json", "text"]


class Setting(NamedTuple):
    """One setting the Lambda reads: ``key`` in cdk.json, ``env`` in the functions' environment.

    Whole numbers are ``low``..``high``, or exactly ``off`` (a value that turns the feature off). ``doc`` is the
    sentence docs/configuration.md gives it (a test checks the docs name the same default and bounds). Rows are
    written with keywords (a test holds every row to that). A NamedTuple: a frozen dataclass costs the Lambda
    about 1.5 ms of its cold start to build.
    """

    key: str
    env: str
    codec: Codec
    default: object
    absent: object
    functions: tuple[str, ...]
    doc: str
    unit: str = ""
    low: int | None = None
    high: int | None = None
    off: int | None = None

    def allows(self, number: int) -> bool:
        """Whether a whole number is within this setting's bounds (``off`` included)."""
        if self.low is None or self.high is None:
            raise TypeError(f"{self.key} is not a whole number")
        return number == self.off or self.low <= number <= self.high

    @property
    def bounds(self) -> str:
        """The bounds as the docs and the error messages write them: ``1-1440``, ``0 (off), 15-1440``."""
        span = f"{self.low}-{self.high}"
        return span if self.off is None else f"{self.off} (off), {span}"

    def encode(self, value: object) -> str:
        """The environment variable's text for a validated value (``infra/processing.py`` writes it)."""
        if self.codec == "bool":
            return "true" if value else "false"
        if self.codec == "names":
            assert isinstance(value, Sequence) and not isinstance(value, str)
            return ",".join(str(name) for name in value)
        if self.codec == "json":
            assert isinstance(value, Mapping)
            return json.dumps(_plain(value), separators=(",", ":"))
        return str(value)


NOISE_WINDOW: Final = Setting(
    key="noise_window_minutes",
    env="NOISE_WINDOW_MINUTES",
    codec="whole",
    default=15,
    absent=15,
    unit="minutes",
    low=1,
    high=24 * 60,
    functions=("oom", "digest"),
    doc="Repeats of the same kill (same fingerprint) within this window go into a digest.",
)
LOOP_THRESHOLD: Final = Setting(
    key="loop_threshold",
    env="LOOP_THRESHOLD",
    codec="whole",
    default=5,
    absent=5,
    unit="kills",
    low=2,
    high=1000,
    functions=("oom", "digest"),
    doc='Kills of the same fingerprint within the window that make it an "OOM loop" alert.',
)
#: Every digest run (5 minutes) would be 12 Metrics Insights queries an hour; 15 minutes is the shortest
#: interval that still tells "silent" from "just launched".
COVERAGE_INTERVAL: Final = Setting(
    key="coverage_interval_minutes",
    env="COVERAGE_INTERVAL_MINUTES",
    codec="whole",
    default=60,
    absent=0,
    unit="minutes",
    low=15,
    high=24 * 60,
    off=0,
    functions=("digest",),
    doc="How often the digest function checks fleet coverage (0: never).",
)
CRITICAL_PROCESSES: Final = Setting(
    key="critical_processes",
    env="CRITICAL_PROCESSES",
    codec="names",
    default=("mysqld", "mariadbd", "postgres", "php-fpm", "nginx", "httpd", "apache2", "java", "node", "redis-server"),
    absent=("mysqld", "mariadbd", "postgres", "php-fpm", "nginx", "httpd", "apache2", "java", "node", "redis-server"),
    functions=("oom", "digest"),
    doc="A kill of one of these is an alert of severity critical.",
)
ALLOW_LIST: Final = Setting(
    key="allow_list",
    env="ALLOW_LIST",
    codec="json",
    default=MappingProxyType({"processes": (), "units": (), "tags": MappingProxyType({})}),
    absent=MappingProxyType({"processes": (), "units": (), "tags": MappingProxyType({})}),
    functions=("oom", "digest"),
    doc="Expected kills: recorded as events, never alerted.",
)
KILL_METRIC: Final = Setting(
    key="kill_metric",
    env="KILL_METRIC",
    codec="bool",
    default=False,  # a custom metric is billed: opt in (docs/cost.md)
    absent=False,
    functions=("oom",),
    doc="One OOMKills value per kill event, by Auto Scaling group.",
)
#: ``absent`` is off: a function deployed before the setting has no ``cloudwatch:GetMetricData`` permission.
SPARKLINE: Final = Setting(
    key="sparkline",
    env="SPARKLINE",
    codec="bool",
    default=False,  # billed per metric read, and a cloudwatch:GetMetricData grant on "*": opt in
    absent=False,
    functions=("oom",),
    doc="Kill alerts show memory and swap use over the hour before the kill (one GetMetricData call per delivery).",
)
LOG_MODE: Final = Setting(
    key="log_mode",
    env="LOG_MODE",
    codec="text",
    default="oom",
    absent="",
    functions=("oom",),
    doc="How much of the hosts' logs reaches CloudWatch Logs.",
)
MUTE_MAX_HOURS: Final = Setting(
    key="mute_max_hours",
    env="MUTE_MAX_HOURS",
    codec="whole",
    default=72,
    absent=72,
    unit="hours",
    low=1,
    high=720,
    functions=("oom", "digest"),
    doc="The longest a mute (oomwatch mute --for) may last; the CLI and the Lambda both enforce it.",
)
MUTE_BREAKTHROUGH_CRITICAL: Final = Setting(
    key="mute_breakthrough_critical",
    env="MUTE_BREAKTHROUGH_CRITICAL",
    codec="bool",
    default=True,
    absent=True,
    functions=("oom",),
    doc="A critical kill of a host that ran out of memory alerts despite a mute, and says so.",
)
TARGET_TAG_KEY: Final = Setting(
    key="target_tag_key",
    env="TARGET_TAG_KEY",
    codec="text",
    default="oomwatch:enabled",
    absent="",
    functions=("digest",),
    doc="Hosts carrying this tag are watched (coverage check).",
)
TARGET_TAG_VALUE: Final = Setting(
    key="target_tag_value",
    env="TARGET_TAG_VALUE",
    codec="text",
    default="true",
    absent="",
    functions=("digest",),
    doc="... with this value.",
)
TARGET_ALL_INSTANCES: Final = Setting(
    key="target_all_instances",
    env="TARGET_ALL_INSTANCES",
    codec="bool",
    default=False,
    absent=False,
    functions=("digest",),
    doc="Every SSM-managed instance is watched, tags ignored.",
)

#: PutEvents is $1.00 per million custom events (64 KB chunks): at one event per kill, loop, digest and notice, a
#: fleet with 10,000 kills a month pays a cent, so the contract is on by default (docs/cost.md).
EVENT_BUS: Final = Setting(
    key="event_bus",
    env="EVENT_BUS",
    codec="text",
    default="default",
    absent="",
    functions=("oom", "digest", "alarm", "association"),
    doc="The EventBridge bus that gets an event per kill, loop, digest and notice (off: none).",
)

#: Every setting the Lambda reads from a cdk.json key, in the order docs/configuration.md lists them.
LAMBDA_SETTINGS: Final = (
    TARGET_TAG_KEY,
    TARGET_TAG_VALUE,
    TARGET_ALL_INSTANCES,
    LOG_MODE,
    CRITICAL_PROCESSES,
    ALLOW_LIST,
    NOISE_WINDOW,
    LOOP_THRESHOLD,
    KILL_METRIC,
    SPARKLINE,
    COVERAGE_INTERVAL,
    MUTE_MAX_HOURS,
    MUTE_BREAKTHROUGH_CRITICAL,
    EVENT_BUS,
)
BY_KEY: Final[Mapping[str, Setting]] = {setting.key: setting for setting in LAMBDA_SETTINGS}


def json_default(setting: Setting) -> object:
    """The default as ``cdk.json`` writes it (lists and objects, not tuples and proxies)."""
    return _plain(setting.default)


def _plain(value: object) -> object:
    """JSON-ready copies of mappings and sequences (``json`` takes neither tuples' nor proxies' types for granted)."""
    if isinstance(value, Mapping):
        return {str(name): _plain(part) for name, part in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(part) for part in value]
    return value
