"""Trust by sender, not by words: cut lines, broken journal records, systemd unit lines and userspace killers.

Real kernel reports and real systemd lines from the corpus are the input; the forged or oversized lines around them
are what any local user can write (``logger``, ``systemd-cat``, a huge journal entry).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from oomwatch import OomParser, parse_lines
from oomwatch.scanner import scan_binary
from oomwatch.transport import MAX_LINE

from tests.support.corpus import assert_valid, corpus_file, corpus_lines

HOST = "web-1"
REALTIME_US = 1_795_169_700_000_000  # 2026-11-20 10:15:00 UTC


def report(number: str) -> list[str]:
    return [line for line in corpus_lines(corpus_file(number)) if line.strip()]


def syslog(lines: list[str], host: str = HOST) -> list[str]:
    """Bare corpus kernel text as rsyslog writes it to /var/log/syslog (no uptime: imjournal)."""
    return [f"Nov 20 10:15:00 {host} kernel: {line}" for line in lines]


def journal(message: str, envelope: bool = True, /, **fields: str) -> str:
    """One journal entry as ``journalctl -o json`` prints it, or inside the CloudWatch agent's envelope."""
    entry = {"MESSAGE": message, "_HOSTNAME": HOST, "__REALTIME_TIMESTAMP": str(REALTIME_US), **fields}
    return json.dumps({"body": entry, "severity_number": 9} if envelope else entry)


def kernel_journal(lines: list[str], envelope: bool = True) -> list[str]:
    return [
        journal(line, envelope, _TRANSPORT="kernel", SYSLOG_IDENTIFIER="kernel", PRIORITY="6", SYSLOG_FACILITY="0")
        for line in lines
    ]


def kills(events: Sequence[Mapping[str, Any]]) -> list[tuple[Any, Any]]:
    for e in events:
        assert_valid(e)
    return [(e["victim"]["pid"], e["victim"]["comm"]) for e in events]


# -- 1. cut lines and broken journal records ------------------------------------------------------------------


@pytest.mark.parametrize("envelope", [True, False], ids=["agent envelope", "journalctl -o json"])
def test_oversized_user_journal_entry_quoting_a_real_report_is_no_kill(envelope: bool) -> None:
    # GIVEN a user's journal entry (systemd-cat: _TRANSPORT=stdout) whose MESSAGE holds a whole real kernel report
    # (corpus 02) and then enough padding to pass the line cap: the cut leaves the report and loses the end of the
    # JSON
    quoted = "\n".join(report("02")) + "\n" + "x" * MAX_LINE
    oversized = journal(quoted, envelope, _TRANSPORT="stdout", SYSLOG_IDENTIFIER="cat", _PID="4242", _UID="1000")
    assert len(oversized) > MAX_LINE

    # THEN no kill comes out of it
    assert parse_lines([oversized]) == []
    # AND the real report next to it, from the kernel, still gives its kill
    real = kernel_journal(report("26"), envelope)
    assert kills(parse_lines([oversized, *real, oversized])) == [(63214, "uwsgi")]


def test_json_that_does_not_parse_whole_is_never_kernel_text() -> None:
    # GIVEN a journal entry cut short (as by a size cap downstream) right after a real kill line
    kill = next(line for line in report("26") if "Killed process" in line)
    whole = journal(kill + "\n" + "y" * 1000, _TRANSPORT="journal", SYSLOG_IDENTIFIER="cat", _PID="4242")
    cut = whole[: whole.index("y")]
    # THEN it is no kill, and neither is a JSON object that is no journal entry
    assert parse_lines([cut]) == []
    assert parse_lines([json.dumps({"note": kill})]) == []


