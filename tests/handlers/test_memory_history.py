"""The memory before the kill (issue 13 part 4): the kill alerts' sparkline, on moto with CloudWatch data put as the
agent puts it (demo/memory_history.py), ONE GetMetricData call per delivery, and every failure only a line."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import FIXED_MS, Clock, Invoke, World, client, kills, payload
from service.dal.clients import Clients
from service.dal.cloudwatch import MAX_HISTORY_INSTANCES, MetricsReader, history_search

from demo.memory_history import put_history, rising_curve, swap_curve

KILL_MS = FIXED_MS + 8  # the kill line of the first php_report (9 lines, 1 ms apart)


def counted(monkeypatch: pytest.MonkeyPatch, runtime_: Any) -> list[dict[str, Any]]:
    """Every GetMetricData request the function makes (and let through)."""
    calls: list[dict[str, Any]] = []
    cw = runtime_.clients.cloudwatch
    original = cw.get_metric_data

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(cw, "get_metric_data", spy)
    return calls


def test_a_kill_alert_shows_memory_and_swap_of_the_hour_before(
    world: World, invoke_oom: Invoke, clock: Clock, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN web-1's agent sent memory climbing to 98% and swap filling to 40% in the hour before the kill
    iid = world.instances["web-1"]
    put_history(client("cloudwatch"), iid, FIXED_MS)
    calls = counted(monkeypatch, runtime_)
    clock.now = FIXED_MS / 1000

    # WHEN the kill is delivered
    invoke_oom(payload(iid, kills("web-1", 4000, 1, FIXED_MS)))

    # THEN the alert's WHEN section shows both lines, with the peak and the value at the kill
    [sent] = world.sent()
    when = sent.text.split("\nWHEN\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert when[1].startswith("  Memory 1h before: ") and when[1].endswith("peak 98% at 10:15, 98% at the kill")
    assert when[2].startswith("  Swap 1h before:   ") and when[2].endswith("peak 40% at 10:15, 40% at the kill")
    assert "█" in when[1] and "▁" in when[2]
    # AND the JSON form carries them; the one call asked for both metrics of this instance on the agent's schema
    assert sent.doc["memory_history"] == [line.strip() for line in when[1:3]]
    [call] = calls
    [query] = call["MetricDataQueries"]
    assert query["Expression"] == history_search("CWAgent", [iid])
    assert call["StartTime"].timestamp() * 1000 == (KILL_MS - 3600_000) // 60_000 * 60_000


def test_one_call_per_delivery_for_a_kill_alert_and_its_loop_alert(
    world: World, invoke_oom: Invoke, clock: Clock, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN five kills of one service in one delivery: the first alerts, the fifth is the loop alert
    iid = world.instances["web-1"]
    put_history(client("cloudwatch"), iid, FIXED_MS + 5000)
    calls = counted(monkeypatch, runtime_)
    clock.now = FIXED_MS / 1000

    # WHEN it is delivered
    invoke_oom(payload(iid, kills("web-1", 4000, 5, FIXED_MS)))

    # THEN two alerts, both with the memory lines, from ONE GetMetricData call
    kill, loop = world.sent()
    assert "Memory 1h before:" in kill.text and "Memory 1h before:" in loop.text
    assert loop.doc["memory_history"][0].startswith("Memory 1h before:")
    assert len(calls) == 1


def test_a_failed_call_is_a_line_in_the_alert_never_a_lost_alert(
    world: World, invoke_oom: Invoke, clock: Clock, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN GetMetricData is throttled
    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")

    monkeypatch.setattr(runtime_.clients.cloudwatch, "get_metric_data", throttled)
    iid = world.instances["web-1"]
    clock.now = FIXED_MS / 1000

    # WHEN a kill is delivered
    result = invoke_oom(payload(iid, kills("web-1", 4000, 1, FIXED_MS)))

    # THEN the alert went out and says why it has no memory history
    [sent] = world.sent()
    assert result["alerts"] == 1
    assert "  memory history unavailable (GetMetricData: Throttling)\n" in sent.text


def test_an_instance_whose_agent_sent_nothing_says_so(world: World, invoke_oom: Invoke, clock: Clock) -> None:
    # GIVEN data only under another dimension set (a host with the global append_dimensions: no host dimension)
    iid = world.instances["web-1"]
    client("cloudwatch").put_metric_data(
        Namespace="CWAgent",
        MetricData=[
            {
                "MetricName": "mem_used_percent",
                "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                "Value": 90.0,
                "Unit": "Percent",
                "Timestamp": FIXED_MS / 1000,
            }
        ],
    )
    clock.now = FIXED_MS / 1000

    # WHEN a kill is delivered
    invoke_oom(payload(iid, kills("web-1", 4000, 1, FIXED_MS)))

    # THEN the line says there is no data, and why that may be
    [sent] = world.sent()
    assert "  no memory data (is the agent running?)\n" in sent.text


def test_too_little_time_left_skips_the_call(
    world: World, clock: Clock, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an invocation with 12 s left (the read needs 15 s: its own bound and the publish's reserve)
    import service.handlers.oom
    from handler_kit import FakeContext

    calls = counted(monkeypatch, runtime_)
    iid = world.instances["web-1"]
    clock.now = FIXED_MS / 1000

    # WHEN a kill is delivered
    service.handlers.oom.handler(payload(iid, kills("web-1", 4000, 1, FIXED_MS)), FakeContext(remaining_ms=12_000))

    # THEN no call, and the alert says the history was skipped
    [sent] = world.sent()
    assert calls == []
    assert "  memory history skipped (too little of the invocation left)\n" in sent.text


def test_sparkline_off_reads_nothing_and_shows_nothing(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function deployed with sparkline=false
    import service.handlers.oom
    from handler_kit import FakeContext
    from service.wiring import reset_runtime, runtime

    monkeypatch.setenv("SPARKLINE", "false")
    reset_runtime()
    rt = runtime(service.handlers.oom.telemetry)
    rt.clock = clock
    assert rt.metrics is None
    monkeypatch.setattr(rt.clients.cloudwatch, "get_metric_data", lambda **_: pytest.fail("no read when off"))
    iid = world.instances["web-1"]
    put_history(client("cloudwatch"), iid, FIXED_MS)
    clock.now = FIXED_MS / 1000

    # WHEN a kill is delivered
    try:
        service.handlers.oom.handler(payload(iid, kills("web-1", 4000, 1, FIXED_MS)), FakeContext())
    finally:
        reset_runtime()

    # THEN the alert has no memory lines
    [sent] = world.sent()
    assert "1h before" not in sent.text and "memory history" not in sent.text and "memory_history" not in sent.doc


def test_the_reader_reads_many_instances_in_one_call_and_names_those_past_its_bound(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN three instances with history, and more instance ids than one call reads
    cw = client("cloudwatch")
    ids = [f"i-{n:017x}" for n in range(MAX_HISTORY_INSTANCES + 2)]
    for n, iid in enumerate(ids[:3]):
        put_history(cw, iid, FIXED_MS, host=f"ip-10-0-0-{n}", memory=rising_curve(peak=90.0 + n), swap=swap_curve())
    clients = Clients("eu-west-1")
    calls: list[dict[str, Any]] = []
    original = clients.cloudwatch.get_metric_data

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(clients.cloudwatch, "get_metric_data", spy)

    # WHEN the reader is asked for all of them
    history = MetricsReader(clients, "CWAgent").history(ids, FIXED_MS - 3600_000, FIXED_MS)

    # THEN one call, one SEARCH within AWS's 2,048 characters, both series of each instance with data
    assert len(calls) == 1 and history.calls == 1 and history.error is None
    [query] = calls[0]["MetricDataQueries"]
    assert len(query["Expression"]) <= 2048
    assert sorted(history.series) == sorted((iid, m) for iid in ids[:3] for m in ("mem", "swap"))
    assert [max(history.series[(iid, "mem")][1]) for iid in ids[:3]] == [90.0, 91.0, 92.0]
    assert len(history.series[(ids[0], "mem")][0]) == 61
    # AND the ids past the bound are named, not read
    assert history.left_out == ids[MAX_HISTORY_INSTANCES:]
