"""EventBridge event patterns (the rule's ``EventPattern`` from the template decides which events reach a
target). moto 5.2 does not implement ``TestEventPattern``, so the demo matches them itself.

Implemented as documented in "Creating event patterns" (eventbridge/latest/userguide/eb-event-patterns):
exact values, ``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``, ``anything-but`` (values or a
``prefix``), ``exists``, ``numeric`` and ``$or``; a list in the event matches when any element matches.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()


def _numeric(value: Any, spec: list[Any]) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    ops = {"<": float.__lt__, "<=": float.__le__, "=": float.__eq__, ">": float.__gt__, ">=": float.__ge__}
    return all(ops[spec[i]](float(value), float(spec[i + 1])) for i in range(0, len(spec), 2))


def _one(value: Any, allowed: Any) -> bool:
    if not isinstance(allowed, dict):
        return bool(value == allowed)
    if "prefix" in allowed:
        prefix = allowed["prefix"]
        if isinstance(prefix, dict):
            return isinstance(value, str) and value.lower().startswith(str(prefix["equals-ignore-case"]).lower())
        return isinstance(value, str) and value.startswith(prefix)
    if "suffix" in allowed:
        return isinstance(value, str) and value.endswith(allowed["suffix"])
    if "equals-ignore-case" in allowed:
        return isinstance(value, str) and value.lower() == str(allowed["equals-ignore-case"]).lower()
    if "wildcard" in allowed:
        regex = ".*".join(re.escape(p) for p in str(allowed["wildcard"]).split("*"))
        return isinstance(value, str) and re.fullmatch(regex, value, re.DOTALL) is not None
    if "anything-but" in allowed:
        but = allowed["anything-but"]
        if isinstance(but, dict):
            return not _one(value, but)
        values = but if isinstance(but, list) else [but]
        return value not in values
    if "numeric" in allowed:
        return _numeric(value, allowed["numeric"])
    raise NotImplementedError(f"event pattern operator not supported: {allowed}")


def _field(value: Any, allowed: list[Any]) -> bool:
    exists = [a for a in allowed if isinstance(a, dict) and "exists" in a]
    if exists:
        return (value is not _MISSING) == bool(exists[0]["exists"])
    if value is _MISSING:
        return False
    values = value if isinstance(value, list) else [value]
    return any(_one(v, a) for v in values for a in allowed)


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    for key, allowed in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in allowed):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(allowed, dict):
            if not isinstance(value, dict) or not matches(allowed, value):
                return False
        elif not _field(value, allowed if isinstance(allowed, list) else [allowed]):
            return False
    return True
