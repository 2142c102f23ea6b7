"""CloudWatch Logs filter patterns, as documented in "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail" (AmazonCloudWatch/latest/logs/FilterAndPatternSyntax).

Supported, which covers what CDK's ``FilterPattern`` renders for text and JSON events:

* ``""``: every event.
* Terms, case-sensitive: ``ERROR``, ``"Killed process"`` (a quoted exact phrase), all of which must occur;
  ``?a ?b`` any of which must occur; ``-term`` which must not occur. A term matches as a substring.
* A regex term ``%...%`` (CloudWatch's restricted regex is a subset of Python's).
* JSON patterns ``{ SELECTOR OP VALUE }`` on events that are JSON objects: selectors ``$.a.b``, ``$.a[0]``;
  ``=``/``!=`` with a quoted or bare string (``*`` is a wildcard) or a ``%regex%``; ``= != < <= > >=`` with
  numbers; ``IS TRUE``/``IS FALSE``/``IS NULL``; ``NOT EXISTS``/``EXISTS``; ``&&``, ``||`` and parentheses.

Space-delimited patterns (``[a, b=..., ...]``) are not supported: :func:`compile_pattern` raises
``NotImplementedError`` for them instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[str], bool]

_MISSING = object()
_KEYWORDS = {"IS", "NOT", "EXISTS", "TRUE", "FALSE", "NULL"}


def compile_pattern(pattern: str) -> Matcher:
    text = pattern.strip()
    if not text:
        return lambda _message: True
    if text.startswith("{"):
        predicate = _JsonParser(text).parse()

        def match_json(message: str) -> bool:
            try:
                doc = json.loads(message)
            except ValueError:
                return False
            return isinstance(doc, dict) and predicate(doc)

        return match_json
    if text.startswith("["):
        raise NotImplementedError(f"space-delimited filter patterns are not supported: {pattern!r}")
    return _compile_terms(text)


def matches(pattern: str, message: str) -> bool:
    return compile_pattern(pattern)(message)


# --- term patterns -------------------------------------------------------------------------------------------

_TERM = re.compile(r'(?P<op>[?-]?)(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|%(?P<regex>[^%]*)%|(?P<bare>\S+))')


def _term_matcher(quoted: str | None, regex: str | None, bare: str | None) -> Matcher:
    if regex is not None:
        compiled = re.compile(regex)
        return lambda message: compiled.search(message) is not None
    needle = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
    return lambda message: needle in message


def _compile_terms(text: str) -> Matcher:
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TERM.match(text, pos)
        if m is None:  # pragma: no cover - \S+ always matches a non-space
            raise ValueError(f"cannot parse filter pattern {text!r} at {pos}")
        term = _term_matcher(m.group("quoted"), m.group("regex"), m.group("bare"))
        {"?": optional, "-": excluded, "": required}[m.group("op")].append(term)
        pos = m.end()

    def match_terms(message: str) -> bool:
        if any(term(message) for term in excluded):
            return False
        if not all(term(message) for term in required):
            return False
        return not optional or any(term(message) for term in optional)

    return match_terms


# --- JSON patterns -------------------------------------------------------------------------------------------

Predicate = Callable[[dict[str, Any]], bool]

_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<andor>&&|\|\|)
      | (?P<paren>[()])
      | (?P<brace>[{}])
      | (?P<selector>\$(?:\.[A-Za-z0-9_@\-]+|\[\d+\]|\.\*|\[\*\])*)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<regex>%[^%]*%)
      | (?P<word>[^\s()&|{}=!<>"]+)
    )""",
    re.VERBOSE,
)


def _select(doc: Any, selector: str) -> Any:
    value: Any = doc
    for part in re.findall(r"\.([A-Za-z0-9_@\-]+)|\[(\d+)\]", selector[1:]):
        key, index = part
        if key:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def _wildcard(value: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in value.split("*")) + "$", re.DOTALL)


class _JsonParser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _JSON_TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(f"cannot parse JSON filter pattern {text!r} at {pos}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, kind: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if kind is not None and token[0] != kind:
            raise ValueError(f"expected {kind}, got {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        self.take("brace")
        predicate = self.expression()
        if self.take("brace")[1] != "}" or self.peek()[0] != "end":
            raise ValueError("JSON filter pattern must be one { ... } block")
        return predicate

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.peek() == ("andor", "||"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.atom()
        while self.peek() == ("andor", "&&"):
            self.take()
            right = self.atom()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
        return left

    def atom(self) -> Predicate:
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.expression()
            self.take("paren")
            return inner
        selector = self.take("selector")[1]
        kind, value = self.peek()
        if kind == "word" and value.upper() in {"IS", "NOT", "EXISTS"}:
            words = []
            while self.peek()[0] == "word" and self.peek()[1].upper() in _KEYWORDS:
                words.append(self.take()[1].upper())
            return self.keyword(selector, " ".join(words))
        op = self.take("op")[1]
        kind, raw = self.take()
        return self.comparison(selector, op, kind, raw)

    @staticmethod
    def keyword(selector: str, words: str) -> Predicate:
        checks: dict[str, Predicate] = {
            "IS TRUE": lambda doc: _select(doc, selector) is True,
            "IS FALSE": lambda doc: _select(doc, selector) is False,
            "IS NULL": lambda doc: _select(doc, selector) is None,
            "EXISTS": lambda doc: _select(doc, selector) is not _MISSING,
            "NOT EXISTS": lambda doc: _select(doc, selector) is _MISSING,
        }
        if words not in checks:
            raise ValueError(f"unknown JSON filter keyword {words!r}")
        return checks[words]

    @staticmethod
    def comparison(selector: str, op: str, kind: str, raw: str) -> Predicate:  # noqa: C901 - one branch per filter-pattern operator
        if kind == "regex":
            compiled = re.compile(raw[1:-1])
            positive = op == "="

            def regex_check(doc: dict[str, Any]) -> bool:
                value = _select(doc, selector)
                found = isinstance(value, str) and compiled.search(value) is not None
                return found if positive else (value is not _MISSING and not found)

            return regex_check
        number: float | None = None
        if kind == "word":
            try:
                number = float(raw)
            except ValueError:
                number = None
        if number is not None and (op in {"<", "<=", ">", ">="} or kind == "word"):
            target = number
            compare: dict[str, Callable[[float], bool]] = {
                "=": lambda v: v == target,
                "!=": lambda v: v != target,
                "<": lambda v: v < target,
                "<=": lambda v: v <= target,
                ">": lambda v: v > target,
                ">=": lambda v: v >= target,
            }

            def number_check(doc: dict[str, Any]) -> bool:
                value = _select(doc, selector)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return False
                return compare[op](float(value))

            return number_check
        if op not in {"=", "!="}:
            raise ValueError(f"operator {op} needs a number, got {raw!r}")
        text = json.loads(raw) if kind == "string" else raw
        wildcard = _wildcard(text)
        equal = op == "="

        def string_check(doc: dict[str, Any]) -> bool:
            value = _select(doc, selector)
            if value is _MISSING or not isinstance(value, str):
                return False
            return (wildcard.match(value) is not None) == equal

        return string_check
