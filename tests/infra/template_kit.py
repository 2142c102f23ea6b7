"""Reading synthesized CloudFormation templates in tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Resource = dict[str, Any]


def resources(template: Mapping[str, Any], type_: str) -> dict[str, Resource]:
    return {lid: res for lid, res in template["Resources"].items() if res["Type"] == type_}


def only(template: Mapping[str, Any], type_: str) -> tuple[str, Resource]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def target(value: Any) -> str | None:
    """The logical ID behind ``{"Ref": X}`` or ``{"Fn::GetAtt": [X, ...]}``."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def render(value: Any, names: dict[str, str]) -> str:
    """A string value with ``Ref``/``GetAtt`` of the logical IDs in ``names`` and pseudo parameters filled in."""
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part, names) for part in parts)
    logical_id = target(value)
    if logical_id is not None:
        return names.get(logical_id) or pseudo[logical_id]
    raise AssertionError(f"cannot render {value!r}")


def function_by_handler(template: Mapping[str, Any], handler: str) -> tuple[str, Resource]:
    (found,) = [
        (lid, res)
        for lid, res in resources(template, "AWS::Lambda::Function").items()
        if res["Properties"]["Handler"] == handler
    ]
    return found


def role_statements(template: Mapping[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to a role."""
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if any(target(role) == role_logical_id for role in policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """action → resources it is allowed on (Allow statements only)."""
    result: dict[str, list[Any]] = {}
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            result.setdefault(action, []).extend(as_list(statement["Resource"]))
    return result
