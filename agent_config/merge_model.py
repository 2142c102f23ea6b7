"""A model of how the CloudWatch agent merges the configuration files on one host.

Why it exists: a host's agent reads *every* JSON file in
``/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d`` and merges them before it translates
the result. OOMWatch's file must merge cleanly with whatever the host already has, and a changed OOMWatch
configuration must *replace* the old one. This module reproduces the agent's rules so tests (and the
demo) can show what a host ends up with, without an agent. It is pure Python, no AWS: it lives in
``agent_config`` beside the configuration it checks, so the demo can use it as well as the tests.

Sources (aws/amazon-cloudwatch-agent, v1.300071.0 = snapshot ab55b8d, 2026-08-07):

* File names: ``tool/downloader/downloader.go`` ``RunDownloader`` writes ``ssm_<EscapeFilePath(name)>.tmp``
  (``/``, space and ``:`` become ``_``); ``file:`` sources become ``file_<basename>``; ``remove`` deletes
  the file of that name and fails if it is absent (``os.Remove``).
* Which files merge: ``translator/cmdutil/translatorutil.go`` ``GenerateMergedJsonConfigMap``: with
  ``fetch-config`` (multi-config ``default``) only the ``.tmp`` file; with ``append-config`` every existing
  file *and* the ``.tmp`` file, where the ``.tmp`` file **overrides** the existing file of the same base
  name ("it is override operation even it says append"); ``amazon-cloudwatch-agent.json`` counts as an
  existing file too.
* After a successful translation ``packaging/dependencies/amazon-cloudwatch-agent-ctl`` (``cwa_config``)
  renames the ``.tmp`` over its base name; ``fetch-config`` first deletes every other file. The script runs
  under ``set -e``, so a failed merge leaves the directory and the running agent as they were.
* Merge rules: ``translator/jsonconfig/mergeJsonConfig.go`` ``MergeJsonConfigMaps`` (files in sorted order;
  any error: "Failed to merge multiple json config files"), ``translator/jsonconfig/mergeJsonUtil/util.go``
  (``MergeMap``, ``mergeMap``, ``MergeList``, ``ArrayOrObjectKeys``) and the ``MergeRuleMap`` registrations
  under ``translator/translate``: a key with a rule merges by that rule; a key without one must be equal
  in every file that has it ("Different values are specified for <key>").
* Dimensions: ``translator/translate/metrics/ruleTagExclude.go`` drops ``host`` whenever the merged
  ``metrics`` section has ``append_dimensions``; ``metrics/util/commonconfigutil.go``
  ``ProcessAppendDimensions`` adds a section's own ``append_dimensions``. That the global dimensions (the
  ``ec2tagger`` processor) also reach the sections that set their own is an inference from
  ``translator/translate/otel/pipeline/host/translator.go``, not checked on a host.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

#: Where the agent keeps its JSON configuration files.
CONFIG_DIR: Final = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d"
#: The old single-file location, merged as an existing file by ``append-config``.
LEGACY_FILE: Final = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"


@dataclass(frozen=True)
class Section:
    """A key whose object value merges key by key, with rules for some of its keys."""

    rules: dict[str, Rule] = field(default_factory=dict)


@dataclass(frozen=True)
class UnionList:
    """A key whose list values are unioned (``MergeList``: equal items once, in first-seen order)."""


Rule = Section | UnionList

#: The merge rules registered in the agent's translator (``MergeRuleMap`` in each package named below).
ROOT_RULES: Final[dict[str, Rule]] = {
    # translate/agent/agent.go, ruleUsageMetadata.go
    "agent": Section({"usage_metadata": UnionList()}),
    # translate/csm/csm.go
    "csm": Section(),
    # translate/logs/logs.go and below
    "logs": Section(
        {
            "logs_collected": Section(
                {
                    # logs_collected/files/files.go, files/collect_list/collect_list.go
                    "files": Section({"collect_list": UnionList()}),
                    # logs_collected/windowsevents/windows_event.go, collect_list/collectlist.go
                    "windows_events": Section({"collect_list": UnionList()}),
                    # journald: no rule at all (the journald translator lives in translate/otel)
                }
            ),
            # logs/metrics_collected/{metrics_collected,ecs,kubernetes,prometheus}.go
            "metrics_collected": Section({"ecs": Section(), "kubernetes": Section(), "prometheus": Section()}),
        }
    ),
    # translate/metrics/metrics.go, metrics_collect/metrics_collect.go, metrics_collect/procstat/procstat.go:
    # mem, swap and every other plugin section have no rule, so each must be equal wherever it appears.
    "metrics": Section({"metrics_collected": Section({"procstat": UnionList()})}),
    # translate/otel/pipeline/opentelemetry/merge_rule.go
    "opentelemetry": Section({"collect": Section()}),
    # translate/traces/traces.go
    "traces": Section({"traces_collected": Section()}),
}
#: ``mergeJsonUtil.ArrayOrObjectKeys``: an object and a list (or two different objects) become a list.
ARRAY_OR_OBJECT_KEYS: Final = frozenset({"jmx", "otlp"})


@dataclass(frozen=True)
class Conflict:
    """One key the agent cannot merge, with the files that disagree on it."""

    path: str
    values: tuple[Any, ...]

    def __str__(self) -> str:
        shown = " vs ".join(json.dumps(value, sort_keys=True)[:200] for value in self.values)
        return f"{self.path}: different values in different files ({shown}); the agent has no merge rule for it"


class MergeError(Exception):
    """The agent would refuse the files: "Failed to merge multiple json config files"."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__("Failed to merge multiple json config files: " + "; ".join(str(c) for c in conflicts))


