"""Build, render and validate the CloudWatch agent configuration for OOMWatch hosts.

What the configuration does
---------------------------
* **Metrics**: ``mem_used_percent`` and ``swap_used_percent`` every 60 s into the default ``CWAgent``
  namespace. The ``InstanceId`` dimension is set *per measurement section*
  (``metrics_collected.mem.append_dimensions``, resolved by the translator's
  ``ResolveAWSMetadataPlaceholders`` since agent PR #1876, before 1.300070.0), never with the global
  ``metrics.append_dimensions``: the global key has no merge rule (it must be equal in every file on the
  host) and its presence makes the agent drop the ``host`` dimension of *all* the host's metrics
  (``translator/translate/metrics/ruleTagExclude.go``). OOMWatch sets no global ``metrics`` or ``agent`` key
  at all, so it changes nothing about a host's own metrics. The agent keeps its ``host`` dimension, so a
  host that runs only OOMWatch's configuration publishes each metric with exactly ``{InstanceId, host}``
  (two custom metrics per host); the fleet alarms query ``SCHEMA("CWAgent", InstanceId, host)`` and
  ``GROUP BY InstanceId`` (:data:`METRIC_DIMENSIONS`). What still conflicts with a host's own
  configuration is modelled in :mod:`agent_config.merge_model` and listed in ``docs/configuration.md``.
* **Logs**, all into ONE log group (owned and retained by CDK) with ``{instance_id}`` as the stream:

  - ``/var/log/messages`` (Amazon Linux 2, RHEL family), ``/var/log/syslog`` and ``/var/log/kern.log``
    (Debian/Ubuntu). A missing file is harmless: the agent waits for it.
  - journald (agent >= 1.300070.0), for Amazon Linux 2023 and other hosts without a text syslog: kernel
    messages (``_TRANSPORT=kernel``), the ``systemd-oomd`` and ``earlyoom`` units, and systemd's own
    messages (``SYSLOG_IDENTIFIER=systemd``) filtered down to its OOM lines.

  Which of the two ``log_sources`` are configured is a setting: ``both`` (default), ``files`` or
  ``journald``. Hosts that run rsyslog *and* journald (Ubuntu, AL2, RHEL 7-9) ship their kernel lines
  through both paths with ``both``; the Lambda deduplicates kills, and ``files``/``journald`` avoids it.

* **Log modes** decide how much reaches CloudWatch:

  - ``oom`` (default): only the lines of kernel OOM reports that the parser uses (header, cgroup context,
    usage lines, task table, kill/reaper lines; see ``KERNEL_OOM_PATTERNS``) plus systemd-oomd, earlyoom
    and systemd's OOM lines (``USERLAND_OOM_PATTERNS``). Stack traces, ``Mem-Info`` and everything else
    stays on the host.
  - ``kernel``: every kernel message, plus the userland OOM lines.
  - ``full``: the whole syslog / journal.

Rules for the filter expressions
--------------------------------
The agent ships an event only if it passes **all** filters of its ``collect_list`` entry, so each entry
gets at most one ``include`` filter whose expression is an alternation. Expressions are RE2 and obey:

* no backslash and no double quote: on the journald path the agent embeds the expression in an OTTL
  string literal (``IsMatch(body, "<expression>")``) whose escape handling is not documented, so literal
  characters are written as classes (``[+]``, ``[]]``) instead of escapes;
* unanchored: on the journald path ``body`` is the journal entry's field map, which OTTL JSON-encodes
  before matching (``{"MESSAGE":"...","_TRANSPORT":"kernel",...}``), so ``^``/``$`` would not mean
  "start/end of the message";
* case-sensitive, like the kernel's own text.

The agent's ``run_as_user`` is deliberately not set (see ``docs/configuration.md``): with
``configure (append)`` a second value would conflict with an existing configuration. Retention is not
set either: CDK owns the log group and its retention.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Final, Literal, get_args

LogMode = Literal["oom", "kernel", "full"]
LogSources = Literal["both", "files", "journald"]

LOG_MODES: Final[tuple[str, ...]] = get_args(LogMode)
LOG_SOURCES: Final[tuple[str, ...]] = get_args(LogSources)

#: The agent's default metric namespace; the fleet alarms query it.
AGENT_NAMESPACE: Final = "CWAgent"
#: Set on the mem and swap sections only (see the module docstring).
SECTION_DIMENSIONS: Final = {"InstanceId": "${aws:InstanceId}"}
#: The dimension set of OOMWatch's metrics on a host whose own configuration sets no global
#: ``metrics.append_dimensions``: the section's ``InstanceId`` and the agent's own ``host``.
METRIC_DIMENSIONS: Final = ("InstanceId", "host")
#: journald collection exists from this agent release on (aws/amazon-cloudwatch-agent#2121).
MIN_JOURNALD_AGENT_VERSION: Final = (1, 300070, 0)
#: SSM Parameter Store standard tier limit (the value, in bytes).
STANDARD_PARAMETER_LIMIT_BYTES: Final = 4096

#: The agent's own JSON schema (draft-04), copied into the repository with its provenance and licence
#: (``agent_config/schema/PROVENANCE.txt``): synth validates every configuration against it.
SCHEMA_PATH: Final = Path(__file__).resolve().parent / "schema" / "schema.json"

#: Text syslog files: AL2/RHEL, then Debian/Ubuntu.
FILE_PATHS: Final = ("/var/log/messages", "/var/log/syslog", "/var/log/kern.log")
#: Units whose every line is OOM-related (their routine lines are rare).
USERLAND_OOM_UNITS: Final = ("systemd-oomd.service", "earlyoom.service")
STREAM_NAME: Final = "{instance_id}"

#: One RE2 fragment per kind of kernel OOM-report line the parser uses (see
#: ``docs/oom-formats.md``). The names are documentation; tests check each kind against the corpus.
KERNEL_OOM_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("trigger header", "invoked oom-killer"),
    ("cpuset line (pre-5.0), also in the summary", "mems_allowed="),
    ("dump_stack header", "CPU: [0-9]+ (UID: [0-9]+ )?PID: [0-9]+|Pid: [0-9]+, comm: "),
    ("one-line summary (5.0+)", "oom-kill:"),
    ("memcg victim line (pre-5.0)", "killed as a result of limit|Memory limit reached"),
    ("memcg usage lines (memory, memory+swap, swap, kmem)", "(memory|swap|kmem): usage"),
    ("memcg stats header", "Memory cgroup stats"),
    ("task table title (4.19+)", "Tasks state"),
    ("task table header", "uid +tgid +total_vm"),
    ("task table row", "[0-9][]]( +-?[0-9]+){6}"),
    ("selected task (pre-5.1) and victim", "Kill(ed)? process"),
    ("reaper", "oom_reaper"),
    ("group kill", "memory.oom.group"),
    ("exiting victim", "OOM victim"),
    ("pinned mm", "has mm pinned by"),
    ("kill and no-kill prefixes", "[Oo]ut of memory"),
)

#: Userspace OOM lines: systemd-oomd, earlyoom, and systemd's per-unit OOM results.
USERLAND_OOM_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("systemd-oomd", "systemd-oomd"),
    ("earlyoom", "earlyoom"),
    ("systemd unit result", "Failed with result 'oom-kill'"),
    ("systemd unit notice", "killed by the OOM killer"),
)

#: A syslog file line written by the kernel (rsyslog tags it ``kernel:``).
KERNEL_TAG_EXPRESSION: Final = "kernel: "


def _alternation(patterns: tuple[tuple[str, str], ...]) -> str:
    return "|".join(fragment for _, fragment in patterns)


KERNEL_OOM_EXPRESSION: Final = _alternation(KERNEL_OOM_PATTERNS)
USERLAND_OOM_EXPRESSION: Final = _alternation(USERLAND_OOM_PATTERNS)
OOM_EXPRESSION: Final = f"{KERNEL_OOM_EXPRESSION}|{USERLAND_OOM_EXPRESSION}"
SYSTEMD_OOM_EXPRESSION: Final = USERLAND_OOM_EXPRESSION

#: Stands in for the log group name when the configuration is hashed or measured: the real name is a
#: CloudFormation token until deploy time.
_GROUP_PLACEHOLDER: Final = "{syslog_log_group}"
#: CloudFormation-generated log group names are "<stack name>-<logical id>-<13-character suffix>"; with the
#: stack name capped at 64 characters by ``infra.config`` they stay below this bound for the 4 KB check.
WORST_CASE_GROUP_NAME_LENGTH: Final = 128


class AgentConfigError(ValueError):
    """The agent configuration is invalid or does not fit its SSM parameter."""


def _include(expression: str) -> list[dict[str, str]]:
    return [{"type": "include", "expression": expression}]


def _file_entries(log_group_name: str, log_mode: LogMode) -> list[dict[str, Any]]:
    expression = {
        "oom": OOM_EXPRESSION,
        "kernel": f"{KERNEL_TAG_EXPRESSION}|{USERLAND_OOM_EXPRESSION}",
        "full": None,
    }[log_mode]
    entries: list[dict[str, Any]] = []
    for path in FILE_PATHS:
        entry: dict[str, Any] = {
            "file_path": path,
            "log_group_name": log_group_name,
            "log_stream_name": STREAM_NAME,
        }
        if expression is not None:
            entry["filters"] = _include(expression)
        entries.append(entry)
    return entries


def _journald_entries(log_group_name: str, log_mode: LogMode) -> list[dict[str, Any]]:
    target = {"log_group_name": log_group_name, "log_stream_name": STREAM_NAME}
    if log_mode == "full":
        return [dict(target)]
    kernel: dict[str, Any] = {**target, "matches": [{"_TRANSPORT": "kernel"}]}
    if log_mode == "oom":
        kernel["filters"] = _include(KERNEL_OOM_EXPRESSION)
    return [
        kernel,
        {**target, "units": list(USERLAND_OOM_UNITS)},
        {
            **target,
            "matches": [{"SYSLOG_IDENTIFIER": "systemd"}],
            "filters": _include(SYSTEMD_OOM_EXPRESSION),
        },
    ]


def build_agent_config(*, log_group_name: str, log_mode: LogMode, log_sources: LogSources) -> dict[str, Any]:
    """The agent configuration as a dict (see the module docstring for what it contains)."""
    if log_mode not in LOG_MODES:
        raise AgentConfigError(f"unknown log mode {log_mode!r} (allowed: {', '.join(LOG_MODES)})")
    if log_sources not in LOG_SOURCES:
        raise AgentConfigError(f"unknown log sources {log_sources!r} (allowed: {', '.join(LOG_SOURCES)})")
    logs_collected: dict[str, Any] = {}
    if log_sources in ("both", "files"):
        logs_collected["files"] = {"collect_list": _file_entries(log_group_name, log_mode)}
    if log_sources in ("both", "journald"):
        logs_collected["journald"] = {"collect_list": _journald_entries(log_group_name, log_mode)}
    return {
        "metrics": {
            "metrics_collected": {
                "mem": {
                    "measurement": ["mem_used_percent"],
                    "metrics_collection_interval": 60,
                    "append_dimensions": dict(SECTION_DIMENSIONS),
                },
                "swap": {
                    "measurement": ["swap_used_percent"],
                    "metrics_collection_interval": 60,
                    "append_dimensions": dict(SECTION_DIMENSIONS),
                },
            },
        },
        "logs": {"logs_collected": logs_collected},
    }


def render(config: dict[str, Any]) -> str:
    """Minified JSON, as stored in the SSM parameter."""
    return json.dumps(config, separators=(",", ":"))


def config_digest(*, log_mode: LogMode, log_sources: LogSources, length: int = 12) -> str:
    """A short content hash of the configuration, independent of the log group's deploy-time name.

    It is a parameter of the rollout association (the SSM parameter's *name* stays fixed), so a changed
    configuration changes the association's parameters and State Manager re-applies it to every target;
    on the host it decides whether the agent needs reconfiguring (and restarting) at all.
    """
    text = render(build_agent_config(log_group_name=_GROUP_PLACEHOLDER, log_mode=log_mode, log_sources=log_sources))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def worst_case_size(*, log_mode: LogMode, log_sources: LogSources) -> int:
    """Bytes of the rendered configuration with the longest log group name CloudFormation can generate."""
    config = build_agent_config(
        log_group_name="x" * WORST_CASE_GROUP_NAME_LENGTH, log_mode=log_mode, log_sources=log_sources
    )
    return len(render(config).encode())


def check_expressions(config: dict[str, Any]) -> None:
    """Every filter expression compiles and follows the rules in the module docstring."""
    for source in config["logs"]["logs_collected"].values():
        for entry in source["collect_list"]:
            for rule in entry.get("filters", []):
                expression = rule["expression"]
                if "\\" in expression or '"' in expression:
                    raise AgentConfigError(f"filter expression contains a backslash or a double quote: {expression}")
                if expression.startswith("^") or expression.endswith("$"):
                    raise AgentConfigError(f"filter expression is anchored: {expression}")
                re.compile(expression)


@functools.cache
def _load_schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def validate_against_schema(config: dict[str, Any], *, schema_path: Path = SCHEMA_PATH) -> bool:
    """Validate against the agent's draft-04 JSON schema, on every synth.

    The schema ships in the repository, so a missing file is a broken checkout, never a reason to skip: it
    raises :class:`AgentConfigError`, as does a missing ``jsonschema`` package (part of the ``cdk`` extra).
    """
    if not schema_path.is_file():
        raise AgentConfigError(f"CloudWatch agent schema not found at {schema_path}: the checkout is incomplete")
    try:
        import jsonschema  # in the ``cdk`` extra; imported here so the agent_config constants load without it
    except ImportError as exc:
        raise AgentConfigError("the jsonschema package is missing: install the cdk extra (make setup)") from exc

    validator = jsonschema.Draft4Validator(_load_schema(schema_path))
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        location = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise AgentConfigError(f"agent configuration violates the agent schema at {location}: {error.message}")
    return True
