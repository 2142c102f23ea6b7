"""Reports split across deliveries, and kills whose context lines the subscription filter dropped."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import (
    Invoke,
    LogCapture,
    World,
    corpus_lines,
    flat,
    log_events,
    only_filter_lines,
    payload,
    put_stream,
)


def recent_ms() -> int:
    """Log events must be recent for CloudWatch Logs (and moto) to accept them."""
    return int(time.time() * 1000) - 120_000


def test_report_split_over_two_deliveries_is_reassembled(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN the mysqld report in db-1's stream, delivered in two parts: header and Mem-Info first,
    # then the task table and the kill
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())
    put_stream(iid, events)
    first, second = events[:60], events[60:]

    # WHEN both deliveries arrive
    r1 = invoke_oom(payload(iid, first))
    r2 = invoke_oom(payload(iid, second))

    # THEN the first (no kill yet) sends nothing, the second sends one alert with the whole report
    assert r1["kills"] == 0 and r2["kills"] == 1
    [sent] = world.sent()
    assert "Trigger:    sed (pid 29481)" in sent.text
    assert "TOP MEMORY USERS (task table, 85 tasks)" in sent.text
    [event] = logs.events()
    assert event["context"] == "fetched" and event["complete"] is True
    assert event["kill_event_id"] == second[-1].id


def test_filter_lines_only_are_completed_from_the_stream(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN the subscription passes only the report's marker lines; the full report is in the log group
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())
    put_stream(iid, events)
    delivered = only_filter_lines(events)
    assert len(delivered) < 5

    # WHEN they are delivered
    invoke_oom(payload(iid, delivered))

    # THEN the alert shows what only the dropped lines carried: the other big memory users
    [sent] = world.sent()
    assert "10,612 MiB  java (pid 27502)" in sent.text
    assert logs.events()[0]["top_consumers"][1]["comm"] == "java"


def test_context_not_found_alerts_with_what_is_known(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN only the kill line, and a log group that has nothing around it
    iid = world.instances["web-1"]
    kill = [e for e in log_events(corpus_lines("01_"), recent_ms()) if "Killed process" in e.message]

    # WHEN it is delivered
    invoke_oom(payload(iid, kill))

    # THEN the alert goes out anyway, marked incomplete, and says why
    [sent] = world.sent()
    assert "Trigger:    not in the lines received" in sent.text
    assert "in neither this delivery nor the 0 surrounding lines" in flat(sent.text)
    [event] = logs.events()
    assert event["complete"] is False and event["context"] == "not_found"


def test_context_fetch_failure_degrades_to_known_facts(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN FilterLogEvents is denied
    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "FilterLogEvents")

    monkeypatch.setattr(runtime_.clients.logs, "filter_log_events", denied)
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())

    # WHEN only the marker lines arrive
    invoke_oom(payload(iid, only_filter_lines(events)))

    # THEN the alert is sent with the header facts and names the failed call
    [sent] = world.sent()
    assert "Trigger:    sed asked for memory" in sent.text
    assert "logs:FilterLogEvents failed (AccessDeniedException)" in flat(sent.text)
    assert logs.events()[0]["context"] == "failed"


def test_context_fetch_is_bounded_in_pages(
    world: World, invoke_oom: Invoke, runtime_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a FilterLogEvents that would page forever
    calls: list[dict[str, Any]] = []

    def endless(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return {"events": [], "nextToken": f"t{len(calls)}"}

    monkeypatch.setattr(runtime_.clients.logs, "filter_log_events", endless)
    iid = world.instances["db-1"]
    kill = [e for e in log_events(corpus_lines("01_"), recent_ms()) if "Killed process" in e.message]

    # WHEN a kill without context arrives
    invoke_oom(payload(iid, kill))

    # THEN the fetch stops after the page limit, within the stream and time window, and the alert goes out
    assert len(calls) == runtime_.settings.context_max_pages
    assert calls[0]["logStreamNames"] == [iid]
    assert calls[0]["startTime"] == kill[0].timestamp - runtime_.settings.context_before_s * 1000
    assert "(read limit reached)" in world.sent()[0].text


def test_a_report_in_multi_line_events_reads_as_one_line_per_event(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN the mysqld report as a shipper with a multi-line start pattern sends it: the header event holds
    # the stack and Mem-Info lines, each task-table row is its own event, and the kill closes the report
    iid = world.instances["db-1"]
    lines = corpus_lines("01_")
    table = next(i for i, line in enumerate(lines) if "[ pid ]" in line)
    grouped = ["\n".join(lines[:table]), *lines[table:]]
    start = recent_ms()

    # WHEN it is delivered
    result = invoke_oom(payload(iid, log_events(grouped, start)))

    # THEN the kill is the same as when every line is its own event, and keyed on the kill line's event
    [event] = logs.events()
    assert result["kills"] == 1
    assert event["trigger"]["comm"] == "sed" and event["complete"] is True and event["task_count"] == 85
    assert event["kill_event_id"] == log_events(grouped, start)[-1].id


def test_exhausted_read_quota_sends_the_alert_on_time_and_says_so(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    # GIVEN the account's FilterLogEvents quota is exhausted (every call throttled), as in a fleet-wide storm
    calls: list[float] = []

    def throttled(**_: Any) -> Any:
        calls.append(time.monotonic())
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "FilterLogEvents")

    monkeypatch.setattr(runtime_.clients.logs, "filter_log_events", throttled)
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())

    # WHEN only the marker lines arrive
    started = time.monotonic()
    invoke_oom(payload(iid, only_filter_lines(events)))
    took = time.monotonic() - started

    # THEN the alert goes out within the fetch's time budget (4 s), after a few jittered retries, and
    # names the exhausted quota
    [sent] = world.sent()
    assert took < runtime_.settings.context_budget_s + 1.0
    assert 1 <= len(calls) <= 8
    assert "the account's read quota (5 requests per second, shared" in sent.text
    assert "sent on time without them" in sent.text
    assert logs.events()[0]["context"] == "failed"


def test_reads_are_rate_limited_per_container() -> None:
    from service.dal.logs import ReadBudget

    # GIVEN a budget of 1 request/s with a burst of 2, on a fake clock
    now = [0.0]
    budget = ReadBudget(rate=1.0, burst=2.0, monotonic=lambda: now[0])

    # WHEN four requests are taken at once, then one after 3 s
    waits = [budget.wait_s() for _ in range(4)]
    now[0] += 3.0
    later = budget.wait_s()

    # THEN the burst goes at once, the rest wait their turn, and the bucket refills
    assert waits == [0.0, 0.0, 1.0, 2.0]
    assert later == 0.0


def test_oom_mode_joins_a_split_report_from_the_stash_without_reading_the_log_group(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handler_kit import SYSLOG_GROUP, client

    # GIVEN log_mode=oom (the agent ships only OOM lines, the subscription passes them all) and a
    # FilterLogEvents that must never be called
    runtime_.settings = runtime_.settings._replace(log_mode="oom", syslog_group=SYSLOG_GROUP)
    reads: list[Any] = []
    monkeypatch.setattr(runtime_.clients.logs, "filter_log_events", lambda **kw: reads.append(kw))
    iid = world.instances["db-1"]
    events = log_events(corpus_lines("01_"), recent_ms())
    first, second = events[:60], events[60:]

    # WHEN the report arrives in two deliveries (header and Mem-Info, then the task table and the kill)
    r1 = invoke_oom(payload(iid, first))
    r2 = invoke_oom(payload(iid, second))

    # THEN the second alert holds the whole report, joined from the stash; no read-back at all
    assert r1["kills"] == 0 and r2["kills"] == 1
    assert reads == []
    [sent] = world.sent()
    assert "Trigger:    sed (pid 29481)" in sent.text
    assert "TOP MEMORY USERS (task table, 85 tasks)" in sent.text
    [event] = logs.events()
    assert event["context"] == "stashed" and event["complete"] is True
    # AND the stash is one short-lived item
    items = client("dynamodb").scan(TableName="oomwatch-state")["Items"]
    [stash] = [i for i in items if i["pk"]["S"].startswith("stash#")]
    assert int(stash["expires_at"]["N"]) - int(stash["until"]["N"]) == 0


def test_oom_mode_still_reads_back_existing_log_groups(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture
) -> None:
    from handler_kit import SYSLOG_GROUP

    # GIVEN log_mode=oom, and a kill line only, from an existing (unfiltered) log group
    runtime_.settings = runtime_.settings._replace(log_mode="oom", syslog_group=SYSLOG_GROUP)
    iid = world.instances["web-1"]
    group = "/existing/syslog"
    client_logs = runtime_.clients.logs
    client_logs.create_log_group(logGroupName=group)
    events = log_events(corpus_lines("01_"), recent_ms())
    put_stream(iid, events, group=group)
    kill = [e for e in events if "Killed process" in e.message]

    # WHEN it is delivered
    invoke_oom(payload(iid, kill, group=group))

    # THEN the rest of the report is read from that group (FilterLogEvents stays where it is needed)
    [event] = logs.events()
    assert event["context"] == "fetched"
