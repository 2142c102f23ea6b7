"""The CloudWatch agent's host-side selection, emulated: which lines of a log a host would ship.

The demo evaluates the agent configuration the deployed template hands every host (the SSM parameter that
``agent_config.builder`` renders), so the expressions are the builder's own, never a second copy. Its rules
(``/work``'s research notes, from the agent's documentation and translator code, and the builder's module
docstring):

* A text line (``/var/log/messages``, ``/var/log/syslog``, ``kern.log``: the ``files`` path) is shipped if
  it passes **all** ``filters`` of a ``files`` ``collect_list`` entry: an ``include`` expression must match
  somewhere in the line, an ``exclude`` expression must not. Every OOMWatch file entry carries the same
  filters, so which of the three files the line came from does not matter.
* An agent journald JSON record (``{"body": {...journal fields...}, ...}``: the ``journald`` path) is
  shipped if some ``journald`` entry selects it: all fields of one of its ``matches`` objects equal (or one
  of its ``units`` is the record's ``_SYSTEMD_UNIT``, or ``UNIT`` for systemd's own lines about it, as
  ``journalctl -u`` does), its ``priority`` (default ``info``) admits the record's ``PRIORITY``, and its
  ``filters`` pass on the body as OTTL's ``IsMatch(body, ...)`` sees it: the field map JSON-encoded with
  sorted keys (Go's ``encoding/json`` sorts map keys).
* An entry with no ``filters`` (``full`` mode) ships everything it selects.

Expressions are RE2; the builder keeps them to the subset Python's ``re`` reads the same way (no
backreferences or lookaround; ``check_expressions`` compiles each one with ``re``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from demo.agent_host import _render

_PRIORITIES = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}


@dataclass(frozen=True)
class _Rule:
    include: bool
    expression: re.Pattern[str]


def _rules(entry: dict[str, Any]) -> tuple[_Rule, ...]:
    return tuple(
        _Rule(str(f.get("type", "include")) == "include", re.compile(str(f["expression"])))
        for f in entry.get("filters") or []
    )


def _passes(rules: tuple[_Rule, ...], text: str) -> bool:
    return all((rule.expression.search(text) is not None) is rule.include for rule in rules)


@dataclass(frozen=True)
class _JournaldEntry:
    matches: tuple[dict[str, str], ...]
    units: tuple[str, ...]
    priority: int
    rules: tuple[_Rule, ...]

    def selects(self, body: dict[str, Any]) -> bool:
        if self.matches and not any(all(str(body.get(k)) == str(v) for k, v in m.items()) for m in self.matches):
            return False
        if self.units and not (
            body.get("_SYSTEMD_UNIT") in self.units or (body.get("UNIT") in self.units and body.get("_PID") == "1")
        ):
            return False
        raw = body.get("PRIORITY")
        if isinstance(raw, str) and raw.isdigit() and int(raw) > self.priority:
            return False
        if not self.rules:
            return True
        return _passes(self.rules, json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


@dataclass
class HostFilter:
    """What one host's agent ships, from its configuration; counts what it was asked and what it shipped."""

    files: tuple[tuple[_Rule, ...], ...] | None
    journald: tuple[_JournaldEntry, ...] | None
    seen: int = 0
    shipped: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HostFilter:
        collected = (config.get("logs") or {}).get("logs_collected") or {}
        files = journald = None
        if "files" in collected:
            files = tuple(_rules(e) for e in collected["files"].get("collect_list") or [])
        if "journald" in collected:
            journald = tuple(
                _JournaldEntry(
                    matches=tuple(e.get("matches") or ()),
                    units=tuple(e.get("units") or ()),
                    priority=_priority(e.get("priority")),
                    rules=_rules(e),
                )
                for e in collected["journald"].get("collect_list") or []
            )
        return cls(files, journald)

    def ships(self, line: str) -> bool:
        self.seen += 1
        body = _journald_body(line)
        if body is not None:
            ok = self.journald is not None and any(entry.selects(body) for entry in self.journald)
        elif self.files is None:
            ok = False  # a text syslog line, and the configuration tails no file
        else:
            ok = any(_passes(rules, line) for rules in self.files)
        self.shipped += ok
        return ok

    def select(self, lines: Iterable[str]) -> list[str]:
        return [line for line in lines if self.ships(line)]


def _priority(value: Any) -> int:
    if value is None:
        return _PRIORITIES["info"]
    text = str(value)
    return int(text) if text.isdigit() else _PRIORITIES.get(text, _PRIORITIES["info"])


def _journald_body(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    body = doc.get("body") if isinstance(doc, dict) else None
    return body if isinstance(body, dict) else None


def configuration_from_template(template: dict[str, Any]) -> dict[str, Any] | None:
    """The agent configuration in a synthesized template: the SSM parameter whose value is an agent JSON
    with a ``logs`` section (its log group name is a deploy-time ``Ref``, rendered as a placeholder)."""
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::SSM::Parameter":
            continue
        value = (resource.get("Properties") or {}).get("Value")
        try:
            text = _render(value, _AnyRef())
            config = json.loads(text)
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(config, dict) and "logs" in config:
            return config
    return None


class _AnyRef(dict[str, str]):
    """Every ``Ref`` renders as a placeholder: only the filters matter here, not the log group's name."""

    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"
