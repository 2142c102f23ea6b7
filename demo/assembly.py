"""Read the synthesized cloud assembly (cdk.out): what the demo must reproduce where moto stops.

Everything the demo fills in (which lines a subscription filter passes, which function a rule or filter
invokes, a function's handler, code and log group, the alarm's definition) comes from here, not from
assumptions about the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonDict = dict[str, Any]


def ref_target(value: Any) -> str | None:
    """The logical id behind ``{"Ref": X}`` or ``{"Fn::GetAtt": [X, attr]}``, else None."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and isinstance(getatt[0], str):
            return getatt[0]
        if isinstance(getatt, str):
            return getatt.split(".", 1)[0]
    return None


PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def resolve_pseudo(value: Any) -> str | None:
    """A string built only from literals and pseudo parameters (Ref AWS::Region, ...), else None."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if "Ref" in value:
        return PSEUDO.get(value["Ref"])
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        resolved = [resolve_pseudo(p) for p in parts]
        return None if any(r is None for r in resolved) else str(sep).join(r for r in resolved if r is not None)
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        text: str = value["Fn::Sub"]
        for name, replacement in PSEUDO.items():
            text = text.replace("${" + name + "}", replacement)
        return None if "${" in text else text
    return None


@dataclass(frozen=True)
class Function:
    stack: str
    logical_id: str
    path: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    asset_dir: Path | None
    log_group: str | None  # logical id of LoggingConfig.LogGroup, if it is a Ref
    log_group_name: str | None  # literal LoggingConfig.LogGroup, if given as a name
    log_format: str
    layers: tuple[str, ...]
    properties: JsonDict = field(repr=False, compare=False, hash=False)


@dataclass(frozen=True)
class SubscriptionFilter:
    stack: str
    logical_id: str
    log_group: str | None  # logical id
    log_group_name: str | None  # literal name
    filter_pattern: str
    filter_name: str | None
    destination: str | None  # logical id of the function


@dataclass(frozen=True)
class Target:
    function: str  # logical id
    input: Any | None  # the rule target's Input (already a JSON value) or None


@dataclass(frozen=True)
class Rule:
    stack: str
    logical_id: str
    event_pattern: JsonDict | None
    schedule: str | None
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Alarm:
    stack: str
    logical_id: str
    properties: JsonDict = field(compare=False, hash=False)

    @property
    def expression(self) -> str | None:
        for metric in self.properties.get("Metrics") or []:
            if isinstance(metric, dict) and isinstance(metric.get("Expression"), str):
                expression: str = metric["Expression"]
                return expression
        return None


@dataclass
class Stack:
    name: str
    template: JsonDict

    @property
    def resources(self) -> dict[str, JsonDict]:
        resources: dict[str, JsonDict] = self.template.get("Resources", {})
        return resources

    def of_type(self, resource_type: str) -> dict[str, JsonDict]:
        return {lid: r for lid, r in self.resources.items() if r.get("Type") == resource_type}


@dataclass
class Assembly:
    directory: Path
    stacks: list[Stack]

    @classmethod
    def load(cls, directory: Path) -> Assembly:
        manifest = json.loads((directory / "manifest.json").read_text())
        stacks = []
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            props = artifact.get("properties", {})
            template = json.loads((directory / props["templateFile"]).read_text())
            stacks.append(Stack(name=props.get("stackName") or artifact_id, template=template))
        if not stacks:
            raise ValueError(f"no CloudFormation stack in {directory}")
        return cls(directory=directory, stacks=stacks)

    def layer_parameters(self) -> list[str]:
        """Names of the SSM parameters (``AWS::SSM::Parameter::Value<String>`` template parameters) whose
        values are the functions' layer ARNs, such as AWS's public Powertools parameter."""
        found: list[str] = []
        for stack in self.stacks:
            parameters = stack.template.get("Parameters", {})
            for res in stack.of_type("AWS::Lambda::Function").values():
                for layer in res.get("Properties", {}).get("Layers", []):
                    ref = layer.get("Ref") if isinstance(layer, dict) else None
                    slot = parameters.get(ref, {}) if isinstance(ref, str) else {}
                    if slot.get("Type") == "AWS::SSM::Parameter::Value<String>" and slot.get("Default") not in found:
                        found.append(str(slot["Default"]))
        return found

    def layer_arns(self) -> list[str]:
        """Layer version ARNs the functions use (literal, or built with Fn::Join/Fn::Sub from pseudo params)."""
        found: list[str] = []
        for stack in self.stacks:
            for res in stack.of_type("AWS::Lambda::Function").values():
                for layer in res.get("Properties", {}).get("Layers", []):
                    arn = resolve_pseudo(layer)
                    if arn is not None and arn not in found:
                        found.append(arn)
        return found

    def stack(self, name: str) -> Stack:
        for stack in self.stacks:
            if stack.name == name:
                return stack
        raise KeyError(name)

    def functions(self) -> list[Function]:
        found = []
        for stack in self.stacks:
            for lid, res in stack.of_type("AWS::Lambda::Function").items():
                props = res.get("Properties", {})
                meta = res.get("Metadata", {})
                asset = meta.get("aws:asset:path")
                logging = props.get("LoggingConfig") or {}
                lg = logging.get("LogGroup")
                found.append(
                    Function(
                        stack=stack.name,
                        logical_id=lid,
                        path=str(meta.get("aws:cdk:path", lid)),
                        handler=str(props.get("Handler", "")),
                        runtime=str(props.get("Runtime", "")),
                        memory_mb=int(props.get("MemorySize", 128)),
                        timeout_s=int(props.get("Timeout", 3)),
                        asset_dir=(self.directory / asset) if isinstance(asset, str) else None,
                        log_group=ref_target(lg),
                        log_group_name=lg if isinstance(lg, str) else None,
                        log_format=str(logging.get("LogFormat", "Text")),
                        layers=tuple(str(x) for x in props.get("Layers", []) if isinstance(x, str)),
                        properties=props,
                    )
                )
        return found

    def function(self, logical_id: str) -> Function:
        for fn in self.functions():
            if fn.logical_id == logical_id:
                return fn
        raise KeyError(logical_id)

    def function_for_handler(self, handler: str) -> Function | None:
        matches = [fn for fn in self.functions() if fn.handler == handler]
        return matches[0] if matches else None

    def subscription_filters(self) -> list[SubscriptionFilter]:
        found = []
        for stack in self.stacks:
            for lid, res in stack.of_type("AWS::Logs::SubscriptionFilter").items():
                props = res.get("Properties", {})
                lg = props.get("LogGroupName")
                found.append(
                    SubscriptionFilter(
                        stack=stack.name,
                        logical_id=lid,
                        log_group=ref_target(lg),
                        log_group_name=lg if isinstance(lg, str) else None,
                        filter_pattern=str(props.get("FilterPattern", "")),
                        filter_name=props.get("FilterName") if isinstance(props.get("FilterName"), str) else None,
                        destination=ref_target(props.get("DestinationArn")),
                    )
                )
        return found

    def rules(self) -> list[Rule]:
        found = []
        for stack in self.stacks:
            for lid, res in stack.of_type("AWS::Events::Rule").items():
                props = res.get("Properties", {})
                if props.get("State", "ENABLED") != "ENABLED":
                    continue
                targets = []
                for target in props.get("Targets", []):
                    fn = ref_target(target.get("Arn"))
                    if fn is None or stack.resources.get(fn, {}).get("Type") != "AWS::Lambda::Function":
                        continue
                    raw = target.get("Input")
                    targets.append(Target(function=fn, input=json.loads(raw) if isinstance(raw, str) else None))
                pattern = props.get("EventPattern")
                found.append(
                    Rule(
                        stack=stack.name,
                        logical_id=lid,
                        event_pattern=pattern if isinstance(pattern, dict) else None,
                        schedule=props.get("ScheduleExpression"),
                        targets=tuple(targets),
                    )
                )
        return found

    def alarms(self) -> list[Alarm]:
        return [
            Alarm(stack=stack.name, logical_id=lid, properties=res.get("Properties", {}))
            for stack in self.stacks
            for lid, res in stack.of_type("AWS::CloudWatch::Alarm").items()
        ]

    def resource_type(self, stack: str, logical_id: str) -> str:
        return str(self.stack(stack).resources.get(logical_id, {}).get("Type", ""))
