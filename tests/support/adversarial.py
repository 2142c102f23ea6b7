"""Adversarial log lines of a chosen size: the shapes that made a pattern or a report buffer cost more than linear time.

Each shape is a function of a byte budget that returns kernel message text (no transport prefix) of about that
many characters. ``as_syslog`` and ``as_bare`` wrap it the two ways a kernel line reaches the parser. The
benchmark (``bench/bench_adversarial.py``) and the tests (``test_parser_adversarial.py``) share this list.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Sequence

KIB = 1024
SYSLOG_PREFIX = "Dec  1 10:00:00 web-1 kernel: [ 1234.567890] "
# A report is open when each adversarial line arrives, so the context paths run too.
OPEN_HEADER = "java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
OPEN_SUMMARY = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0"
# ... and a kill closes it, so the event is built from whatever the crafted line left in the report.
CLOSING_KILL = (
    "Memory cgroup out of memory: Killed process 4242 (worker) total-vm:1000kB, anon-rss:100kB, file-rss:0kB, "
    "shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0"
)


def cpu_seconds(lines: Sequence[str], *, lead: Sequence[str] = (), copies: int = 1, repeats: int = 1) -> float:
    """Least CPU seconds of ``repeats`` runs, each feeding ``lines`` ``copies`` times to a new parser (after
    ``lead``, untimed) and finishing it; other processes on the machine do not count, the collector is off."""
    from oomwatch.parser import OomParser

    best = float("inf")
    for _ in range(repeats):
        parser = OomParser()
        for line in lead:
            parser.feed(line)
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            for _ in range(copies):
                for line in lines:
                    parser.feed(line)
            parser.finish()
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return best


ROOM = 128  # left for a transport prefix, so a 64 KiB line stays under the parser's 64 KiB line cap


def _fill(head: str, unit: str, size: int, tail: str = "") -> str:
    n = max((size - ROOM - len(head) - len(tail)) // max(len(unit), 1), 1)
    return head + unit * n + tail


def _summary(size: int, unit: str, head: str = OPEN_SUMMARY) -> str:
    return _fill(head, unit, size)


# name -> size -> kernel text. Every shape below was quadratic (or worse) somewhere before this was written.
SHAPES: dict[str, Callable[[int], str]] = {
    # §8 task table
    "table header padded with spaces": lambda n: _fill("[  pid  ]   uid  tgid total_vm      rss", " ", n, "x"),
    "table row of spaces": lambda n: _fill("[", " ", n),
    "table row of digits": lambda n: _fill("[ 1] ", "1", n),
    "table row of many numbers": lambda n: _fill("[ 1] ", "1 ", n),
    # §3 the oom-kill summary
    "summary with ,task= repeated": lambda n: _summary(n, ",task="),
    "summary with ,task=x,pid=1 repeated": lambda n: _summary(n, ",task=x,pid=1"),
    "summary with ,cpuset= repeated": lambda n: _summary(n, ",cpuset=", "oom-kill:constraint=CONSTRAINT_NONE"),
    "summary with ,oom_memcg= repeated": lambda n: _summary(n, ",oom_memcg="),
    "summary with ,nodemask= repeated": lambda n: _summary(n, ",nodemask=", "oom-kill:constraint=CONSTRAINT_NONE"),
    "summary with a long cgroup segment": lambda n: _fill(
        OPEN_SUMMARY + ",oom_memcg=/a,task_memcg=/", "a", n, ",task=x,pid=1,uid=0"
    ),
    "summary with many short cgroup segments": lambda n: _fill(
        OPEN_SUMMARY + ",oom_memcg=/a,task_memcg=", "/a", n, ",task=x,pid=1,uid=0"
    ),
    "summary with a kubepods path": lambda n: _fill(
        OPEN_SUMMARY + ",oom_memcg=/kubepods", ".burstable", n, ",task=x,pid=1,uid=0"
    ),
    "summary with a user unit path": lambda n: _fill(
        OPEN_SUMMARY + ",oom_memcg=/user.slice/user-1.slice/user@1.service", "/a.service", n, "x,task=x,pid=1,uid=0"
    ),
    "summary with spaces": lambda n: _summary(n, " "),
    "summary with a long task_memcg segment ending in /": lambda n: _fill(
        OPEN_SUMMARY + ",oom_memcg=/,task_memcg=/", "a", n, "/,task=worker,pid=4242,uid=0"
    ),
    # §4, §5, §9, §10 kill lines
    "Kill process repeated": lambda n: _fill("Out of memory", ": Kill process 1 (", n),
    "Killed process repeated": lambda n: _fill("Out of memory", ": Killed process 1 (", n),
    "Killed process with ) repeated": lambda n: _fill("Out of memory: Killed process 1 (", ") ", n),
    "Killed process with , UID repeated": lambda n: _fill("Killed process 1 (", "), UID 1", n),
    "Killed process with digits": lambda n: _fill("Out of memory: Killed process ", "1", n),
    "Killed process with a long comm": lambda n: _fill("Out of memory: Killed process 1 (", "(", n, ") total-vm:1kB"),
    "Killed process with long figures": lambda n: _fill(
        "Out of memory: Killed process 1 (x) total-vm:", "1", n, "kB, anon-rss:1kB, file-rss:1kB"
    ),
    "OOM victim repeated": lambda n: _fill("Out of memory", ": OOM victim 1 (", n),
    "oom_reaper with a long comm": lambda n: _fill("oom_reaper: reaped process 1 (", "(", n),
    "oom_reaper unable with a long comm": lambda n: _fill("oom_reaper: unable to reap pid:1 (", "(", n),
    "group line with a long path": lambda n: _fill("Tasks in /", "a", n, " are going to be killed"),
    # §1, §2, §7, §12 context lines
    "invoked oom-killer repeated": lambda n: _fill("x", " invoked oom-killer: ", n),
    "invoked oom-killer with spaces": lambda n: _fill("x invoked oom-killer: gfp_mask=0x0,", " ", n, "x"),
    "cpuset= repeated": lambda n: _fill("x", " cpuset=x", n, " mems_allowed="),
    "cpuset with mems_allowed repeated": lambda n: _fill("x cpuset=/", " mems_allowed=0", n, "x"),
    "Task in with a long path": lambda n: _fill("Task in /", "a", n, " killed as a result of limit of /a"),
    "Task in with a long path ending in /": lambda n: _fill("Task in /", "a", n, "/ killed as a result of limit of /"),
    "Task in with user@ units": lambda n: _fill(
        "Task in ", "/user.slice/user-1.slice/user@1.service", n, "/ killed as a result of limit of /"
    ),
    "Task in with kubepods": lambda n: _fill("Task in /", "kubepods/", n, " killed as a result of limit of /"),
    "Task in with sessions": lambda n: _fill(
        "Task in ", "/user.slice/user-1.slice/session-1", n, "/ killed as a result of limit of /"
    ),
    "Task in with ecs": lambda n: _fill("Task in ", "/ecs/" + "a" * 31, n, " killed as a result of limit of /"),
    "usage with digits": lambda n: _fill("memory: usage ", "1", n),
    "stats with a long path": lambda n: _fill("Memory cgroup stats for /", "a", n),
    "CPU line with spaces": lambda n: _fill("CPU: 1 PID: 1 Comm: ", " ", n),
    "Mem-Info with #012": lambda n: _fill("Mem-Info:", "#012 x", n),
    "spaces": lambda n: _fill("", " ", n, "x"),
    "open brackets": lambda n: _fill("", "[", n),
    "open parentheses": lambda n: _fill("", "(", n),
    "less-than signs": lambda n: _fill("<1>", "<", n),
    "colon-space runs": lambda n: _fill("", ": ", n),
    "commas": lambda n: _fill("", ",", n),
}

# Whole lines (prefix included): shapes the transport sees before the kernel text is known.
LINE_SHAPES: dict[str, Callable[[int], str]] = {
    "syslog with a host of letters": lambda n: _fill("Dec  1 10:00:00 ", "a", n),
    "syslog with a host of colons": lambda n: _fill("Dec  1 10:00:00 ", "a:", n),
    "syslog with an uptime of spaces": lambda n: _fill("Dec  1 10:00:00 web-1 kernel: [", " ", n),
    "syslog with ident brackets": lambda n: _fill("Dec  1 10:00:00 web-1 a", "[1", n),
    "syslog with ]: repeated": lambda n: _fill("Dec  1 10:00:00 web-1 kernel: [ 1.0] ", "a[1]: ", n),
    "dmesg -x with spaces": lambda n: _fill("kern  ", " ", n, ":x"),
    "ISO stamp with a long host": lambda n: _fill("2026-01-01T00:00:00+00:00 ", "a", n),
    "kmsg with digits": lambda n: _fill("6,1,", "1", n),
    "quote markers": lambda n: _fill("", "> ", n),
    "bracket date": lambda n: _fill("[Mon Dec  1 ", "1", n, " 10:00:00 2026] x"),
    "uptime of digits": lambda n: _fill("[", "1", n),
    "rsyslog #012 storm": lambda n: _fill(SYSLOG_PREFIX + "Mem-Info:", "#012", n),
    "journal JSON, long kernel message": lambda n: json.dumps(
        {"MESSAGE": _fill("x", " invoked oom-killer: ", n), "_TRANSPORT": "kernel", "_HOSTNAME": "web-1"}
    ),
    "journal JSON, many newlines": lambda n: json.dumps(
        {"MESSAGE": _fill("Mem-Info:", "\n,x", n * 3 // 4), "_TRANSPORT": "kernel", "_HOSTNAME": "web-1"}
    ),
    "journal JSON, deep nesting": lambda n: _fill("{", "[", n),
    "earlyoom with quotes": lambda n: _fill(
        'Dec  1 10:00:00 web-1 earlyoom[9]: sending SIGTERM to process 1 uid 1 "', '"', n
    ),
    "earlyoom with figures": lambda n: _fill(
        "Dec  1 10:00:00 web-1 earlyoom[9]: sending SIGTERM to process 1 ", "VmRSS 1 ", n
    ),
    "systemd unit line": lambda n: _fill("Dec  1 10:00:00 web-1 systemd[1]: ", "a", n, ": x"),
    "systemd unit line with killed by": lambda n: _fill(
        "Dec  1 10:00:00 web-1 systemd[1]: a: ", "killed by the OOM ", n
    ),
    "systemd-oomd line": lambda n: _fill("Dec  1 10:00:00 web-1 systemd-oomd[9]: Killed /", "a", n),
}


def as_syslog(text: str) -> str:
    return SYSLOG_PREFIX + text


def as_line(text: str) -> str:
    """A MANY_LINES entry as a syslog line: kernel text, or (after a NUL) a program's "ident[pid]: text"."""
    return "Dec  1 10:00:00 web-1 " + text[1:] if text[:1] == "\x00" else SYSLOG_PREFIX + text


