"""Configuration read from the environment the CDK stack sets (names are a contract with infra/).

Parsing is forgiving on purpose: a typo in ``ALLOW_LIST`` or ``LOOP_THRESHOLD`` must degrade to
the defaults and a warning, never stop OOM alerts. Names, bounds and defaults of the settings that come from
``cdk.json`` are those of :mod:`service.models.settings_table`, the table ``infra/config.py`` validates with.
"""

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple, cast

from service.models import settings_table as table
from service.models.settings_table import Setting

DEFAULT_CRITICAL: tuple[str, ...] = cast(tuple[str, ...], table.CRITICAL_PROCESSES.absent)


class AllowList(NamedTuple):
    """Expected kills: matching ones are logged as events but never alerted."""

    processes: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    tags: Mapping[str, str] = MappingProxyType({})


class Settings(NamedTuple):
    topic_arn: str = ""
    state_table: str = ""
    noise_window_minutes: int = cast(int, table.NOISE_WINDOW.absent)
    loop_threshold: int = cast(int, table.LOOP_THRESHOLD.absent)
    critical_processes: tuple[str, ...] = DEFAULT_CRITICAL
    allow_list: AllowList = AllowList()
    region: str = ""
    memory_alarm_name: str = ""
    swap_alarm_name: str = ""
    agent_namespace: str = "CWAgent"
    # Context fetch for reports split across deliveries: how far around the kill to look, and
    # how much of it to read, so that an alert is never held back more than a few seconds.
    context_before_s: int = 120
    context_after_s: int = 5
    context_max_pages: int = 3
    context_budget_s: float = 4.0
    # log_mode=oom: the agent ships only OOM-report lines and the subscription passes them all, so a
    # report split across deliveries is joined from a per-stream stash, never read back (no FilterLogEvents).
    log_mode: str = ""
    syslog_group: str = ""
    # Rollout notices and coverage (service.handlers.association, service.logic.coverage): OOMWatch's association,
    # how often the coverage check runs (0 = never), and which instances should be watched.
    rollout_association_id: str = ""
    coverage_interval_minutes: int = 0
    target_tag_key: str = ""
    target_tag_value: str = ""
    target_all_instances: bool = False
    # Mutes (oomwatch mute): the longest one may last, and whether a critical host-wide kill alerts despite one.
    mute_max_hours: int = cast(int, table.MUTE_MAX_HOURS.absent)
    mute_breakthrough_critical: bool = cast(bool, table.MUTE_BREAKTHROUGH_CRITICAL.absent)
    # The EventBridge bus of the event contract (service.logic.events): a name or ARN; "" is off.
    event_bus: str = ""
    problems: tuple[str, ...] = ()


def _whole(env: Mapping[str, str], setting: Setting, problems: list[str]) -> int:
    """A whole number within the setting's bounds (those synth enforces); else its ``absent`` value and a note."""
    default = cast(int, setting.absent)
    name = setting.env
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not an integer; using {default}")
        return default
    if not setting.allows(value):
        problems.append(f"{name}={value} is outside {setting.bounds}; using {default}")
        return default
    return value


def _text(env: Mapping[str, str], setting: Setting) -> str:
    return env.get(setting.env, "").strip()


def _names(raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def parse_allow_list(raw: str, problems: list[str]) -> AllowList:
    """Parse ``{"processes": [...], "units": [...], "tags": {"k": "v"}}``; bad input -> empty."""
    if not raw.strip():
        return AllowList()
    try:
        doc = json.loads(raw)
    except ValueError:
        problems.append("ALLOW_LIST is not valid JSON; no kill is allow-listed")
        return AllowList()
    if not isinstance(doc, dict):
        problems.append("ALLOW_LIST must be a JSON object; no kill is allow-listed")
        return AllowList()
    procs = doc.get("processes") or []
    units = doc.get("units") or []
    tags = doc.get("tags") or {}
    if not isinstance(procs, list) or not isinstance(units, list) or not isinstance(tags, dict):
        problems.append("ALLOW_LIST fields have the wrong types; no kill is allow-listed")
        return AllowList()
    return AllowList(
        processes=tuple(str(p) for p in procs if str(p)),
        units=tuple(str(u) for u in units if str(u)),
        tags={str(k): str(v) for k, v in tags.items()},
    )


def flag(env: Mapping[str, str], setting: Setting) -> bool:
    """``true`` (any case) is on; anything else, or no variable, is off."""
    return env.get(setting.env, "").strip().lower() == "true"


#: What turns the event contract off.
EVENT_BUS_OFF: tuple[str, ...] = ("", "off")


def event_bus(env: Mapping[str, str]) -> str:
    """The bus name or ARN the events go to; "" when off (``off``, empty, or a function deployed before the setting)."""
    raw = _text(env, table.EVENT_BUS)
    return "" if raw.lower() in EVENT_BUS_OFF else raw


def from_env(env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``os.environ`` (or any mapping, for tests)."""
    problems: list[str] = []
    critical = _names(env.get(table.CRITICAL_PROCESSES.env, "")) or DEFAULT_CRITICAL
    return Settings(
        topic_arn=env.get("TOPIC_ARN", ""),
        state_table=env.get("STATE_TABLE", ""),
        noise_window_minutes=_whole(env, table.NOISE_WINDOW, problems),
        loop_threshold=_whole(env, table.LOOP_THRESHOLD, problems),
        critical_processes=critical,
        allow_list=parse_allow_list(env.get(table.ALLOW_LIST.env, ""), problems),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
        memory_alarm_name=env.get("MEMORY_ALARM_NAME", ""),
        swap_alarm_name=env.get("SWAP_ALARM_NAME", ""),
        agent_namespace=env.get("AGENT_NAMESPACE", "") or "CWAgent",
        log_mode=_text(env, table.LOG_MODE),
        syslog_group=env.get("SYSLOG_GROUP", "").strip(),
        rollout_association_id=env.get("ROLLOUT_ASSOCIATION_ID", "").strip(),
        coverage_interval_minutes=_whole(env, table.COVERAGE_INTERVAL, problems),
        target_tag_key=_text(env, table.TARGET_TAG_KEY),
        target_tag_value=_text(env, table.TARGET_TAG_VALUE),
        target_all_instances=flag(env, table.TARGET_ALL_INSTANCES),
        mute_max_hours=_whole(env, table.MUTE_MAX_HOURS, problems),
        mute_breakthrough_critical=env.get(table.MUTE_BREAKTHROUGH_CRITICAL.env, "").strip().lower() != "false",
        event_bus=event_bus(env),
        problems=tuple(problems),
    )
