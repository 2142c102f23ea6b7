"""Systems Manager reads: what one host's run of a State Manager association wrote.

The association's state-change event carries no command id, so it is found in two bounded steps:
``ssm:DescribeAssociationExecutions`` (the association's newest runs), then
``ssm:DescribeAssociationExecutionTargets`` (this host's row in a run: ``OutputSource.OutputSourceId`` is the
Run Command id); ``ssm:GetCommandInvocation`` then reads one step (a document with several steps needs
``PluginName``; stdout is capped by AWS at 24,000 characters, stderr at 8,000: AWS Systems Manager API
Reference). AWS errors propagate (:data:`service.dal.clients.AwsError`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

#: Runs of the association looked at to find this host's command (newest first).
MAX_EXECUTIONS = 3


class Invocation(NamedTuple):
    """One step's result on one host, as GetCommandInvocation reports it."""

    status: str
    stdout: str
    stderr: str


def command_id(ssm: Any, association_id: str, instance_id: str, started: datetime | None) -> str | None:
    """The Run Command id of this host's newest run of the association (runs created from 30 minutes
    before ``started``, when known), or None."""
    kwargs: dict[str, Any] = {"AssociationId": association_id, "MaxResults": 10}
    if started is not None:
        since = (started - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        kwargs["Filters"] = [{"Key": "CreatedTime", "Value": since, "Type": "GREATER_THAN"}]
    executions = ssm.describe_association_executions(**kwargs).get("AssociationExecutions") or []
    executions.sort(key=lambda e: str(e.get("CreatedTime") or ""), reverse=True)
    for execution in executions[:MAX_EXECUTIONS]:
        targets = (
            ssm.describe_association_execution_targets(
                AssociationId=association_id,
                ExecutionId=execution["ExecutionId"],
                Filters=[{"Key": "ResourceId", "Value": instance_id}],
            ).get("AssociationExecutionTargets")
            or []
        )
        for target in targets:
            source = target.get("OutputSource") or {}
            if source.get("OutputSourceId"):
                return str(source["OutputSourceId"])
    return None


def invocation(ssm: Any, command: str, instance_id: str, step: str) -> Invocation:
    """What step ``step`` (the document's plugin name) of ``command`` reported on the host."""
    inv = ssm.get_command_invocation(CommandId=command, InstanceId=instance_id, PluginName=step)
    return Invocation(
        status=str(inv.get("Status") or ""),
        stdout=str(inv.get("StandardOutputContent") or ""),
        stderr=str(inv.get("StandardErrorContent") or ""),
    )