def as_bare(text: str) -> str:
    return text


def noise(size: int) -> list[str]:
    """Ordinary syslog noise of about ``size`` characters: the baseline an adversarial line is compared to."""
    lines = [
        "Dec  1 10:00:00 web-1 systemd[1]: Started Session 1234 of user ubuntu.",
        "Dec  1 10:00:00 web-1 sshd[2345]: Accepted publickey for ubuntu from 10.0.0.1 port 51234 ssh2",
        "Dec  1 10:00:00 web-1 CRON[3456]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
        "Dec  1 10:00:00 web-1 kernel: [ 1234.567890] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
        'Dec  1 10:00:00 web-1 dockerd[812]: time="2026-12-01T10:00:00Z" level=info msg="ignoring event"',
    ]
    out: list[str] = []
    total = 0
    while total < size:
        line = lines[len(out) % len(lines)]
        out.append(line)
        total += len(line) + 1
    return out


def _kill(pid: int) -> str:
    return (
        f"Memory cgroup out of memory: Killed process {pid} (worker) total-vm:1000kB, anon-rss:100kB, "
        "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0"
    )


def _row(pid: int) -> str:
    return f"[{pid:7d}]     0 {pid:5d}     1000      {pid % 977:3d}    40960        0             0 worker"


_TABLE = "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"

