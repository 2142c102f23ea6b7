"""The subset of CloudWatch Logs filter patterns the stack's tests accept; evaluation is the demo's.

The one evaluator is :func:`demo.filterpattern.compile_pattern` (shared by the demo and these tests). This
module is the stack tests' guard in front of it: :func:`parse` accepts only the features below, so a
deployed pattern that starts using anything else fails the tests instead of passing unexamined.

Source: "Filter pattern syntax for metric filters, subscription filters, filter log events, and Live
Tail" (``FilterAndPatternSyntax``), sections "Matching terms in unstructured log events" and "OR
pattern matching". Accepted are exactly the features the OOMWatch subscription filter uses:

* A pattern is a sequence of terms separated by spaces; the empty pattern matches every event.
* A term is a word, or an exact phrase in double quotes (needed for anything but letters, digits and
  underscores; ``\\"`` is a literal quote inside one).
* Terms are case-sensitive and match anywhere in the event: ``ERROR`` matches
  ``Exiting with ERRORCODE: -1`` (the documentation's own example).
* Without ``?`` every term must occur (``ERROR WARN``); with ``?`` in front of each term, any one of
  them suffices (``?ERROR ?WARN``).

Anything else (``-term`` exclusions, mixing ``?`` and plain terms, ``%regex%``, JSON ``{...}`` and
space-delimited ``[...]`` patterns) raises :class:`UnsupportedPattern`, so a pattern that starts using
a feature nobody checked here fails the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from demo import filterpattern

_TERM = re.compile(r'(?P<optional>\?)?(?:"(?P<phrase>(?:[^"\\]|\\.)*)"|(?P<word>[A-Za-z0-9_]+))(?=\s|$)')


class UnsupportedPattern(ValueError):
    """The pattern uses syntax this evaluator does not model."""


@dataclass(frozen=True)
class Term:
    text: str
    optional: bool


def parse(pattern: str) -> list[Term]:
    terms: list[Term] = []
    position = 0
    text = pattern.strip()
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TERM.match(text, position)
        if match is None:
            raise UnsupportedPattern(f"cannot model the filter pattern at {text[position:]!r}")
        phrase = match.group("phrase")
        literal = re.sub(r"\\(.)", r"\1", phrase) if phrase is not None else match.group("word")
        terms.append(Term(literal, optional=match.group("optional") is not None))
        position = match.end()
    if terms and len({term.optional for term in terms}) > 1:
        raise UnsupportedPattern("mixing ?terms and plain terms is not modelled")
    return terms


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether CloudWatch Logs would pass an event's message (the pattern checked by
    :func:`parse` first, then evaluated by the demo's evaluator)."""
    parse(pattern)
    return filterpattern.compile_pattern(pattern)


def matches(pattern: str, message: str) -> bool:
    return compile_pattern(pattern)(message)