def _merge_list(source: list[Any], result: list[Any]) -> list[Any]:
    merged = list(result)
    for value in source:
        if value not in merged:
            merged.append(value)
    return merged


def _merge_section(  # noqa: C901 - one branch per agent config section kind, as the agent's schema lists them
    source: dict[str, Any], result: dict[str, Any], key: str, rule: Section, path: str, errors: list[Conflict]
) -> None:
    """``mergeJsonUtil.MergeMap``: only an object value takes part; an empty one changes nothing."""
    sub_source = source.get(key)
    if not isinstance(sub_source, dict):
        return
    sub_result = result.get(key)
    if not isinstance(sub_result, dict):
        sub_result = {}
    result[key] = sub_result
    if not sub_source:
        return
    for child, value in sub_source.items():
        child_rule = rule.rules.get(child)
        child_path = f"{path}{child}"
        if isinstance(child_rule, Section):
            _merge_section(sub_source, sub_result, child, child_rule, f"{child_path}/", errors)
        elif isinstance(child_rule, UnionList):
            if isinstance(value, list) and value:
                existing = sub_result.get(child)
                sub_result[child] = _merge_list(value, existing if isinstance(existing, list) else [])
        elif child in ARRAY_OR_OBJECT_KEYS and child in sub_result:
            existing = sub_result[child]
            if isinstance(value, dict) and isinstance(existing, dict):
                sub_result[child] = existing if existing == value else [existing, value]
            else:
                items = value if isinstance(value, list) else [value]
                sub_result[child] = _merge_list(items, existing if isinstance(existing, list) else [existing])
        elif child not in sub_result:
            sub_result[child] = copy.deepcopy(value)
        elif sub_result[child] != value:
            errors.append(Conflict(child_path, (sub_result[child], value)))


def merge(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The merged configuration of these files (name -> parsed JSON), or :class:`MergeError`.

    Files merge in sorted name order, as ``MergeJsonConfigMaps`` does; top-level keys without a rule are
    dropped (the agent's schema forbids them anyway).
    """
    result: dict[str, Any] = {}
    errors: list[Conflict] = []
    for name in sorted(files):
        for key, rule in ROOT_RULES.items():
            if isinstance(rule, Section):
                _merge_section(files[name], result, key, rule, f"/{key}/", errors)
    if errors:
        raise MergeError(errors)
    return result


def escape_file_path(name: str) -> str:
    """``downloader.EscapeFilePath``."""
    return name.replace("/", "_").replace(" ", "_").replace(":", "_")


def ssm_file_name(parameter_name: str) -> str:
    """The file an ``ssm:<parameter_name>`` source becomes in :data:`CONFIG_DIR`."""
    return f"ssm_{escape_file_path(parameter_name)}"


Action = Literal["fetch-config", "append-config", "remove-config"]


@dataclass
class Host:
    """The agent's configuration directory on one host, and the configuration it runs.

    ``files`` maps a file name in :data:`CONFIG_DIR` (or :data:`LEGACY_FILE`) to its parsed JSON;
    ``running`` is the merged configuration the agent last translated successfully (None: never).
    """

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: dict[str, Any] | None = None

    def ctl(self, action: Action, parameter_name: str, content: dict[str, Any] | None = None) -> None:
        """``amazon-cloudwatch-agent-ctl -a <action> -c ssm:<parameter_name>``; raises :class:`MergeError`.

        On a failed merge nothing changes, as under the script's ``set -e``.
        """
        name = ssm_file_name(parameter_name)
        if action == "remove-config":
            if name not in self.files:
                raise FileNotFoundError(f"failed to remove the json file {CONFIG_DIR}/{name}")
            candidate = {k: v for k, v in self.files.items() if k != name}
        else:
            if content is None:
                raise ValueError(f"{action} needs the parameter's content")
            # fetch-config keeps only the new file; append-config's .tmp file overrides its base name
            candidate = {name: content} if action == "fetch-config" else {**self.files, name: content}
        self.running = merge(candidate) if candidate else None
        self.files = candidate


def metric_dimension_sets(merged: dict[str, Any], plugin: str) -> set[frozenset[str]]:
    """The dimension sets a plugin section's metrics are published with under a merged configuration.

    The primary series: the section's ``append_dimensions`` plus the global ones; ``host`` unless the
    global ``append_dimensions`` is present (``ruleTagExclude.go``) or ``agent.omit_hostname`` is true.
    Plus one roll-up per global ``aggregation_dimensions`` entry whose keys the primary series has.
    """
    metrics = merged.get("metrics", {})
    section = metrics.get("metrics_collected", {}).get(plugin)
    if not isinstance(section, dict):
        return set()
    dimensions = set(section.get("append_dimensions", {}))
    global_dimensions = metrics.get("append_dimensions")
    if isinstance(global_dimensions, dict):
        dimensions |= set(global_dimensions)
    elif not merged.get("agent", {}).get("omit_hostname", False):
        dimensions.add("host")
    sets = {frozenset(dimensions)}
    for rollup in metrics.get("aggregation_dimensions", []):
        if set(rollup) <= dimensions:
            sets.add(frozenset(rollup))
    return sets
