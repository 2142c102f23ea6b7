"""Property tests: no input makes the parser raise, and every event it returns validates against the schema."""

from __future__ import annotations

import io
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oomwatch import parse_lines, scan_binary
from oomwatch.event import OomEvent

from tests.support.corpus import assert_valid, corpus_files, corpus_lines

REPORTS = [corpus_lines(p) for p in corpus_files()]
KILL_REPORTS = [r for r in REPORTS if any("Killed process" in line for line in r)]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(lines: list[str]) -> list[OomEvent]:
    events = parse_lines(lines)
    for e in events:
        assert_valid(e)
    return events


@SETTINGS
@given(st.lists(st.text(max_size=300), max_size=40))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    _check(lines)


@SETTINGS
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_through_the_scanner_never_raise(data: bytes) -> None:
    for e in scan_binary(io.BytesIO(data)):
        assert_valid(e)


@SETTINGS
@given(
    st.sampled_from(KILL_REPORTS),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
)
def test_cut_reports_never_raise(report: list[str], start: int, length: int) -> None:
    _check(report[start : start + length])


@SETTINGS
@given(st.sampled_from(KILL_REPORTS), st.randoms(use_true_random=False))
def test_shuffled_reports_never_raise_and_keep_every_parsable_kill(report: list[str], rnd: random.Random) -> None:
    lines = list(report)
    rnd.shuffle(lines)
    events = _check(lines)
    # Every Killed process line still yields at most one event and none is invented.
    assert len(events) <= sum("Killed process" in line for line in report)


@SETTINGS
@given(st.sampled_from(KILL_REPORTS), st.integers(min_value=2, max_value=3))
def test_duplicated_reports_give_each_kill_once(report: list[str], times: int) -> None:
    once = parse_lines(report)
    again = _check(report * times)
    assert [e["victim"]["pid"] for e in again] == [e["victim"]["pid"] for e in once]


@SETTINGS
@given(
    st.sampled_from(KILL_REPORTS),
    st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=8)), max_size=12),
)
def test_reports_sprinkled_with_random_bytes_never_raise(report: list[str], noise: list[tuple[int, bytes]]) -> None:
    data = bytearray("\n".join(report).encode())
    for pos, junk in noise:
        at = pos % (len(data) + 1)
        data[at:at] = junk
    text = data.decode("utf-8", "replace")
    _check(text.split("\n"))
    for e in scan_binary(io.BytesIO(bytes(data))):
        assert_valid(e)


def _fields(rec: object) -> tuple[object, ...]:
    return tuple(getattr(rec, name) for name in rec.__slots__)  # type: ignore[attr-defined]


def test_the_kernel_prefix_shortcut_never_changes_a_record() -> None:
    """Lines after a classic syslog kernel line reuse its prefix (a parser's own KernelPrefix hint); each must
    read as it does on its own, without a hint."""
    from oomwatch import transport

    hint = transport.KernelPrefix()
    for report in REPORTS:
        prefixed = [f"Nov 26 10:22:50 web-1 kernel: {line}" for line in report]
        for line in [*report, *prefixed]:
            warm = [_fields(r) for r in transport.parse_line(line, None, hint)]  # primes the hint for the next
            cold = [_fields(r) for r in transport.parse_line(line)]
            assert warm == cold, line
    assert hint.last[0] == "Nov 26 10:22:50 web-1 kernel: "  # the shortcut was in play
    # and lines that only look like a continuation: the prefix with a CR, an escaped record, a level, no uptime
    primed = "Nov 26 10:22:50 web-1 kernel: [ 7093.543707] uwsgi invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL)"
    for odd in ["\0[ 1.0] x", "", "Nov 26 10:22:50 web-1 kernel: [ 7093.5] a#012b", "Nov 26 10:22:50 web-1 kernel: x",
                "Nov 26 10:22:50 web-1 kernel: [ 7093.5] <4>x", "Nov 26 10:22:50 web-1 kernel: [ 7093.5] x\r\n",
                "Nov 26 10:22:50 web-1 kernel: [ 7093.5] systemd[1]: y"]:  # fmt: skip
        transport.parse_line(primed, None, hint)
        warm = [_fields(r) for r in transport.parse_line(odd, None, hint)]
        assert warm == [_fields(r) for r in transport.parse_line(odd)], odd