def test_a_broken_record_inside_an_open_report_is_a_warning() -> None:
    # GIVEN a real report in the journal (corpus 02) with a cut user entry between its header and its kill
    real = kernel_journal(report("02"))
    cut = journal("Out of memory: " + "z" * MAX_LINE, _TRANSPORT="journal", SYSLOG_IDENTIFIER="cat", _PID="4242")
    mixed = [*real[:10], cut, *real[10:]]

    # THEN the kill comes out as without it, with a warning that says what was ignored
    (event,) = parse_lines(mixed)
    (alone,) = parse_lines(real)
    assert_valid(event)
    assert event["victim"] == alone["victim"] and event["complete"] and event["lines"] == alone["lines"]
    (warning,) = [w for w in event["warnings"] if "line cap" in w]
    assert warning.startswith("1 line(s) inside this report were cut at the 64 KiB line cap")
    assert not any("line cap" in w for w in alone["warnings"])


def test_a_cut_line_after_the_kill_is_no_warning_on_it() -> None:
    cut = journal("z" * MAX_LINE, _TRANSPORT="journal", SYSLOG_IDENTIFIER="cat", _PID="4242")
    (event,) = parse_lines([*kernel_journal(report("02")), cut])
    assert not any("line cap" in w for w in event["warnings"])


def _long_logger_line(tail: str) -> str:
    """A 70 KiB `logger` line whose part past the line cap is exactly ``tail``."""
    head = f"Nov 20 10:15:00 {HOST} ubuntu: "
    return head + "y" * (MAX_LINE - len(head)) + tail


def test_the_rest_of_a_long_syslog_line_is_never_kernel_text() -> None:
    # GIVEN a real report in syslog, then a 70 KiB logger line whose part past the cap is a whole kernel-looking
    # syslog line (a kill line from corpus 26)
    kill = next(line for line in report("26") if "Killed process" in line).split("] ", 1)[1]
    # (rsyslog's "#012" for an embedded newline, then more text, to make the whole line 70 KiB)
    rest = f"Nov 20 10:15:01 {HOST} kernel: {kill}#012" + "x" * 5000
    line = _long_logger_line(rest)
    assert len(line) > 70_000 and line[MAX_LINE:] == rest
    real = syslog(report("02"))
    # The rest alone is read as a kill: the control that makes the checks below mean something.
    assert kills(parse_lines([rest])) == [(63214, "uwsgi")]

    # THEN neither the line parser, nor the file scanner, nor a reader that feeds the rest as its own piece,
    # reads a kill from the long line
    assert kills(parse_lines([*real, line])) == [(651, "unattended-upgr")]
    text = "\n".join([*real, line, ""]).encode()
    assert kills(list(scan_binary(io.BytesIO(text)))) == [(651, "unattended-upgr")]
    p = OomParser()
    for real_line in real:
        p.feed(real_line)
    p.feed(line[:MAX_LINE], cut=True)
    p.feed(line[MAX_LINE:], cut=True)
    assert kills(p.finish()) == [(651, "unattended-upgr")]


def test_no_piece_of_an_over_long_bare_line_is_kernel_text() -> None:
    # `dmesg -t` / `journalctl -o cat` text has no origin at all: a reader splitting an over-long line of it must
    # not hand either piece to the parser as kernel text (the control: the kill line alone is one)
    kill = next(line for line in report("26") if "Killed process" in line)
    assert len(parse_lines([kill])) == 1
    line = kill + " " * MAX_LINE + kill
    assert parse_lines([line]) == []
    p = OomParser()
    p.feed(line[:MAX_LINE], cut=True)
    p.feed(line[MAX_LINE:], cut=True)
    assert p.finish() == []


def test_a_cut_syslog_line_inside_a_report_is_a_warning() -> None:
    real = syslog(report("02"))
    (event,) = parse_lines([*real[:20], _long_logger_line("tail"), *real[20:]])
    assert event["complete"] and any(w.startswith("1 line(s) inside this report were cut") for w in event["warnings"])


# -- 2. systemd's unit lines: context unless the journal verifies the sender ----------------------------------

FORGED_UNIT = f"Nov 20 10:15:01 {HOST} systemd[1]: batch-x.service: Failed with result 'oom-kill'."


