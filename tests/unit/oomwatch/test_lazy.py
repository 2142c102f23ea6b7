"""oomwatch.lazy: a rare pattern is compiled by its first use, once, and is the pattern re.compile gives."""

from __future__ import annotations

import re

import pytest
from oomwatch import lazy


def test_a_lazy_pattern_compiles_at_its_first_call_and_only_then(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN re.compile counted
    calls: list[str] = []
    real = re.compile

    def counted(source: str, flags: int = 0) -> re.Pattern[str]:
        calls.append(source)
        return real(source, flags)

    monkeypatch.setattr(re, "compile", counted)  # the module oomwatch.lazy calls
    # WHEN a pattern is declared THEN nothing is compiled yet
    pattern = lazy.lazy_pattern(r"(?i)kill(ed)? (\d+)")
    assert calls == []
    # WHEN it is used twice THEN it was compiled once, with its flags, to the same object
    first, second = pattern(), pattern()
    assert calls == [r"(?i)kill(ed)? (\d+)"] and first is second
    assert first.pattern == r"(?i)kill(ed)? (\d+)" and first.fullmatch("KILLED 12") is not None
