"""The memory before the kill (issue 13): the kill alerts' sparkline lines, ONE ``GetMetricData`` call per delivery.

:func:`memory_lines` runs after noise control numbered the delivery's kills and before they are rendered: for the
kills that will alert (the first of a window, or the loop alert), it asks
:class:`service.dal.cloudwatch.MetricsReader` once for the hour before the oldest of them up to the newest (at most
:data:`MAX_SPAN_MS`), on every instance they name, and puts each kill's lines
(:func:`service.logic.sparkline.history_lines`) in its case; the renderers show them. Off (``sparkline=false``: no
reader), nothing is read and the alerts have no such lines.

Never at the alert's cost: the call is made only with :data:`READ_RESERVE_S` of the invocation left (the
client's own bound, 2 attempts of at most 3 s, within it, and the publish's reserve after it); a failure,
a malformed answer or no time left becomes a line in the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from service.dal.cloudwatch import History, MetricsReader
from service.logic.delivery import PUBLISH_RESERVE_S
from service.logic.ports import Runtime
from service.logic.sparkline import WINDOW_MS, history_lines
from service.models.attempt import Attempt

#: The reader's client makes at most 2 attempts of 1 s connect + 2 s read; then the publishes need theirs.
READ_RESERVE_S: Final = PUBLISH_RESERVE_S + 7.0
#: The range one call reads at most: 80 series of 181 one-minute points stay far under a call's 100,800 points.
MAX_SPAN_MS: Final = 3 * WINDOW_MS
NO_TIME: Final = "memory history skipped (too little of the invocation left)"


def fetch(
    reader: MetricsReader, instance_ids: Sequence[str], kill_times_ms: Sequence[int], attempt: Attempt, now_s: float
) -> History | None:
    """One call from the hour before the oldest kill to the newest, on every instance; None: no time left for it."""
    if attempt.time_left(now_s) < READ_RESERVE_S:
        return None
    end = max(kill_times_ms)
    return reader.history(list(instance_ids), max(min(kill_times_ms) - WINDOW_MS, end - MAX_SPAN_MS), end)


def lines_for(history: History | None, instance_id: str | None, kill_ms: int) -> tuple[str, ...]:
    """One kill's lines from the delivery's one answer."""
    if history is None:
        return (NO_TIME,)
    if history.error:
        return history_lines(None, kill_ms, history.error)
    if instance_id in history.left_out:
        return ("memory history left out (more instances in this delivery than one call reads)",)
    series = {metric: found for (iid, metric), found in history.series.items() if iid == instance_id}
    return history_lines(series, kill_ms)


def memory_lines(
    kills: Sequence[tuple[str | None, int]], rt: Runtime, attempt: Attempt
) -> list[tuple[str, ...] | None]:
    """Each kill's lines, given (instance id, kill time ms) of the kills that alert; None each when off.

    A kill with no instance id gets none (nothing to ask CloudWatch about)."""
    reader = rt.metrics
    if reader is None or not kills:
        return [None] * len(kills)
    ids = [iid for iid, _ in kills if iid]
    if not ids:
        return [None] * len(kills)
    try:
        history = fetch(reader, list(dict.fromkeys(ids)), [t for iid, t in kills if iid], attempt, rt.clock())
    except Exception as exc:  # never at the alert's cost
        history = History(error=type(exc).__name__)
    if history is not None:
        if history.error:
            rt.telemetry.warning("memory_history_failed", error=history.error)
            rt.telemetry.count("MemoryHistoryFailures")
        if history.left_out:
            rt.telemetry.warning("memory_history_left_out", instances=len(history.left_out))
    return [lines_for(history, iid, t) if iid else None for iid, t in kills]