def test_forged_systemd_line_in_syslog_is_context_only() -> None:
    # GIVEN the real RHEL 7 kill of mysqld (corpus 01, no cgroup lines) and, right after it,
    # `logger -t systemd "batch-x.service: Failed with result 'oom-kill'"` as rsyslog writes it
    (event,) = parse_lines([*syslog(report("01")), FORGED_UNIT])
    assert_valid(event)
    # THEN the unit is context, visibly unverified, and never the kill's unit or workload
    assert event["victim"]["comm"] == "mysqld"
    assert event["units"] == []
    assert event["cgroup"] is None
    (context,) = event["systemd_context"]
    assert context["unit"] == "batch-x.service" and context["verified"] is False
    assert "text log" in context["sender"]


def test_real_systemd_lines_in_a_text_log_are_context_too() -> None:
    # corpus 46 (Fedora, classic syslog) and 45 (RFC 3339 rsyslog): real systemd[1] lines, which a text log
    # cannot tell from forged ones
    kill = (
        "Out of memory: Killed process 1234 (java) total-vm:4000000kB, anon-rss:2000000kB, file-rss:0kB, shmem-rss:0kB"
    )
    fedora = [f"May 17 11:21:16 test-digitalocean-fedora32-x64-1 kernel: {kill}", *report("46")]
    (event,) = parse_lines(fedora)
    assert event["units"] == [] and event["cgroup"] is None
    assert [(c["unit"], c["verified"]) for c in event["systemd_context"]] == [("jenkins.service", False)]
    rfc = [f"2026-02-08T00:40:06.900000+00:00 largeweb2 kernel: {kill}", *report("45")]
    (event,) = parse_lines(rfc)
    assert event["units"] == [] and len(event["systemd_context"]) == 5
    assert not any(c["verified"] for c in event["systemd_context"])


def systemd_journal(lines: list[str], **trusted: str) -> list[str]:
    """corpus 46's systemd[1] messages as journal entries with the given trusted fields."""
    out = []
    for line in lines:
        message = line.split("systemd[1]: ", 1)[1]
        out.append(journal(message, SYSLOG_IDENTIFIER="systemd", SYSLOG_PID="1", **trusted))
    return out


def test_systemd_line_from_pid_1_in_the_journal_is_verified() -> None:
    # GIVEN the real kill in the journal and corpus 46's unit lines sent by PID 1 (as journald records them)
    lines = [*kernel_journal(report("01")), *systemd_journal(report("46")[1:2], _PID="1", _UID="0",
                                                              _COMM="systemd", _TRANSPORT="journal")]  # fmt: skip
    (event,) = parse_lines(lines)
    assert_valid(event)
    # THEN the unit is the kill's unit, and the workload where the kernel named none
    assert event["units"] == ["jenkins.service"]
    assert event["cgroup"]["workload"] == {"kind": "systemd-unit", "name": "jenkins.service", "id": None,
                                           "unit": "jenkins.service"}  # fmt: skip
    assert event["systemd_context"][0]["verified"] is True


@pytest.mark.parametrize(
    "trusted",
    [
        # a user's own program that calls itself systemd: SYSLOG_IDENTIFIER and SYSLOG_PID are its own claim
        {"_PID": "4242", "_UID": "1000", "_COMM": "bash", "_TRANSPORT": "syslog"},
        {"_PID": "4242", "_UID": "1000", "_COMM": "systemd", "_TRANSPORT": "journal"},  # a binary named systemd
        {"_PID": "1", "_UID": "0", "_COMM": "systemd", "_TRANSPORT": "kernel"},  # via /dev/kmsg: no trusted _PID
        {"_UID": "0", "_COMM": "systemd", "_TRANSPORT": "journal"},  # no _PID at all
    ],
)
def test_systemd_line_from_another_sender_in_the_journal_is_not_verified(trusted: dict[str, str]) -> None:
    lines = [*kernel_journal(report("01")), *systemd_journal(report("46")[1:2], **trusted)]
    (event,) = parse_lines(lines)
    assert event["units"] == [] and event["cgroup"] is None
    assert [(c["unit"], c["verified"]) for c in event["systemd_context"]] == [("jenkins.service", False)]


