"""The event's TypedDicts (oomwatch.event) and event.schema.json say the same thing, both ways.

Every schema property (recursively into objects and arrays of objects) is a key of the matching TypedDict and the
reverse; a key the schema requires is required in the TypedDict and the others are NotRequired; value types agree
(integer/string/number/boolean/null/array/object, and an enum's or const's values).
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, get_args, get_origin, get_type_hints, is_typeddict

import pytest
from oomwatch import event as ev

SCHEMA = json.loads((Path(ev.__file__).parent / "event.schema.json").read_text())

_JSON_TYPES = {"integer": int, "string": str, "number": float, "boolean": bool, "null": type(None)}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """The node with its $ref (into $defs) merged under it."""
    ref = node.get("$ref")
    if ref is None:
        return node
    name = ref.removeprefix("#/$defs/")
    return {**SCHEMA["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}


def _schema_kinds(node: dict[str, Any]) -> tuple[set[object], set[object]]:
    """(python types, literal values) a schema node allows."""
    node = _resolve(node)
    if "const" in node:
        return {type(node["const"])}, {node["const"]}
    if "enum" in node:
        return {type(v) for v in node["enum"]}, set(node["enum"])
    names = node["type"] if isinstance(node["type"], list) else [node["type"]]
    kinds: set[object] = set()
    for name in names:
        kinds.add(list if name == "array" else dict if name == "object" else _JSON_TYPES[name])
    return kinds, set()


def _unwrap(hint: object) -> object:
    while get_origin(hint) in (NotRequired, Required):
        (hint,) = get_args(hint)
    return hint


def _hint_parts(hint: object) -> list[object]:
    hint = _unwrap(hint)
    if get_origin(hint) in (typing.Union, types.UnionType):
        return list(get_args(hint))
    return [hint]


def _hint_kinds(hint: object) -> tuple[set[object], set[object]]:
    kinds: set[object] = set()
    literals: set[object] = set()
    for part in _hint_parts(hint):
        if get_origin(part) is Literal:
            literals.update(get_args(part))
            kinds.update(type(v) for v in get_args(part))
        elif is_typeddict(part) or part is dict or get_origin(part) is dict:
            kinds.add(dict)
        elif part is list or get_origin(part) is list:
            kinds.add(list)
        else:
            kinds.add(part)
    return kinds, literals


def _typeddict_of(hint: object) -> type | None:
    for part in _hint_parts(hint):
        if is_typeddict(part):
            return typing.cast("type", part)
    return None


def _item_hint(hint: object) -> object:
    for part in _hint_parts(hint):
        if get_origin(part) is list:
            (item,) = get_args(part)
            return item
    raise AssertionError(f"{hint} holds no list")


def _pairs() -> list[tuple[str, type, dict[str, Any]]]:
    """Every (where, TypedDict, schema object) pair, found by walking the schema from OomEvent."""
    out: list[tuple[str, type, dict[str, Any]]] = []

    def walk(where: str, td: type, node: dict[str, Any]) -> None:
        out.append((where, td, node))
        hints = get_type_hints(td, include_extras=True)
        for key, prop in node.get("properties", {}).items():
            if key not in hints:
                continue  # reported by the key test
            prop = _resolve(prop)
            if "properties" in prop:
                child = _typeddict_of(hints[key])
                assert child is not None, f"{where}.{key} is an object in the schema but no TypedDict in the types"
                walk(f"{where}.{key}", child, prop)
            elif "properties" in prop.get("items", {}):
                child = _typeddict_of(_item_hint(hints[key]))
                assert child is not None, f"{where}.{key}[] holds objects in the schema but no TypedDict"
                walk(f"{where}.{key}[]", child, prop["items"])

    walk("event", ev.OomEvent, SCHEMA)
    return out


PAIRS = _pairs()


def test_every_schema_object_has_a_typeddict() -> None:
    where = {w for w, _, _ in PAIRS}
    expected = {
        "event",
        "event.victim",
        "event.trigger",
        "event.cgroup",
        "event.cgroup.workload",
        "event.memcg",
        "event.top_consumers[]",
        "event.task_table",
        "event.task_table.names[]",
        "event.systemd_context[]",
    }
    assert where == expected


@pytest.mark.parametrize(("where", "td", "node"), PAIRS, ids=[w for w, _, _ in PAIRS])
def test_keys_match_both_ways(where: str, td: type, node: dict[str, Any]) -> None:
    keys = set(get_type_hints(td, include_extras=True))
    props = set(node.get("properties", {}))
    assert keys - props == set(), f"{where}: keys the schema does not have"
    assert props - keys == set(), f"{where}: schema properties the TypedDict does not have"


@pytest.mark.parametrize(("where", "td", "node"), PAIRS, ids=[w for w, _, _ in PAIRS])
def test_required_keys_match(where: str, td: type, node: dict[str, Any]) -> None:
    required = set(node.get("required", []))
    assert set(td.__required_keys__) == required, where  # type: ignore[attr-defined]
    assert set(td.__optional_keys__) == set(node.get("properties", {})) - required, where  # type: ignore[attr-defined]


@pytest.mark.parametrize(("where", "td", "node"), PAIRS, ids=[w for w, _, _ in PAIRS])
def test_value_types_match(where: str, td: type, node: dict[str, Any]) -> None:
    hints = get_type_hints(td, include_extras=True)
    for key, prop in node.get("properties", {}).items():
        schema_kinds, schema_values = _schema_kinds(prop)
        hint_kinds, hint_values = _hint_kinds(hints[key])
        assert hint_kinds == schema_kinds, f"{where}.{key}: {hints[key]} vs schema {prop}"
        assert hint_values == schema_values, f"{where}.{key}: literal values differ"
        items = _resolve(prop).get("items")
        if items is not None and "properties" not in items:
            assert _hint_kinds(_item_hint(hints[key]))[0] == _schema_kinds(items)[0], f"{where}.{key}[]"


def test_the_parser_output_fits_the_types() -> None:
    """A real kill event has exactly the keys its TypedDicts allow (a runtime check the static types cannot do)."""
    from oomwatch import parse_lines

    lines = [
        "[ 1573.878353] cp invoked oom-killer: gfp_mask=0x14000c0(GFP_KERNEL), nodemask=(null),  order=0,"
        " oom_score_adj=-998",
        "[ 1573.878490] Killed process 1811 (stress-ng) total-vm:8520476kB, anon-rss:7956604kB, file-rss:4kB,"
        " shmem-rss:0kB",
    ]
    [event] = parse_lines(lines)
    hints = get_type_hints(ev.OomEvent)
    assert set(event) <= set(hints)
    assert set(ev.OomEvent.__required_keys__) <= set(event)
    assert set(event["victim"]) <= set(get_type_hints(ev.Victim))
    assert event["trigger"] is not None
    assert set(event["trigger"]) <= set(get_type_hints(ev.Trigger))
