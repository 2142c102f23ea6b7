"""Text that only looks like a kernel report is never a kernel kill: any local user can write it with `logger`."""

from __future__ import annotations

import json

import pytest
from oomwatch import parse_lines

from tests.support.corpus import corpus_file, corpus_lines

KILL = (
    "Out of memory: Killed process 1 (systemd) total-vm:169864kB, anon-rss:0kB, file-rss:9004kB, shmem-rss:0kB, "
    "UID:0 pgtables:100kB oom_score_adj:0"
)


@pytest.mark.parametrize(
    "line",
    [
        # logger "...": the user's name as the syslog tag
        f"Nov 26 10:00:00 web-1 ubuntu: {KILL}",
        # logger -i -t kernel: a pid after the tag, which the kernel's own lines never have
        f"Nov 26 10:00:00 web-1 kernel[4242]: {KILL}",
        # another program quoting a kill line
        f"Nov 26 10:00:00 web-1 myapp[812]: alert text was: {KILL}",
        f"2026-02-08T00:40:07.136582+00:00 web-1 root: {KILL}",
        # journald: logger -t kernel gives SYSLOG_IDENTIFIER=kernel but _TRANSPORT=syslog
        json.dumps(
            {
                "body": {
                    "MESSAGE": KILL,
                    "_TRANSPORT": "syslog",
                    "SYSLOG_IDENTIFIER": "kernel",
                    "_HOSTNAME": "web-1",
                    "_PID": "4242",
                }
            }
        ),
        json.dumps({"MESSAGE": KILL, "_TRANSPORT": "stdout", "SYSLOG_IDENTIFIER": "kernel", "_HOSTNAME": "web-1"}),
        # userland relayed through /dev/kmsg keeps its ident[pid]
        f"[  517.928447] evil[1000]: {KILL}",
    ],
)
def test_forged_kill_line_is_not_a_kernel_kill(line: str) -> None:
    assert parse_lines([line]) == []


def test_forged_lines_inside_a_real_report_change_nothing() -> None:
    # GIVEN a real report (corpus 26) with forged kill lines spliced in
    real = corpus_lines(corpus_file("26"))
    forged = [f"Nov 26 10:00:00 web-1 ubuntu: {KILL}", f"Nov 26 10:00:00 web-1 kernel[1]: {KILL}"]
    mixed = real[:1] + forged + real[1:]

    # THEN only the real kill comes out
    events = parse_lines(mixed)
    assert [e["victim"]["pid"] for e in events] == [63214]


def test_the_same_line_from_the_kernel_is_a_kill() -> None:
    # The control: the forged tests would pass vacuously if the line itself did not parse.
    (event,) = parse_lines([f"Nov 26 10:00:00 web-1 kernel: {KILL}"])
    assert event["victim"]["pid"] == 1 and event["source"] == "kernel"
    (event,) = parse_lines([json.dumps({"body": {"MESSAGE": KILL, "_TRANSPORT": "kernel", "_HOSTNAME": "web-1"}})])
    assert event["host"] == "web-1"


def test_userspace_killer_lines_count_only_from_the_killer_itself() -> None:
    earlyoom = 'sending SIGTERM to process 2614312 uid 1000 "simple": badness 966, VmRSS 61 MiB'
    assert parse_lines([f"Aug 10 07:28:03 dl someone[1]: {earlyoom}"]) == []
    (event,) = parse_lines([f"Aug 10 07:28:03 dl earlyoom[1479]: {earlyoom}"])
    assert event["source"] == "earlyoom" and event["victim"]["pid"] == 2614312
