"""The handler feeds the parser only the regions around kill lines; that must change no event."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from handler_kit import CORPUS, corpus_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from oomwatch import OomParser
from oomwatch import regions as r
from oomwatch.event import OomEvent
from oomwatch.regions import _USERLAND, select

NOISE = [
    "Nov 26 10:00:00 web-1 sshd[811]: Accepted publickey for ubuntu from 10.0.3.7 port 51234 ssh2",
    "Nov 26 10:00:00 web-1 CRON[4242]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "Nov 26 10:00:01 web-1 kernel: [5001.123456] EXT4-fs (nvme1n1): mounted filesystem with ordered data mode.",
    "Nov 26 10:00:01 web-1 kernel: [5001.223456] [UFW BLOCK] IN=ens5 OUT= SRC=10.0.0.9 DST=10.0.0.5 PROTO=TCP",
    "Nov 26 10:00:02 web-1 systemd[1]: Started Session 42 of User ubuntu.",
]


def parse(lines: list[str], indices: list[int]) -> list[OomEvent]:
    p = OomParser()
    for i in indices:
        p.feed(lines[i], stream="i-0abc", time_ms=1_000_000 + i, event_id=f"e{i}")
    return p.finish()


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.log")), ids=lambda p: Path(p).name[:2])
def test_regions_give_the_same_events_as_every_line(path: Path) -> None:
    # GIVEN a real report with ordinary noise before, between and after its lines
    rng = random.Random(path.name)
    lines: list[str] = []
    for line in corpus_lines(path.name[:3]):
        if rng.random() < 0.3:
            lines.extend(rng.choice(NOISE) for _ in range(rng.randint(1, 5)))
        lines.append(line)
    lines.extend(rng.choice(NOISE) for _ in range(200))

    # WHEN parsed from the selected lines only, and from every line
    selected = parse(lines, select(lines))
    everything = parse(lines, list(range(len(lines))))

    # THEN the events are identical (same kills, ids, context, raw lines)
    assert selected == everything


def test_noise_only_delivery_feeds_nothing() -> None:
    # GIVEN 10,000 ordinary lines, kernel noise included
    lines = [NOISE[i % len(NOISE)] for i in range(10_000)]
    # WHEN selected
    # THEN nothing reaches the parser
    assert select(lines) == []


def test_a_kill_without_its_header_reaches_back_a_bounded_number_of_lines() -> None:
    # GIVEN 1,000 kernel noise lines, 1,000 lines of another program, then a lone kill line
    kernel_noise, other = NOISE[2], NOISE[0]
    lines = [kernel_noise] * 1000 + [other] * 1000
    lines += ["Nov 26 10:00:09 web-1 kernel: Out of memory: Killed process 4242 (php-fpm) total-vm:1kB, anon-rss:1kB"]
    # WHEN selected
    picked = select(lines)
    # THEN only the kill is fed: the 64 lines before it are another program's, which the parser ignores
    assert picked == [2000]
    # AND with kernel lines before it, exactly the 64 lines before the kill are fed
    lines[1000:2000] = [kernel_noise] * 1000
    assert select(lines) == list(range(2000 - 64, 2001))


def test_all_reports_together_with_noise_give_the_same_events() -> None:
    # GIVEN every corpus report in one delivery, in a shuffled order, with noise between and inside them
    rng = random.Random(7)
    paths = sorted(CORPUS.glob("*.log"))
    rng.shuffle(paths)
    lines: list[str] = []
    for path in paths:
        lines.extend(rng.choice(NOISE) for _ in range(rng.randint(0, 120)))
        for line in corpus_lines(path.name[:3]):
            if rng.random() < 0.1:
                lines.append(rng.choice(NOISE))
            lines.append(line)
    # WHEN parsed from the selection and from every line
    # THEN the events are the same
    assert parse(lines, select(lines)) == parse(lines, list(range(len(lines))))


def _oom_words(line: str) -> bool:
    return "oom" in line or "OOM" in line or "emory" in line or "illed" in line


def _feedable(line: str) -> bool:
    """False only for a line the parser would certainly ignore (a user-space program's own line)."""
    if "kernel" in line:
        return True
    if line.startswith("{"):
        return _oom_words(line)
    return _USERLAND.match(line) is None or _oom_words(line)


def reference_select(lines: Sequence[str]) -> list[int]:
    """select() as first written: needles found line by line, then each region's lines one at a time through
    _feedable / _oom_words (the reference versions live here, in the tests; the region rule itself, _regions,
    is shared)."""
    candidates = [i for i, line in enumerate(lines) if " process " in line or r.OOMD in line]
    anchors = [(i, kind) for i in candidates if (kind := r._anchor(lines[i])) is not None]
    if not anchors:
        return []
    headers = [i for i, line in enumerate(lines) if r.HEADER in line]
    regions = r._regions(anchors, headers, len(lines))
    last = len(lines) - 1
    picked: list[int] = []
    for start, end, kill in regions:
        for i in range(start, end):
            line = lines[i]
            # After a region's last kill only OOM-related lines matter (oom_reaper, systemd's unit notes,
            # a next report's header); before it, every line but other programs' own. A skipped line must not
            # leave an indented continuation line to be read as part of the record before it.
            keep = _oom_words(line) if i > kill else _feedable(line)
            if keep or (i < last and lines[i + 1][:1] in (" ", "\t")):
                picked.append(i)
    return picked


LINE_PARTS = [
    *NOISE,
    "Nov 26 10:00:09 web-1 kernel: Out of memory: Killed process 4242 (php-fpm) total-vm:1kB, anon-rss:1kB",
    "Nov 26 10:00:08 web-1 kernel: php-fpm invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0",
    "Nov 26 10:00:10 web-1 systemd-oomd[612]: Killed /user.slice/user-1000.slice due to memory pressure",
    'Nov 26 10:00:10 web-1 earlyoom[700]: sending SIGTERM to process 4242 uid 1000 "java": badness 900',
    "Nov 26 10:00:11 web-1 systemd[1]: php-fpm.service: Failed with result 'oom-kill'.",
    "Nov 26 10:00:11 web-1 myapp[9]: Memory is fine",
    '{"MESSAGE": "Killed process 1 (x)", "_COMM": "kernel"}',
    '{"MESSAGE": "hello"}',
    "  continuation of the record above",
    "\tTabbed continuation",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LINE_PARTS), max_size=400))
def test_select_agrees_with_the_line_by_line_definition(lines: list[str]) -> None:
    assert select(lines) == reference_select(lines)