def test_a_user_manager_is_believed_only_about_its_own_users_kills() -> None:
    # corpus 43: netdata killed, UID:201, no cgroup lines
    kill = kernel_journal(report("43"))
    line = report("46")[1:2]
    mine = systemd_journal(line, _PID="2000", _UID="201", _COMM="systemd", _TRANSPORT="journal")
    theirs = systemd_journal(line, _PID="2000", _UID="1000", _COMM="systemd", _TRANSPORT="journal")
    (event,) = parse_lines([*kill, *mine])
    assert event["victim"]["uid"] == 201 and event["units"] == ["jenkins.service"]
    (event,) = parse_lines([*kill, *theirs])
    assert event["units"] == [] and event["systemd_context"][0]["verified"] is False


def test_the_kernels_cgroup_comes_first_even_over_a_verified_unit() -> None:
    # corpus 02 names task_memcg=/system.slice/unattended-upgrades.service; PID 1 then names another unit
    lines = [*kernel_journal(report("02")), *systemd_journal([FORGED_UNIT], _PID="1", _UID="0", _COMM="systemd",
                                                              _TRANSPORT="journal")]  # fmt: skip
    (event,) = parse_lines(lines)
    assert event["cgroup"]["workload"]["unit"] == "unattended-upgrades.service"
    assert event["units"] == []
    assert event["systemd_context"] == [
        {"unit": "batch-x.service", "verified": True, "sender": event["systemd_context"][0]["sender"]}
    ]


# -- 3. userspace killers: visibly theirs, and verified only by the journal -----------------------------------

EARLYOOM = 'sending SIGTERM to process 2614312 uid 1000 "simple": badness 966, VmRSS 61 MiB'


def test_userspace_killer_in_a_text_log_is_marked_unverified() -> None:
    (event,) = parse_lines([f"Aug 10 07:28:03 dl earlyoom[1479]: {EARLYOOM}"])
    assert_valid(event)
    assert event["source"] == "earlyoom" and event["sender_verified"] is False
    assert any("not verified" in w and "not a kernel kill" in w for w in event["warnings"])
    (oomd,) = parse_lines(report("47"))
    assert oomd["source"] == "systemd-oomd" and oomd["sender_verified"] is False


@pytest.mark.parametrize(
    ("trusted", "verified"),
    [
        ({"_COMM": "earlyoom", "_SYSTEMD_UNIT": "earlyoom.service", "_TRANSPORT": "stdout", "_PID": "1479"}, True),
        ({"_COMM": "earlyoom", "_SYSTEMD_UNIT": "user@1000.service", "_TRANSPORT": "stdout", "_PID": "9"}, False),
        ({"_COMM": "logger", "_SYSTEMD_UNIT": "session-3.scope", "_TRANSPORT": "syslog", "_PID": "9"}, False),
    ],
)
def test_userspace_killer_in_the_journal_is_verified_by_its_service(trusted: dict[str, str], verified: bool) -> None:
    (event,) = parse_lines([journal(EARLYOOM, SYSLOG_IDENTIFIER="earlyoom", **trusted)])
    assert_valid(event)
    assert event["source"] == "earlyoom" and event["sender_verified"] is verified


def test_a_forged_earlyoom_line_does_not_swallow_the_real_one() -> None:
    forged = journal(EARLYOOM, SYSLOG_IDENTIFIER="earlyoom", _COMM="logger", _TRANSPORT="syslog", _PID="9")
    real = journal(EARLYOOM, SYSLOG_IDENTIFIER="earlyoom", _COMM="earlyoom", _SYSTEMD_UNIT="earlyoom.service",
                   _TRANSPORT="stdout", _PID="1479")  # fmt: skip
    events = parse_lines([forged, real])
    assert [e["sender_verified"] for e in events] == [False, True]


