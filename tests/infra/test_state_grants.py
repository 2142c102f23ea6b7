"""Each function's state-table grant is exactly what its handler's code calls (no more, no less).

Derived from the source, not copied: the ``DynamoState`` methods each handler module calls (``store.<m>(``),
followed through the methods they call on ``self``, down to the boto3 DynamoDB operations they make.
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
    "Oom": ("service/handlers/oom.py", "service/logic/kills.py"),
    "AlarmNotice": ("service/handlers/alarm_notice.py", "service/logic/alarm_notices.py"),
    "Digest": ("service/handlers/digest.py", "service/logic/digest_run.py", "service/logic/coverage.py"),
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


def _dynamo_state() -> ast.ClassDef:
    tree = ast.parse((LAMBDAS / "service" / "dal" / "state.py").read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DynamoState"]
    return cls


def _calls(method: ast.FunctionDef) -> tuple[set[str], set[str]]:
    """(methods called on self, DynamoDB operations called on self._ddb) in one method."""
    own: set[str] = set()
    operations: set[str] = set()
    for node in ast.walk(method):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id == "self":
                own.add(node.func.attr)
            elif isinstance(receiver, ast.Attribute) and receiver.attr == "_ddb":
                operations.add(node.func.attr)
    return own, operations


def required_actions(function: str) -> set[str]:
    methods = {n.name: n for n in _dynamo_state().body if isinstance(n, ast.FunctionDef)}
    source = "".join((LAMBDAS / module).read_text() for module in FUNCTION_MODULES[function])
    todo = [m for m in re.findall(r"\bstore\.([a-z_]+)\(", source)]
    assert todo, f"no state calls found for {function}"
    seen: set[str] = set()
    actions: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in methods:
            continue
        seen.add(name)
        own, operations = _calls(methods[name])
        todo.extend(own)
        for operation in operations:
            assert operation in OPERATION_ACTIONS, f"DynamoState.{name} calls {operation}: map it to its IAM action"
            actions.add(OPERATION_ACTIONS[operation])
    return actions


def test_transactions_hold_only_put_items() -> None:
    source = (LAMBDAS / "service" / "dal" / "state.py").read_text()
    for kind in ("Update", "Delete", "ConditionCheck"):
        assert f'"{kind}": {{' not in source, f"a {kind} transaction item needs its own action"


def test_each_function_is_granted_exactly_what_its_handler_calls() -> None:
    for function, granted in STATE_TABLE_ACTIONS.items():
        assert set(granted) == required_actions(function), function