# name -> count -> kernel texts (a leading NUL marks a program's line, "\x00ident[pid]: text": see as_line), the
# shapes whose cost per line must not grow with the number of lines.
MANY_LINES: dict[str, Callable[[int], list[str]]] = {
    # each ","-piece re-parsed the growing summary
    "pr_cont pieces after an open summary": lambda n: (
        [OPEN_HEADER, OPEN_SUMMARY] + [",task_memcg=/" + "a" * 240 for _ in range(n)]
    ),
    "task-table rows": lambda n: [OPEN_HEADER, _TABLE] + [_row(i + 1) for i in range(n)] + [_kill(1)],
    "already-exiting victims": lambda n: (
        [OPEN_HEADER]
        + [f"Out of memory: OOM victim {i + 1} (x) is already exiting. Skip killing the task" for i in range(n)]
        + [_kill(1)]
    ),
    "memory.oom.group kills": lambda n: (
        [OPEN_HEADER, _TABLE]
        + [_row(i + 1) for i in range(200)]
        + ["Tasks in /a are going to be killed due to memory.oom.group set"]
        + [_kill(i + 1) for i in range(n)]
    ),
    "systemd-oomd attempts": lambda n: [
        f"\x00systemd-oomd[9]: oomd attempting to kill {i + 1} with SIGKILL" for i in range(n)
    ],
    "systemd unit lines after a kill": lambda n: (
        [_kill(1)] + [f"\x00systemd[1]: unit-{i}.service: Failed with result 'oom-kill'." for i in range(n)]
    ),
    "oom_reaper lines": lambda n: (
        [_kill(1)]
        + [f"oom_reaper: reaped process {i + 2} (x), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB" for i in range(n)]
    ),
}