# -- 4. journald fields no journald writes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "null"),
    [
        ("__REALTIME_TIMESTAMP", "9" * 400, "timestamp"),
        ("__REALTIME_TIMESTAMP", "9" * 19, "timestamp"),  # a 64-bit count of microseconds, past the year 9999
        ("__REALTIME_TIMESTAMP", "²", "timestamp"),  # str.isdigit() says yes, int() says no
        ("_SOURCE_MONOTONIC_TIMESTAMP", "9" * 400, "uptime_s"),
        ("_PID", "9" * 5000, None),
        ("_PID", "²", None),
    ],
)
def test_out_of_range_journal_fields_cost_the_field_not_the_kill(field: str, value: str, null: str | None) -> None:
    # the kill line of corpus 26 without its [uptime], so that only the journal gives one
    kill = next(line for line in report("26") if "Killed process" in line).split("] ", 1)[1]
    (event,) = parse_lines([journal(kill, _TRANSPORT="kernel", SYSLOG_IDENTIFIER="kernel", **{field: value})])
    assert_valid(event)
    assert event["victim"]["pid"] == 63214
    if null:
        assert event[null] is None


def test_decisions_hear_only_the_verified_unit() -> None:
    # The alerting decisions on the parser's events: allow-list, grouping (fingerprint) and severity.
    from service.logic.severity import allow_listed, fingerprint, severity
    from service.models.settings import AllowList

    allow = AllowList(units=("batch-*.service",))
    # GIVEN netdata's real memcg kill (corpus 43: a warning, no cgroup lines) and a batch-x.service unit line
    forged = parse_lines([*syslog(report("43")), FORGED_UNIT])[0]
    pid1 = systemd_journal([FORGED_UNIT], _PID="1", _UID="0", _COMM="systemd", _TRANSPORT="journal")
    verified = parse_lines([*kernel_journal(report("43")), *pid1])[0]

    # THEN from a text log the unit mutes nothing, regroups nothing and raises nothing
    assert allow_listed(forged, None, allow) is None
    assert fingerprint(forged, "i-0123456789abcdef0", None).subject == "netdata"
    assert severity(forged, ("batch-x",)).level == "warning"
    # AND from PID 1 in the journal it is the kill's unit for all three
    assert allow_listed(verified, None, allow) == "unit batch-x.service is allow-listed"
    assert fingerprint(verified, "i-0123456789abcdef0", None).subject == "batch-x.service"
    assert severity(verified, ("batch-x",)).level == "critical"


def test_a_program_writing_to_dev_kmsg_is_not_the_kernel() -> None:
    # journald names kernel records SYSLOG_IDENTIFIER=kernel; a (root) program writing to /dev/kmsg gets its own
    kill = next(line for line in report("26") if "Killed process" in line)
    assert parse_lines([journal(kill, _TRANSPORT="kernel", SYSLOG_IDENTIFIER="evil", SYSLOG_FACILITY="1")]) == []
    assert len(parse_lines([journal(kill, _TRANSPORT="kernel", SYSLOG_IDENTIFIER="kernel")])) == 1


def test_a_journal_number_no_int_can_hold_is_a_null_field() -> None:
    kill = next(line for line in report("26") if "Killed process" in line)
    entry = json.dumps({"MESSAGE": kill, "_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "_PID": "x"})
    entry = entry.replace('"x"', "9" * 5000)  # a bare JSON number of 5,000 digits
    (event,) = parse_lines([entry])
    assert event["victim"]["pid"] == 63214


def test_a_systemd_line_that_repeats_the_kernels_unit_adds_no_context_line() -> None:
    # GIVEN corpus 02, whose kernel lines name task_memcg=/system.slice/unattended-upgrades.service, and two
    # unverified systemd lines after it: one naming that same unit, one naming another
    from oomwatch.render import render_event

    same = "unattended-upgrades.service: Failed with result 'oom-kill'."
    other = "batch-x.service: Failed with result 'oom-kill'."
    unverified = {"_PID": "4242", "_UID": "1000", "_COMM": "logger", "_TRANSPORT": "journal"}
    forged = [journal(m, SYSLOG_IDENTIFIER="systemd", **unverified) for m in (same, other)]
    lines = [*kernel_journal(report("02")), *forged]
    (event,) = parse_lines(lines)
    assert [(c["unit"], c["verified"]) for c in event["systemd_context"]] == [
        ("unattended-upgrades.service", False),
        ("batch-x.service", False),
    ]
    # THEN only the unit the kernel did not name is shown as context
    (context,) = [line for line in render_event(event, 1).splitlines() if "context" in line]
    assert "batch-x.service" in context and "unattended-upgrades" not in context
