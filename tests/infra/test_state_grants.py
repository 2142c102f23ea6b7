"""Each function's state-table grant is exactly what its handler's code calls (no more, no less).

Derived from the source, not copied: the item-family methods each handler module calls on the store
(``store.<family>.<m>(``, the family being a ``DynamoState`` attribute), followed through the methods they call on
``self`` and on the table codec (``self._table.<m>(``), down to the boto3 DynamoDB operations the codec makes.
A new call in a handler that needs another action makes this test fail until the grant follows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from infra.processing import STATE_TABLE_ACTIONS

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
#: The handler and use-case modules whose code runs in each function.
FUNCTION_MODULES = {
    "Oom": ("service/handlers/oom.py", "service/logic/kills.py", "service/logic/reassembly.py"),
    "AlarmNotice": ("service/handlers/alarm_notice.py", "service/logic/alarm_notices.py"),
    "Digest": (
        "service/handlers/digest.py",
        "service/logic/digest_run.py",
        "service/logic/coverage.py",
        "service/logic/mute_notices.py",
    ),
    "AssociationNotice": ("service/handlers/association.py", "service/logic/rollout_notices.py"),
}
#: boto3 DynamoDB client methods → the IAM actions that authorize them. ``transact_write_items`` is
#: authorized per item; OOMWatch's transactions hold only ``Put`` items (checked below).
OPERATION_ACTIONS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "batch_get_item": "dynamodb:BatchGetItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "scan": "dynamodb:Scan",
    "query": "dynamodb:Query",
    "transact_write_items": "dynamodb:PutItem",
}


STATE = LAMBDAS / "service" / "dal" / "state"
CODEC = "Table"  # the class of ``self._table`` in every family


def _classes() -> dict[str, ast.ClassDef]:
    """Every class of the state package, by name."""
    return {
        node.name: node
        for module in sorted(STATE.glob("*.py"))
        for node in ast.parse(module.read_text()).body
        if isinstance(node, ast.ClassDef)
    }


def _families(classes: dict[str, ast.ClassDef]) -> dict[str, str]:
    """``DynamoState``'s attributes and the family class each one holds (``self.claims = KillClaims(t)``, or a
    cached property that returns it)."""
    (init,) = [n for n in classes["DynamoState"].body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    out = {}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    out[target.attr] = node.value.func.id
    # A family built on first use: ``@functools.cached_property def digests(self): return DigestQueue(...)``.
    for method in classes["DynamoState"].body:
        if isinstance(method, ast.FunctionDef) and any(
            "cached_property" in ast.unparse(d) for d in method.decorator_list
        ):
            for node in ast.walk(method):
                if (
                    isinstance(node, ast.Return)
                    and isinstance(node.value, ast.Call)
                    and isinstance(node.value.func, ast.Name)
                ):
                    out[method.name] = node.value.func.id
    return out


def _calls(method: ast.FunctionDef, cls: str) -> tuple[set[tuple[str, str]], set[str]]:
    """((class, method) called on self or on the codec, DynamoDB operations called on self._ddb) in one method."""
    own: set[tuple[str, str]] = set()
    operations: set[str] = set()
    for node in ast.walk(method):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id == "self":
                own.add((cls, node.func.attr))
            elif isinstance(receiver, ast.Attribute) and receiver.attr == "_table":
                own.add((CODEC, node.func.attr))
            elif isinstance(receiver, ast.Attribute) and receiver.attr == "_ddb":
                operations.add(node.func.attr)
    return own, operations


def required_actions(function: str) -> set[str]:
    classes = _classes()
    families = _families(classes)
    methods = {(cls, n.name): n for cls, node in classes.items() for n in node.body if isinstance(n, ast.FunctionDef)}
    source = "".join((LAMBDAS / module).read_text() for module in FUNCTION_MODULES[function])
    calls = re.findall(r"\b(?:store|state)\.([a-z_]+)\.([a-z_]+)\(", source)
    todo = [(families[family], name) for family, name in calls if family in families]
    assert todo, f"no state calls found for {function}"
    seen: set[tuple[str, str]] = set()
    actions: set[str] = set()
    while todo:
        key = todo.pop()
        if key in seen or key not in methods:
            continue
        seen.add(key)
        own, operations = _calls(methods[key], key[0])
        todo.extend(own)
        for operation in operations:
            assert operation in OPERATION_ACTIONS, f"{key[0]}.{key[1]} calls {operation}: map it to its IAM action"
            actions.add(OPERATION_ACTIONS[operation])
    return actions


def test_transactions_hold_only_put_items() -> None:
    source = "".join(module.read_text() for module in sorted(STATE.glob("*.py")))
    for kind in ("Update", "Delete", "ConditionCheck"):
        assert f'"{kind}": {{' not in source, f"a {kind} transaction item needs its own action"


def test_each_function_is_granted_exactly_what_its_handler_calls() -> None:
    for function, granted in STATE_TABLE_ACTIONS.items():
        assert set(granted) == required_actions(function), function
