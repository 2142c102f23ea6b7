"""A figure the kernel cannot print is no figure: the kill still comes out, with that value null and a warning.

A kill line with a 400-digit ``anon-rss`` once made rendering and DynamoDB (38 significant digits) fail after the
kill was claimed, losing every alert of its delivery. Each numeric field of a real report (corpus 04: 6.1 global,
corpus 05: 3.13 memcg, corpus 35: 6.16 with the CPU line's UID) is poisoned in turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from oomwatch import parse_lines

from tests.support.corpus import assert_valid, corpus_file, corpus_lines

HUGE = "9" * 400
# (corpus, a text the poisoned line contains, the figure's pattern, path of the value that must turn null)
POISONS = {
    "victim pid": ("04", "Killed process", r"(?<=Killed process )\d+", ("victim", "pid")),
    "total-vm": ("04", "Killed process", r"(?<=total-vm:)\d+", ("victim", "total_vm_kb")),
    "anon-rss": ("04", "Killed process", r"(?<=anon-rss:)\d+", ("victim", "anon_rss_kb")),
    "file-rss": ("04", "Killed process", r"(?<=file-rss:)\d+", ("victim", "file_rss_kb")),
    "shmem-rss": ("04", "Killed process", r"(?<=shmem-rss:)\d+", ("victim", "shmem_rss_kb")),
    "UID": ("04", "Killed process", r"(?<=UID:)\d+", ("victim", "uid")),
    "pgtables": ("04", "Killed process", r"(?<=pgtables:)\d+", ("victim", "pgtables_kb")),
    "oom_score_adj": ("04", "Killed process", r"(?<=oom_score_adj:)\d+", ("victim", "oom_score_adj")),
    "header order": ("04", "invoked oom-killer", r"(?<=order=)\d+", ("trigger", "order")),
    "header oom_score_adj": ("04", "invoked oom-killer", r"(?<=oom_score_adj=)\d+", ("trigger", "oom_score_adj")),
    "header gfp_mask": ("04", "invoked oom-killer", r"(?<=gfp_mask=0x)[0-9a-f]+", ("trigger", "gfp_mask")),
    "CPU line pid": ("04", "CPU: 3 PID:", r"(?<=PID: )\d+", ("trigger", "pid")),
    "CPU line UID": ("35", "CPU: 1 UID:", r"(?<=UID: )\d+", ("trigger", "uid")),
    "memcg usage": ("05", "memory: usage", r"(?<=usage )\d+", ("memcg",)),
    "memcg limit": ("05", "memory: usage", r"(?<=limit )\d+", ("memcg",)),
}


def _report(number: str) -> list[str]:
    lines = [line for line in corpus_lines(corpus_file(number)) if line.strip()]
    if number == "35":
        # The Dec 8 report of corpus 35 has no kill line in the excerpt: its Nov 21 kill line, restamped, ends it.
        kill = next(line for line in lines if "Killed process" in line).replace(
            "Fri Nov 21 14:22:56", "Mon Dec  8 17:51:31"
        )
        lines = [*lines[2:], kill]
    return lines


def _dig(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        value = value[key]
    return value


def _integers(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [i for v in value.values() for i in _integers(v)]
    if isinstance(value, list):
        return [i for v in value for i in _integers(v)]
    return []


def _check(events: Sequence[Mapping[str, Any]]) -> None:
    for event in events:
        assert_valid(event)
        json.dumps(event, allow_nan=False)
        assert all(-(2**64) < i < 2**64 for i in _integers(event)), "every integer fits 64 bits (38 digits easily)"
        uptime = event["uptime_s"]
        assert uptime is None or 0 <= uptime < 2e10


@pytest.mark.parametrize("digits", [HUGE, "1" * 5000], ids=["400 digits", "5000 digits"])
@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_figure_no_kernel_prints_is_null_with_a_warning(poison: str, digits: str) -> None:
    number, where, figure, path = POISONS[poison]
    real = _report(number)
    (plain,) = parse_lines(real)
    assert _dig(plain, path) is not None  # the control: the real value is there

    # WHEN the figure has more digits than any 64-bit counter
    at = next(i for i, line in enumerate(real) if where in line)
    poisoned = [*real[:at], re.sub(figure, digits, real[at], count=1), *real[at + 1 :]]
    assert poisoned[at] != real[at]

    # THEN the kill still comes out, that figure null, with a warning, and the event stores and renders
    (event,) = parse_lines(poisoned)
    _check([event])
    assert _dig(event, path) is None
    assert len(event["warnings"]) > len(plain["warnings"])
    assert event["victim"]["comm"] == plain["victim"]["comm"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pid", "4194305"),  # past PID_MAX_LIMIT
        ("UID:", "4294967296"),  # past a 32-bit uid_t
        ("oom_score_adj:", "1001"),
        ("anon-rss:", "18446744073709551616"),  # 2**64: 20 digits, still more than an unsigned long
    ],
)
def test_a_figure_outside_its_printf_range_is_null(field: str, value: str) -> None:
    line = next(line for line in _report("04") if "Killed process" in line)
    pattern = r"(?<=Killed process )\d+" if field == "pid" else rf"(?<={field})\d+"
    (event,) = parse_lines([re.sub(pattern, value, line, count=1)])
    _check([event])
    key = {"pid": "pid", "UID:": "uid", "oom_score_adj:": "oom_score_adj", "anon-rss:": "anon_rss_kb"}[field]
    assert event["victim"][key] is None
    assert any(value in w and "left out" in w for w in event["warnings"])


def test_the_largest_figures_the_kernel_prints_are_kept() -> None:
    # The boundaries themselves are values: pid 4194304, uid 4294967295, 2**64 - 1 kB
    line = next(line for line in _report("04") if "Killed process" in line)
    line = re.sub(r"(?<=Killed process )\d+", "4194304", line)
    line = re.sub(r"(?<=UID:)\d+", "4294967295", line)
    line = re.sub(r"(?<=total-vm:)\d+", str(2**64 - 1), line)
    (event,) = parse_lines([line])
    _check([event])
    assert event["victim"]["pid"] == 4194304 and event["victim"]["uid"] == 4294967295
    assert event["victim"]["total_vm_kb"] == 2**64 - 1 and event["warnings"][-1].startswith("no task table")


def test_a_task_row_with_figures_no_kernel_prints_is_left_out() -> None:
    # GIVEN corpus 04 whose largest task row (the victim's, rss 2308581 pages) says 400 digits instead
    real = _report("04")
    at = next(i for i, line in enumerate(real) if line.startswith("[ 473206]"))
    poisoned = [*real[:at], real[at].replace("2308581", HUGE), *real[at + 1 :]]

    # THEN that row is no top consumer, the others are, and the event says a row was left out
    (plain,) = parse_lines(real)
    (event,) = parse_lines(poisoned)
    _check([event])
    assert plain["top_consumers"][0]["pid"] == 473206
    assert [t["pid"] for t in event["top_consumers"]] == [t["pid"] for t in plain["top_consumers"][1:]] + [
        event["top_consumers"][-1]["pid"]
    ]
    assert any("task-table rows with figures no kernel prints" in w for w in event["warnings"])
