"""The memory before a kill as one line (service.logic.sparkline): pure, no AWS."""

from __future__ import annotations

import math
from collections.abc import Sequence

from service.logic import sparkline as sp
from service.logic.sparkline import GAP, NO_DATA, RAMP, WIDTH, history_lines, metric_line

KILL_MS = 1_795_170_900_000  # 2026-11-20 10:35:00 UTC
MIN = 60_000


def minutes(values: Sequence[float | None], end_ms: int = KILL_MS) -> tuple[list[int], list[object]]:
    """One point a minute, the last at ``end_ms``; None leaves that minute out."""
    stamps: list[int] = []
    kept: list[object] = []
    for i, v in enumerate(values):
        if v is not None:
            stamps.append(end_ms - (len(values) - 1 - i) * MIN)
            kept.append(v)
    return stamps, kept


def spark_of(line: str) -> str:
    return line[18 : 18 + WIDTH]


def test_flat_line_at_97_percent_is_full_not_bottom() -> None:
    stamps, values = minutes([97.0] * 61)
    line = metric_line("Memory", stamps, values, KILL_MS)
    assert line is not None
    assert spark_of(line) == RAMP[-1] * WIDTH
    assert line.startswith("Memory 1h before: ") and line.endswith("peak 97% at 10:35, 97% at the kill")


def test_rising_curve_rises_and_names_its_peak() -> None:
    values: list[float | None] = [*(40 + i * 0.9 for i in range(60)), 98.0]
    stamps, kept = minutes(values)
    line = metric_line("Memory", stamps, kept, KILL_MS)
    assert line is not None
    spark = spark_of(line)
    assert spark[0] in RAMP[:4] and spark[-1] == RAMP[-1]
    assert [RAMP.index(c) for c in spark] == sorted(RAMP.index(c) for c in spark)
    assert "peak 98% at 10:35, 98% at the kill" in line


def test_gaps_show_as_gaps_and_the_peak_keeps_its_time() -> None:
    values: list[float | None] = [50.0] * 20 + [None] * 20 + [99.0] + [60.0] * 20
    stamps, kept = minutes(values)
    line = metric_line("Memory", stamps, kept, KILL_MS)
    assert line is not None
    assert GAP in spark_of(line)
    assert "peak 99% at 10:15" in line and line.endswith("60% at the kill")


def test_single_point_long_before_the_kill_is_the_last_known_value() -> None:
    line = metric_line("Swap", [KILL_MS - 40 * MIN], [12.4], KILL_MS)
    assert line is not None
    assert line.startswith("Swap 1h before:   ")
    assert spark_of(line).count(GAP) == WIDTH - 1
    assert line.endswith("peak 12% at 09:55, last 12% at 09:55")


def test_all_missing_says_so() -> None:
    assert metric_line("Memory", [], [], KILL_MS) is None
    assert history_lines({}, KILL_MS) == (NO_DATA,)
    assert history_lines(None, KILL_MS) == (NO_DATA,)
    # points outside the hour do not count
    assert history_lines({"mem": ([KILL_MS - 2 * 3600_000], [50.0])}, KILL_MS) == (NO_DATA,)


def test_values_over_100_clamp_to_the_top_and_below_0_to_the_bottom() -> None:
    stamps, values = minutes([-5.0] * 30 + [140.0] * 31)
    line = metric_line("Memory", stamps, values, KILL_MS)
    assert line is not None
    spark = spark_of(line)
    assert spark[0] == RAMP[0] and spark[-1] == RAMP[-1]
    assert "peak 140%" in line  # the figure is as CloudWatch has it, only the bar clamps


def test_nan_and_infinity_are_missing_not_a_crash() -> None:
    stamps, values = minutes([math.nan, math.inf, 55.0])
    line = metric_line("Memory", stamps, values, KILL_MS)
    assert line is not None
    assert "peak 55% at 10:35, 55% at the kill" in line
    assert history_lines({"mem": ([KILL_MS], [math.nan])}, KILL_MS) == (NO_DATA,)
    assert history_lines({"mem": ([KILL_MS], ["97"])}, KILL_MS) == (NO_DATA,)  # not a number


def test_swap_never_used_is_said_in_words() -> None:
    stamps, values = minutes([0.0] * 61)
    line = metric_line("Swap", stamps, values, KILL_MS)
    assert line == "Swap 1h before:   " + RAMP[0] * WIDTH + " 0% all hour"


def test_failed_call_names_its_error_and_both_metrics_make_two_lines() -> None:
    assert history_lines(None, KILL_MS, "Throttling") == ("memory history unavailable (GetMetricData: Throttling)",)
    mem, swap = minutes([80.0] * 61), minutes([0.0] * 61)
    lines = history_lines({"mem": mem, "swap": swap}, KILL_MS)
    assert [line.split(" 1h")[0] for line in lines] == ["Memory", "Swap"]
    assert all(len("  " + line) <= 78 for line in lines)


def test_the_sparkline_is_the_highest_value_of_each_slice() -> None:
    start = KILL_MS - sp.WINDOW_MS
    assert sp.sparkline([(start, 10.0), (start + MIN, 90.0)], start, KILL_MS, width=4) == RAMP[7] + GAP * 3
