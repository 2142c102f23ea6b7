"""State Manager and Run Command as the handlers see them, for the APIs moto does not emulate.

moto 5 has no associations, association executions or DescribeInstanceInformation, and does not run
documents. :class:`FakeSsm` answers those calls on a real boto3 client through botocore's ``before-call``
event, so the request is still built and validated by botocore from the service model (required members,
types, minimums), and it enforces the rules of the AWS Systems Manager API Reference that botocore does
not check:

==============================================  =====================================================
rule                                            source (API Reference, 2014-11-06)
==============================================  =====================================================
GetCommandInvocation needs PluginName when the  GetCommandInvocation, PluginName: "If the document
document has more than one step                 contains more than one step, you must specify the name
                                                of the step" (InvalidPluginName otherwise)
StandardOutputContent <= 24,000 characters,     GetCommandInvocation, Response Elements
StandardErrorContent <= 8,000
DescribeInstanceInformation MaxResults 5-50,    DescribeInstanceInformation; InstanceInformationStringFilter
filter keys and at most 100 values each
DescribeAssociationExecutions MaxResults 1-50,  DescribeAssociationExecutions; AssociationExecutionFilter
filter keys ExecutionId|Status|CreatedTime,
types EQUAL|LESS_THAN|GREATER_THAN
DescribeAssociationExecutionTargets filter      DescribeAssociationExecutionTargets
keys Status|ResourceId|ResourceType
==============================================  =====================================================
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse

STEPS = ("installAgent", "configureAgent")
STDOUT_MAX = 24_000
STDERR_MAX = 8_000
_INSTANCE_FILTER_KEYS = {
    "ActivationIds",
    "AgentVersion",
    "AssociationStatus",
    "IamRole",
    "InstanceIds",
    "PingStatus",
    "PlatformType",
    "PlatformTypes",
    "ResourceType",
    "SourceIds",
    "SourceTypes",
    "tag-key",
}


@dataclass
class Step:
    status: str = "Success"
    stdout: str = ""
    stderr: str = ""


@dataclass
class Run:
    """One association execution on one host: the Run Command it became and its steps."""

    execution_id: str
    created: datetime
    instance_id: str
    command_id: str
    steps: dict[str, Step]


@dataclass
class Node:
    instance_id: str
    tags: dict[str, str]
    ping: str = "Online"
    platform: str = "Linux"


@dataclass
class FakeSsm:
    association_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    runs: list[Run] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)  # operation -> error code to answer with
    _seq: Any = field(default_factory=lambda: itertools.count(1))

    def install(self, client: Any) -> None:
        for op in (
            "GetCommandInvocation",
            "DescribeAssociationExecutions",
            "DescribeAssociationExecutionTargets",
            "DescribeInstanceInformation",
        ):
            client.meta.events.register(f"before-call.ssm.{op}", self._handler(op))

    def run(self, instance_id: str, *, when: datetime | None = None, **steps: Step) -> Run:
        """Record one execution of the association on a host with these step results."""
        run = Run(
            execution_id=str(uuid.uuid4()),
            created=when or datetime.now(UTC),
            instance_id=instance_id,
            command_id=str(uuid.uuid4()),
            steps={name: steps.get(name, Step()) for name in STEPS},
        )
        self.runs.append(run)
        return run

    # ------------------------------------------------------------------------------------------------ plumbing

    def _handler(self, op: str) -> Any:
        def handle(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            body = json.loads(params.get("body") or b"{}")
            self.calls.append((op, body))
            if op in self.fail:
                return _error(self.fail[op], f"{op} refused by the test")
            try:
                return AWSResponse("https://ssm", 200, {}, None), getattr(self, "_" + op)(body)
            except _Invalid as exc:
                return _error(exc.code, exc.message)

        return handle

    def _GetCommandInvocation(self, body: dict[str, Any]) -> dict[str, Any]:
        run = next((r for r in self.runs if r.command_id == body["CommandId"]), None)
        if run is None or run.instance_id != body["InstanceId"]:
            raise _Invalid("InvocationDoesNotExist", "no such invocation")
        plugin = body.get("PluginName")
        if not plugin:
            raise _Invalid("InvalidPluginName", "the document has more than one step: PluginName is required")
        step = run.steps.get(plugin)
        if step is None:
            raise _Invalid("InvalidPluginName", f"no step {plugin}")
        return {
            "CommandId": run.command_id,
            "InstanceId": run.instance_id,
            "PluginName": plugin,
            "Status": step.status,
            "StandardOutputContent": step.stdout[:STDOUT_MAX],
            "StandardErrorContent": step.stderr[:STDERR_MAX],
            "ResponseCode": 0 if step.status == "Success" else 1,
        }

    def _DescribeAssociationExecutions(self, body: dict[str, Any]) -> dict[str, Any]:
        _range(body.get("MaxResults"), 1, 50)
        if body["AssociationId"] != self.association_id:
            raise _Invalid("AssociationDoesNotExist", "no such association")
        runs = list(self.runs)
        for f in body.get("Filters") or []:
            if f["Key"] not in ("ExecutionId", "Status", "CreatedTime") or f["Type"] not in (
                "EQUAL",
                "LESS_THAN",
                "GREATER_THAN",
            ):
                raise _Invalid("InvalidAssociation", f"bad filter {f}")
            if f["Key"] == "CreatedTime":
                since = datetime.fromisoformat(f["Value"].replace("Z", "+00:00"))
                runs = [r for r in runs if (r.created > since) == (f["Type"] == "GREATER_THAN")]
        runs.sort(key=lambda r: r.created, reverse=True)
        return {
            "AssociationExecutions": [
                {
                    "AssociationId": self.association_id,
                    "ExecutionId": r.execution_id,
                    "CreatedTime": r.created.timestamp(),
                    "Status": "Failed" if any(s.status != "Success" for s in r.steps.values()) else "Success",
                }
                for r in runs[: body.get("MaxResults") or 50]
            ]
        }

    def _DescribeAssociationExecutionTargets(self, body: dict[str, Any]) -> dict[str, Any]:
        runs = [r for r in self.runs if r.execution_id == body["ExecutionId"]]
        if not runs:
            raise _Invalid("AssociationExecutionDoesNotExist", "no such execution")
        for f in body.get("Filters") or []:
            if f["Key"] not in ("Status", "ResourceId", "ResourceType"):
                raise _Invalid("InvalidAssociation", f"bad filter {f}")
            if f["Key"] == "ResourceId":
                runs = [r for r in runs if r.instance_id == f["Value"]]
        return {
            "AssociationExecutionTargets": [
                {
                    "AssociationId": self.association_id,
                    "ExecutionId": r.execution_id,
                    "ResourceId": r.instance_id,
                    "ResourceType": "ManagedInstance",
                    "OutputSource": {"OutputSourceId": r.command_id, "OutputSourceType": "RunCommand"},
                }
                for r in runs
            ]
        }

    def _DescribeInstanceInformation(self, body: dict[str, Any]) -> dict[str, Any]:
        size = body.get("MaxResults") or 50
        _range(size, 5, 50)
        nodes = list(self.nodes)
        for f in body.get("Filters") or []:
            key, values = f["Key"], f["Values"]
            if len(values) > 100 or not (key in _INSTANCE_FILTER_KEYS or key.startswith("tag:")):
                raise _Invalid("InvalidInstanceInformationFilterValue", f"bad filter {key}")
            if key == "PingStatus":
                nodes = [n for n in nodes if n.ping in values]
            elif key.startswith("tag:"):
                nodes = [n for n in nodes if n.tags.get(key[4:]) in values]
        start = int(body.get("NextToken") or 0)
        page = nodes[start : start + size]
        out: dict[str, Any] = {
            "InstanceInformationList": [
                {
                    "InstanceId": n.instance_id,
                    "PingStatus": n.ping,
                    "PlatformType": n.platform,
                    "ResourceType": "EC2Instance",
                }
                for n in page
            ]
        }
        if start + size < len(nodes):
            out["NextToken"] = str(start + size)
        return out


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def _range(value: Any, lo: int, hi: int) -> None:
    if value is not None and not lo <= int(value) <= hi:
        raise _Invalid("ValidationException", f"MaxResults {value} is outside {lo}-{hi}")


def _error(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse("https://ssm", 400, {}, None), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
