"""A kernel line is an OOM report line only where the kernel prints one: at the start of the message text.

Other subsystems echo user-supplied text inside their own kernel messages, with the ``kernel`` tag:
``unshare -rm mount -t tmpfs -o 'x: Killed process 3306 (mysqld) ...' none /tmp`` logs
``tmpfs: Unknown parameter 'x: Killed process 3306 (mysqld) ...'``. Such a line must never read as a report line
of any kind, and a real report around it must come out exactly as without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from oomwatch import parse_lines
from oomwatch.event import OomEvent

from tests.support.corpus import assert_valid, corpus_file, corpus_lines

SYSLOG = "Dec  1 10:00:00 web-1 kernel: "

# One real line of every kind the parser recognises (from oom-formats.md and the corpus), victim mysqld 3306.
LINE_KINDS = {
    "header": "mysqld invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0",
    "header, short comm": "x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
    "cpuset": "mysqld cpuset=/ mems_allowed=0",
    "summary": "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
    "task_memcg=/system.slice/mysql.service,task=mysqld,pid=3306,uid=27",
    "pr_cont": ",task_memcg=/system.slice/mysql.service,task=mysqld,pid=3306,uid=27",
    "Kill process": "Out of memory: Kill process 3306 (mysqld) score 900 or sacrifice child",
    "Killed process": "Out of memory: Killed process 3306 (mysqld) total-vm:7823732kB, anon-rss:2539268kB, "
    "file-rss:768kB, shmem-rss:0kB, UID:27 pgtables:5000kB oom_score_adj:0",
    "Killed process, x: prefix": "x: Killed process 3306 (mysqld) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
    "Killed process, <=5.0": "Killed process 3306 (mysqld) total-vm:7823732kB, anon-rss:2539268kB, file-rss:768kB",
    "Killed process, RHEL 6": "Killed process 3306, UID 27, (mysqld) total-vm:7823732kB, anon-rss:2539268kB, "
    "file-rss:768kB",
    "Task in": "Task in /system.slice/mysql.service killed as a result of limit of /system.slice/mysql.service",
    "oom_reaper": "oom_reaper: reaped process 473206 (doxygen), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
    "OOM victim": "Out of memory: OOM victim 3306 (mysqld) is already exiting. Skip killing the task",
    "group": "Tasks in /system.slice/mysql.service are going to be killed due to memory.oom.group set",
    "Mem-Info": "Mem-Info:",
    "usage": "memory: usage 1048576kB, limit 1048576kB, failcnt 10",
    "task row": "[   3306]    27  3306  1000000   500000  4000000        0             0 mysqld",
    "table header": "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    "CPU line": "CPU: 1 PID: 3306 Comm: mysqld Not tainted 5.15.0-1 #1",
    "Tasks state": "Tasks state (memory values in pages):",
    "stats": "Memory cgroup stats for /system.slice/mysql.service:",
    "no killable": "Out of memory and no killable processes...",
}

# Kernel messages of other subsystems that print user-supplied text after their own words.
ECHOES = {
    "tmpfs mount option": "tmpfs: Unknown parameter '{}'",
    "ext4 mount option": 'EXT4-fs (sda1): Unrecognized mount option "{}" or missing value',
    "audit record": 'audit: type=1400 audit(1700000000.123:42): apparmor="DENIED" operation="exec" comm="{}"',
    "device name": "usb 1-1: Product: {}",
    "module message": "loop: module loaded; {}",
}

# Kinds whose echo main read as a report line (the others were already matched at the start of the text).
FOOLED_MAIN = {"header", "cpuset", "Kill process", "Killed process", "OOM victim"}


def _events(lines: list[str]) -> list[OomEvent]:
    events = parse_lines(lines)
    for event in events:
        assert_valid(event)
    return events


def _without_lines(event: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in ("lines", "lines_left_out")}


@pytest.mark.parametrize("kind", sorted(LINE_KINDS))
def test_an_echo_alone_is_no_kill(kind: str) -> None:
    for echo in ECHOES.values():
        line = echo.format(LINE_KINDS[kind])
        assert _events([SYSLOG + line]) == [], line
        assert _events([line]) == [], line


@pytest.mark.parametrize("prefix", ["", SYSLOG], ids=["bare", "syslog"])
@pytest.mark.parametrize("number", ["04", "01"])
@pytest.mark.parametrize("kind", sorted(LINE_KINDS))
def test_an_echo_inside_a_real_report_changes_nothing(kind: str, number: str, prefix: str) -> None:
    # GIVEN a real report (corpus 04: 6.1 global; corpus 01: RHEL 7 with Kill process and a big task table)
    real = [prefix + line for line in corpus_lines(corpus_file(number)) if line.strip()]
    kill_at = next(i for i, line in enumerate(real) if "Killed process" in line)
    head_at = next(i for i, line in enumerate(real) if " invoked oom-killer" in line)
    plain = _events(real)
    for echo in ECHOES.values():
        # AND the echo of a report line after its header and right before its kill (where the task table has used
        # up the event's budget of ordinary lines, so only a line taken for a report line would show)
        line = prefix + echo.format(LINE_KINDS[kind])
        mixed = [*real[: head_at + 1], line, *real[head_at + 1 : kill_at], line, *real[kill_at:]]

        # THEN the events are those of the report alone, and only the first echo is kept, as an ordinary line
        echoed = _events(mixed)
        assert [_without_lines(e) for e in echoed] == [_without_lines(e) for e in plain], line
        words = echo.split("{}")[0]
        assert all(sum(words in raw for raw in event["lines"]) <= 1 for event in echoed), line


def test_the_real_lines_of_every_kind_still_read_as_report_lines() -> None:
    # The control: the same texts, printed by the kernel itself, make a full report.
    kinds = ["header", "CPU line", "Mem-Info", "Tasks state", "table header", "task row", "summary", "Killed process"]
    (event,) = _events([SYSLOG + LINE_KINDS[kind] for kind in kinds])
    assert event["complete"] is True and event["victim"]["pid"] == 3306 and event["trigger"]["pid"] == 3306
    assert event["cgroup"]["task_memcg"] == "/system.slice/mysql.service"
    (old,) = _events([SYSLOG + LINE_KINDS["Killed process, RHEL 6"]])
    assert old["victim"]["uid"] == 27


def test_a_comm_is_at_most_15_characters() -> None:
    # 15 characters (TASK_COMM_LEN 16 with the NUL) is a header; 16 is another subsystem's text
    header = " invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
    kill = LINE_KINDS["Killed process"]
    (event,) = _events([SYSLOG + "a" * 15 + header, SYSLOG + kill])
    assert event["trigger"]["comm"] == "a" * 15
    (event,) = _events([SYSLOG + "a" * 16 + header, SYSLOG + kill])
    assert event["trigger"] is None
    # rsyslog writes a control byte of a comm as "#ooo": still one character of the 15
    (event,) = _events([SYSLOG + "tmux:#033client123" + header, SYSLOG + kill])
    assert event["trigger"] is not None
