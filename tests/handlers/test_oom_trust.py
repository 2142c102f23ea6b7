"""A forged systemd line cannot silence a real kill: the allow-list only hears units from a verified sender.

The handler's allow-list (``batch-*.service``, see conftest) matches the unit of a kill. In a syslog file anyone
can write ``systemd[1]: batch-x.service: Failed with result 'oom-kill'`` with ``logger -t systemd``; right after a
real kill, that line used to become the kill's unit, and the real kill was recorded but never alerted.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
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

FORGED = "batch-x.service: Failed with result 'oom-kill'."


def recent_ms() -> int:
    """Log events must be recent for CloudWatch Logs (and moto) to accept them."""
    return int(time.time() * 1000) - 120_000


def syslog_report() -> list[str]:
    """The real RHEL 7 mysqld kill (corpus 01, no cgroup lines) as rsyslog writes it, then the forged line."""
    lines = [f"Nov 20 10:14:59 db-1 kernel: {line}" for line in corpus_lines("01_") if line.strip()]
    return [*lines, f"Nov 20 10:15:00 db-1 systemd[1]: {FORGED}"]


@pytest.mark.parametrize("path", ["whole delivery", "completed from the stream"])
def test_forged_systemd_line_does_not_mute_a_real_kill(
    world: World, invoke_oom: Invoke, logs: LogCapture, path: str
) -> None:
    # GIVEN mysqld's real kill on db-1 followed by `logger -t systemd "batch-x.service: Failed with result
    # 'oom-kill'"`, and an allow-list that matches batch-*.service
    iid = world.instances["db-1"]
    events = log_events(syslog_report(), recent_ms())
    if path == "completed from the stream":  # the subscription passes the marker lines; the rest is fetched
        put_stream(iid, events)
        events = only_filter_lines(events)

    # WHEN it is delivered
    result = invoke_oom(payload(iid, events))

    # THEN the real kill alerts, and shows the forged unit for what it is
    assert result["kills"] == 1 and result["alerts"] == 1 and result["event_only"] == 0
    [sent] = world.sent()
    assert "mysqld killed on db-1" in sent.subject
    assert "Context: systemd reports unit batch-x.service (sender not verified; not used for this alert)" in flat(
        sent.text
    )
    [event] = logs.events()
    assert event["decision"] == "alert" and "allow_listed" not in event
    assert event["units"] == [] and event.get("cgroup") is None and event.get("workload_label") is None
    assert [(c["unit"], c["verified"]) for c in event["systemd_context"]] == [("batch-x.service", False)]


def test_the_same_unit_from_pid_1_in_the_journal_is_allow_listed(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN the same kill in the journal (the agent's journald JSON), and the unit line sent by PID 1 itself
    iid = world.instances["db-1"]

    def entry(message: str, **fields: str) -> str:
        return json.dumps({"body": {"MESSAGE": message, "_HOSTNAME": "db-1", **fields}, "severity_number": 9})

    lines = [entry(line, _TRANSPORT="kernel", SYSLOG_IDENTIFIER="kernel") for line in corpus_lines("01_") if line]
    lines.append(entry(FORGED, _TRANSPORT="journal", SYSLOG_IDENTIFIER="systemd", _PID="1", _UID="0", _COMM="systemd"))

    # WHEN it is delivered
    result = invoke_oom(payload(iid, log_events(lines, recent_ms())))

    # THEN the verified unit is the kill's unit, and the allow-list applies: recorded, not alerted
    assert result["kills"] == 1 and result["event_only"] == 1 and result["alerts"] == 0
    assert world.sent() == []
    [event] = logs.events()
    assert event["decision"] == "event_only" and event["allow_listed"] == "unit batch-x.service is allow-listed"
    assert event["units"] == ["batch-x.service"]


def test_a_forged_earlyoom_line_never_becomes_the_instances_last_kill(
    world: World, invoke_oom: Invoke, runtime_: Any
) -> None:
    # GIVEN web-1's real mysqld kill, then `logger -t earlyoom` writing an earlyoom kill line to syslog
    iid = world.instances["web-1"]
    start = recent_ms()
    invoke_oom(payload(iid, log_events(syslog_report()[:-1], start)))
    forged = 'Nov 20 10:20:00 web-1 earlyoom[1479]: sending SIGTERM to process 4242 uid 0 "sshd": VmRSS 9 MiB'

    # WHEN it is delivered
    result = invoke_oom(payload(iid, log_events([forged], start + 60_000, seq0=10_000)))

    # THEN it is an event of its own, marked unverified, and the alarm notices' "last kill" stays the kernel's
    assert result["kills"] == 1
    last = runtime_.store.last_kills.read([iid])[iid]
    assert last["comm"] == "mysqld" and last["pid"] == 6576
    [alert] = [s for s in world.sent() if "sshd" in s.subject]
    assert alert.attributes["source"] == "earlyoom"
    assert "Sender:     not verified" in alert.text


def test_a_systemd_line_that_repeats_the_kernels_unit_is_not_shown_as_context(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN corpus 02 (its kernel lines name task_memcg=/system.slice/unattended-upgrades.service) as rsyslog
    # writes it, then a systemd[1] line naming the same unit and one naming another (neither verifiable)
    iid = world.instances["db-1"]
    lines = [f"Nov 20 10:14:59 db-1 kernel: {line}" for line in corpus_lines("02_") if line.strip()]
    lines += [
        "Nov 20 10:15:00 db-1 systemd[1]: unattended-upgrades.service: Failed with result 'oom-kill'.",
        f"Nov 20 10:15:00 db-1 systemd[1]: {FORGED}",
    ]

    # WHEN it is delivered
    invoke_oom(payload(iid, log_events(lines, recent_ms())))

    # THEN the alert names the kernel's unit as the workload and shows only the other unit as context
    [sent] = world.sent()
    assert "Workload:   systemd-unit unattended-upgrades.service" in sent.text
    [context] = [line for line in sent.text.splitlines() if line.startswith("  Context:")]
    assert "batch-x.service" in context and "unattended-upgrades" not in context
    [event] = logs.events()
    assert [c["unit"] for c in event["systemd_context"]] == ["unattended-upgrades.service", "batch-x.service"]
