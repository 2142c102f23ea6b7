"""The memory before a kill as one line of text: a sparkline of the hour before, its peak and the value at the kill.

Pure: the series come from :class:`service.dal.cloudwatch.MetricsReader` (``mem_used_percent`` and
``swap_used_percent``, the CloudWatch agent's 1-minute Maximum), the kill's use case
(:mod:`service.logic.memory_history`) calls :func:`history_lines` and puts the lines into the
:class:`~service.models.views.KillView`; the e-mail text (and the chat form, which is built from it) only shows them.

The e-mail body is UTF-8 (only SNS subjects must be ASCII, :func:`service.logic.text.ascii_only`), so the
ramp is Unicode's eight block elements, which every mail and chat client draws in a monospace run of text.
The scale is fixed, 0 to 100 %, not the series' own range: a flat line at 97 % must look full, not flat at the
bottom. A minute with no data point is a gap (``·``); values above 100 clamp to the top block, negative
ones to the bottom, NaN and infinities count as missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

from service.logic.layout import hhmm

RAMP: Final = "▁▂▃▄▅▆▇█"
GAP: Final = "·"
#: The hour before the kill, one CloudWatch agent datapoint a minute.
WINDOW_MS: Final = 60 * 60_000
STEP_MS: Final = 60_000
#: Characters of sparkline: 3 minutes each, so the whole line fits the e-mail's 78 columns.
WIDTH: Final = 20
#: The newest point counts as "at the kill" when it is at most this old at the kill.
AT_KILL_MS: Final = 2 * 60_000
LABELS: Final = {"mem": "Memory", "swap": "Swap"}
NO_DATA: Final = "no memory data (is the agent running?)"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _points(stamps: Sequence[int], values: Sequence[object], start_ms: int, end_ms: int) -> list[tuple[int, float]]:
    """The finite points within [start_ms, end_ms], oldest first."""
    out: list[tuple[int, float]] = []
    for stamp, value in zip(stamps, values, strict=False):
        number = _number(value)
        if number is not None and start_ms <= stamp <= end_ms:
            out.append((int(stamp), number))
    out.sort()
    return out


def _block(value: float) -> str:
    share = min(max(value, 0.0), 100.0) / 100.0
    return RAMP[min(len(RAMP) - 1, int(share * len(RAMP)))]


def sparkline(points: Sequence[tuple[int, float]], start_ms: int, end_ms: int, width: int = WIDTH) -> str:
    """``width`` characters over [start_ms, end_ms): each the highest value of its slice, or a gap."""
    span = max(1, end_ms - start_ms)
    slots: list[float | None] = [None] * width
    for stamp, value in points:
        i = min(width - 1, max(0, (stamp - start_ms) * width // span))
        current = slots[i]
        slots[i] = value if current is None else max(current, value)
    return "".join(GAP if v is None else _block(v) for v in slots)


def _pct(value: float) -> str:
    return f"{value:.0f}%"


def metric_line(label: str, stamps: Sequence[int], values: Sequence[object], kill_ms: int) -> str | None:
    """``Memory 1h before: ▂▃▅▆▇█ peak 98% at 10:14, 97% at the kill``; None when the hour has no point."""
    start = kill_ms - WINDOW_MS
    points = _points(stamps, values, start, kill_ms)
    if not points:
        return None
    peak_ms, peak = max(points, key=lambda p: (p[1], p[0]))
    last_ms, last = points[-1]
    at_kill = (
        f"{_pct(last)} at the kill" if kill_ms - last_ms <= AT_KILL_MS else f"last {_pct(last)} at {hhmm(last_ms)}"
    )
    head = f"{label} 1h before:".ljust(18)
    if peak == 0 and min(v for _, v in points) == 0:  # no swap, or none used: say it in words
        return f"{head}{sparkline(points, start, kill_ms)} 0% all hour"
    return f"{head}{sparkline(points, start, kill_ms)} peak {_pct(peak)} at {hhmm(peak_ms)}, {at_kill}"


def history_lines(
    series: Mapping[str, tuple[Sequence[int], Sequence[object]]] | None, kill_ms: int, error: str | None = None
) -> tuple[str, ...]:
    """The alert's lines for one kill: one per metric with data, or the one line that says why there are none.

    ``series``: metric key (``mem``, ``swap``) -> (timestamps in epoch ms, values) for the kill's instance.
    ``error``: the failed call's error code, e.g. ``Throttling``.
    """
    if error:
        return (f"memory history unavailable (GetMetricData: {error})",)
    lines = [
        line
        for key, label in LABELS.items()
        if (found := (series or {}).get(key)) is not None
        and (line := metric_line(label, found[0], found[1], kill_ms)) is not None
    ]
    return tuple(lines) if lines else (NO_DATA,)
