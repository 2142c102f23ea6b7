"""The memory-history use case (service.logic.memory_history) with a fake reader: one call, bounded, never raising."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from service.dal.cloudwatch import History
from service.logic.memory_history import MAX_SPAN_MS, NO_TIME, memory_lines
from service.models.attempt import Attempt

KILL_MS = 1_795_170_900_000
IID = "i-0a1b2c3d4e5f60718"


class FakeReader:
    def __init__(self, answer: History | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[list[str], int, int]] = []

    def history(self, ids: list[str], start_ms: int, end_ms: int) -> History:
        self.calls.append((ids, start_ms, end_ms))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Telemetry:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, **_: object) -> None:
        self.warnings.append(message)

    def count(self, *_: object) -> None:
        pass


def runtime(reader: Any) -> Any:
    return SimpleNamespace(metrics=reader, clock=lambda: 1000.0, telemetry=Telemetry())


def attempt(left_s: float) -> Attempt:
    return Attempt(request_id="r", deadline_s=1000.0 + left_s)


def test_one_call_for_all_kills_bounded_to_three_hours() -> None:
    # GIVEN kills 5 hours apart on one instance (a stream read back)
    reader = FakeReader(History(series={(IID, "mem"): ([KILL_MS], [80.0])}))
    kills = [(IID, KILL_MS - 5 * 3600_000), (IID, KILL_MS)]

    # WHEN their lines are made
    lines = memory_lines(kills, runtime(reader), attempt(30))

    # THEN one call, reading at most 3 hours, and a line for each kill
    [(ids, start, end)] = reader.calls
    assert ids == [IID] and end == KILL_MS and end - start == MAX_SPAN_MS
    assert lines[1] is not None and lines[1][0].startswith("Memory 1h before:")


def test_off_no_instance_no_time_and_a_crash_never_raise() -> None:
    kills = [(IID, KILL_MS)]
    # off: nothing
    assert memory_lines(kills, runtime(None), attempt(30)) == [None]
    # a kill on a stream that is no instance: nothing to ask, no call
    reader = FakeReader(History())
    assert memory_lines([(None, KILL_MS)], runtime(reader), attempt(30)) == [None] and reader.calls == []
    # too little time: no call, a line saying so
    assert memory_lines(kills, runtime(reader), attempt(14)) == [(NO_TIME,)] and reader.calls == []
    # the reader itself crashing: a line, and a warning
    rt = runtime(FakeReader(RuntimeError("boom")))
    assert memory_lines(kills, rt, attempt(30)) == [("memory history unavailable (GetMetricData: RuntimeError)",)]
    assert rt.telemetry.warnings == ["memory_history_failed"]


def test_instances_past_the_bound_get_their_own_line() -> None:
    reader = FakeReader(History(left_out=[IID]))
    [lines] = memory_lines([(IID, KILL_MS)], runtime(reader), attempt(30))
    assert lines is not None and lines[0].startswith("memory history left out")
