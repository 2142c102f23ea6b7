"""The phone rules, checked on EVERY pinned alert in tests/handlers/snapshots: lines at most 78 columns (a URL
line aside); a kill alert's first screen (20 lines) says what died, where, how big against what, and what to do,
and its kernel lines come last; an id or path of 32+ characters appears whole at most once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from handler_kit import SNAPSHOTS

WIDTH = 78
FIRST_SCREEN = 20
FILES = sorted(SNAPSHOTS.glob("*.txt"))


def body(path: Path) -> list[str]:
    """The message text of a snapshot (after its Subject and Attributes lines and the blank line)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith("Subject: ") and lines[1].startswith("Attributes: ") and lines[2] == ""
    return lines[3:]


def test_there_are_snapshots_of_every_kind() -> None:
    kinds = {p.name.split("_", 1)[0] for p in FILES}
    assert {"kill", "loop", "digest", "memory"} <= kinds, kinds
    # and one with a 64-hex container id, so the "shown whole once" rule is exercised
    assert any(re.search(r"[0-9a-f]{64}", re.sub(r"\n +", "", p.read_text())) for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_line_fits_a_phone(path: Path) -> None:
    wide = [line for line in body(path) if len(line) > WIDTH and not line.lstrip().startswith("https://")]
    assert not wide, f"{len(wide)} lines over {WIDTH} columns, e.g. {wide[0]!r}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_subject_is_one_short_ascii_line(path: Path) -> None:
    subject = path.read_text(encoding="utf-8").split("\n", 1)[0].removeprefix("Subject: ")
    assert subject.isascii() and subject.isprintable() and len(subject) < 100


@pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("kill_")], ids=lambda p: p.stem)
def test_first_screen_of_a_kill_says_what_where_how_big_and_what_to_do(path: Path) -> None:
    lines = body(path)
    screen = "\n".join(lines[:FIRST_SCREEN])
    # what died, where
    assert re.match(r"\S+ \(pid \d+\) was killed by .+ on \S+", lines[0]) or " was killed by " in lines[0], lines[0]
    # how big against what (RAM or the cgroup limit), when the report gives a size
    if "RSS" in "\n".join(lines):
        assert re.search(r"^Size: [\d,]+ MiB RSS", screen, re.M), screen
    # what to do, with at least one piece of advice
    assert "\nWHAT TO DO\n  - " in screen, screen
    # the kernel lines come last
    titles = [line for line in lines if line and line == line.upper() and not line.startswith(" ")]
    kernel = [t for t in titles if t.startswith(("KERNEL LINES", "LOG LINES"))]
    if kernel:
        assert titles[-1] == kernel[0], titles


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_long_ids_and_paths_appear_whole_at_most_once(path: Path) -> None:
    text = "\n".join(line for line in body(path) if not line.lstrip().startswith("https://"))
    text = re.sub(r"\n +", "", text)  # undo the wrapping, so an id broken over two lines is found whole
    hexes = re.findall(r"[0-9a-f]{32,}", text)
    repeated = {h for h in hexes if hexes.count(h) > 1}
    assert not repeated, repeated


def test_the_example_alert_in_the_docs_is_the_pinned_snapshot() -> None:
    # docs/alerts.md shows an alert as the code renders it: the ```text block after its heading is the snapshot
    docs = (SNAPSHOTS.parents[2] / "docs" / "alerts.md").read_text(encoding="utf-8")
    section = docs.split("### An alert, as it reads", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    assert block == (SNAPSHOTS / "kill_php_fpm_global.txt").read_text(encoding="utf-8")
