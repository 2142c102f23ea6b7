"""No log line can stall the parser: every shape below costs time linear in its length (and in its line count).

Each shape is measured at 2, 8, 32 and 64 KiB in the same run, feeding about as many bytes at every size
(16 lines of 2 KiB, 4 of 8 KiB, one of 32 and one of 64 KiB), and its CPU time per byte may grow at most
BOUND-fold over the 2 KiB figure. Linear work reads about 1x; a quadratic path reads 4x at 8 KiB, 16x at 32 KiB
and is stopped there, so the test stays quick even on code that would take minutes. The shapes are in
``adversarial.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from oomwatch import OomParser, parse_lines

from tests.support.adversarial import (
    CLOSING_KILL,
    KIB,
    LINE_SHAPES,
    MANY_LINES,
    OPEN_HEADER,
    OPEN_SUMMARY,
    SHAPES,
    as_bare,
    as_line,
    as_syslog,
    cpu_seconds,
)
from tests.support.corpus import assert_valid, corpus_file, corpus_lines

SIZES_KIB = (2, 8, 32, 64)
BOUND = 4.0
RETRIES = 3  # runs when a first measurement exceeds the bound


def _cpu_seconds(lines: list[str], copies: int, repeats: int = 1) -> float:
    return max(cpu_seconds(lines, copies=copies, repeats=repeats), 1e-6)


def _assert_linear(make: Callable[[int], list[str]], what: str) -> None:
    def per_byte(size: int, repeats: int) -> float:
        lines = make(size * KIB)
        copies = max(32 // size, 1)
        return _cpu_seconds(lines, copies, repeats) / (copies * sum(len(x) for x in lines))

    base = per_byte(SIZES_KIB[0], 1)
    for size in SIZES_KIB[1:]:
        growth = per_byte(size, 1) / base
        for _ in range(2):  # over the bound: measure again, more carefully, before calling it super-linear
            if growth <= BOUND:
                break
            base = min(base, per_byte(SIZES_KIB[0], RETRIES))
            growth = per_byte(size, RETRIES) / base
        assert growth <= BOUND, f"{what}: time per byte at {size} KiB is {growth:.1f}x that at 2 KiB"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_kernel_text_costs_linear_time(shape: str) -> None:
    # GIVEN a report open (header and summary), the crafted kernel text and a kill, as syslog and as bare text
    make = SHAPES[shape]

    def lines(size: int) -> list[str]:
        text = make(size)
        return [wrap(x) for wrap in (as_syslog, as_bare) for x in (OPEN_HEADER, OPEN_SUMMARY, text, CLOSING_KILL)]

    # THEN the time per byte does not grow with the line's length
    _assert_linear(lines, shape)


@pytest.mark.parametrize("shape", sorted(LINE_SHAPES))
def test_whole_line_costs_linear_time(shape: str) -> None:
    make = LINE_SHAPES[shape]
    _assert_linear(lambda size: [make(size)], shape)


@pytest.mark.parametrize("shape", sorted(MANY_LINES))
def test_cost_per_line_does_not_grow_with_the_number_of_lines(shape: str) -> None:
    # GIVEN n and 8n lines of one report (1,000 and 8,000 where each line costs little)
    make = MANY_LINES[shape]
    n = {"task-table rows": 1000, "systemd unit lines after a kill": 1000, "systemd-oomd attempts": 2000}.get(
        shape, 125
    )
    few, many = make(n), make(8 * n)
    few_lines = [as_line(x) for x in few]
    many_lines = [as_line(x) for x in many]

    # THEN feeding 8 copies of n lines costs about what 8n lines of one report cost
    small = _cpu_seconds(few_lines, 8) / (8 * len(few_lines))
    big = _cpu_seconds(many_lines, 1) / len(many_lines)
    for _ in range(2):
        if big <= BOUND * small:
            break
        small = min(small, _cpu_seconds(few_lines, 8, RETRIES) / (8 * len(few_lines)))
        big = _cpu_seconds(many_lines, 1, RETRIES) / len(many_lines)
    assert big <= BOUND * small, f"{shape}: the cost per line grew {big / small:.1f}x from {n} to {8 * n} lines"


def test_a_long_summary_is_capped_and_the_real_kill_still_parses() -> None:
    # GIVEN a real 5.x memcg report (corpus 04) whose oom-kill summary is followed by 5,000 pr_cont pieces
    real = corpus_lines(corpus_file("04"))
    at = next(i for i, line in enumerate(real) if "oom-kill:" in line) + 1
    prefix = real[at - 1][: real[at - 1].index("oom-kill:")]
    junk = [prefix + ",x" + "a" * 60 for _ in range(5000)]

    # THEN the kill still comes out, says the summary was cut, and its event stays small and valid
    (plain,) = parse_lines(real)
    (event,) = parse_lines(real[:at] + junk + real[at:])
    assert_valid(event)
    assert event["victim"] == plain["victim"]
    assert any("oom-kill summary runs past" in w for w in event["warnings"])
    assert len(event["lines"]) <= 120


def test_per_report_buffers_are_capped() -> None:
    # GIVEN one report with 20,000 task rows, 1,000 already-exiting victims and 300 lines of 64 KiB
    rows = MANY_LINES["task-table rows"]
    lines = [as_syslog(x) for x in rows(20_000)[:-1]]
    lines += [
        as_syslog(f"Out of memory: OOM victim {i + 1} (x) is already exiting. Skip killing the task")
        for i in range(1000)
    ]
    lines += [as_syslog(" " + "x" * 65_000)] * 300
    lines.append(as_syslog(rows(1)[-1]))
    parser = OomParser()
    for line in lines:
        parser.feed(line)
    report = parser._streams[("", "web-1")].report
    assert report is not None

    # THEN the report holds at most the capped rows, warnings, lines and characters per line
    assert len(report.rows) <= 2 * 8192 and len(report.warnings) <= 32
    assert len(report.lines) <= 4000 and max(len(raw) for raw, _ in report.lines) <= 4096

    # AND the event counts every row and says what was left out
    (event,) = parser.finish()
    assert_valid(event)
    assert event["task_count"] == 20_000 and event["victim"]["pid"] == 1
    assert event["top_consumers"][0]["rss_kb"] == 976 * 4
    assert any("968 more warnings" in w for w in event["warnings"])
    assert any("only the 8192 largest kept" in w for w in event["warnings"])
