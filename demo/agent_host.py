"""A host's CloudWatch agent, emulated: what OOMWatch's rollout does to it, from a synthesized template.

No emulator runs the SSM document on an instance, so this reads what the template gives a host (the fixed
parameter's name and value, the association's ``configDigest``, the configure step's clean-up pattern) and
applies it the way the configure step does, with :mod:`agent_config.merge_model` standing in for the agent.
Used by ``tests/infra/test_agent_change_demo.py`` to show a configuration change reaching a host.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

from agent_config.merge_model import Host, MergeError, ssm_file_name


def _render(value: Any, refs: dict[str, str]) -> str:
    """A template string: plain, ``Fn::Join`` or ``Ref`` of a logical ID in ``refs``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part, refs) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return refs[value["Ref"]]
    raise ValueError(f"cannot render {value!r}")


@dataclass(frozen=True)
class Rollout:
    """What one deployed template hands a host."""

    parameter_name: str
    configuration: dict[str, Any]
    digest: str
    log_group_name: str
    stale_pattern: str

    @classmethod
    def from_template(cls, template: dict[str, Any], log_group_name: str) -> Rollout:
        resources = template["Resources"]
        parameter = resources["AgentConfigParameter"]["Properties"]
        (association,) = [r for r in resources.values() if r["Type"] == "AWS::SSM::Association"]
        document = resources[association["Properties"]["Name"]["Ref"]]["Properties"]["Content"]
        script = document["mainSteps"][1]["inputs"]["runCommand"]
        refs = {"SyslogLogGroup": log_group_name}
        (cleanup,) = [line for line in script if "removed the old OOMWatch file" in line]
        return cls(
            parameter_name=parameter["Name"],
            configuration=json.loads(_render(parameter["Value"], refs)),
            digest=association["Properties"]["Parameters"]["configDigest"][0],
            log_group_name=_render(association["Properties"]["Parameters"]["logGroupName"][0], refs),
            stale_pattern=cleanup.strip().split(")", 1)[0],
        )


@dataclass
class EmulatedHost:
    """An agent's configuration directory plus the digest OOMWatch recorded, and what happened to it."""

    agent: Host = field(default_factory=Host)
    recorded: tuple[str, str] | None = None
    restarts: int = 0
    log: list[str] = field(default_factory=list)

    def apply(self, rollout: Rollout) -> bool:
        """One run of the configure step; False (and a logged reason) when the agent refuses the merge."""
        changed = False
        for name in [n for n in self.agent.files if fnmatch.fnmatchcase(n, rollout.stale_pattern)]:
            del self.agent.files[name]
            self.log.append(f"removed the old OOMWatch file {name}")
            changed = True
        own = ssm_file_name(rollout.parameter_name)
        if not changed and own in self.agent.files and self.recorded == (rollout.digest, rollout.log_group_name):
            self.log.append(f"configuration {rollout.digest} is current: agent left alone")
            return True
        try:
            self.agent.ctl("append-config", rollout.parameter_name, rollout.configuration)
        except MergeError as refused:
            self.log.append(f"the agent refused {rollout.parameter_name}: {refused}")
            return False
        self.recorded = (rollout.digest, rollout.log_group_name)
        self.restarts += 1
        self.log.append(f"configuration {rollout.digest} applied, agent restarted")
        return True


def agent_output(refused: MergeError) -> str:
    """What the agent itself prints when it refuses the merge, one line per conflicting key, then its verdict.

    The wording follows the agent's translator (``translator/context`` "Under path : <path> | Error : <message>",
    ``mergeJsonUtil`` "Different values are specified for <key>", ``mergeJsonConfig.go`` "Failed to merge
    multiple json config files"), as read from its source: an emulation, not a captured host's output.
    """
    lines = []
    for conflict in refused.conflicts:
        parent, _, key = conflict.path.rstrip("/").rpartition("/")
        lines.append(f"Under path : {parent or '/'}/ | Error : Different values are specified for {key}")
    lines.append("Failed to merge multiple json config files")
    return "\n".join(lines) + "\n"
