"""A file with lone CR line ends (old Mac, some copy-pastes) reaches CloudWatch as one event of many lines."""

from __future__ import annotations

import time

from handler_kit import Invoke, LogCapture, World, corpus_lines, log_events, payload
from service.logic.reassembly import parse_log_events


def noise(size: int) -> list[str]:
    out: list[str] = []
    while sum(map(len, out)) < size:
        out.append(f"Nov 26 10:00:00 db-1 sshd[{len(out)}]: Connection closed by 10.0.0.1 port {len(out)}")
    return out


def test_a_report_after_64_kib_in_one_cr_event_is_read(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN more than the 64 KiB line cap of noise, then the mysqld report, all in one event with CR line ends
    iid = world.instances["db-1"]
    lines = [*noise(80 << 10), *corpus_lines("01_")]
    start = int(time.time() * 1000) - 60_000

    # WHEN it is delivered
    result = invoke_oom(payload(iid, log_events(["\r".join(lines)], start)))

    # THEN the kill is read as when every line is its own event
    [event] = logs.events()
    assert result["kills"] == 1
    assert event["trigger"]["comm"] == "sed" and event["complete"] is True and event["task_count"] == 85


def test_cr_line_ends_give_the_events_of_lf_line_ends() -> None:
    lines = [*noise(70 << 10), *corpus_lines("01_"), *noise(1 << 10), *corpus_lines("26_")]
    want = [k.event for k in parse_log_events([e.as_dict() for e in log_events(lines, 1_000)], "s")]
    assert len(want) >= 2
    for joined in ("\r".join(lines), "\r\n".join(lines), "\r".join(lines[:500]) + "\n" + "\r\n".join(lines[500:])):
        got = [k.event for k in parse_log_events([{"id": "1", "timestamp": 1_000, "message": joined}], "s")]
        assert [(e["victim"], e["trigger"], e["task_count"]) for e in got] == [
            (e["victim"], e["trigger"], e["task_count"]) for e in want
        ]
