"""oomwatch.lines: real kernel lines get their LineKind from the rule table, and each kind has one handler."""

from __future__ import annotations

import pytest
from oomwatch.lines import CONTEXT, RULES, LineKind, classify

# Kernel text (prefix removed) from the corpus and the formats reference (docs/oom-formats.md).
LINES = [
    ("[ 331049]   504 331049  2316564   516062 12025856   547863             0 java", LineKind.ROW),
    ("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name", LineKind.TABLE_HEADER),
    ("[<ffffffff8118b8b5>] dump_header+0x8e/0x225", LineKind.OTHER),
    (
        "Out of memory: Killed process 1811 (stress-ng) total-vm:8520476kB, anon-rss:7956604kB, file-rss:4kB,"
        " shmem-rss:0kB, UID:1000 pgtables:15640kB oom_score_adj:1000",
        LineKind.KILLED,
    ),
    ("  dump_stack+0x6d/0x8b", LineKind.OTHER),
    (
        "cp invoked oom-killer: gfp_mask=0x14000c0(GFP_KERNEL), nodemask=(null),  order=0, oom_score_adj=-998",
        LineKind.HEADER,
    ),
    ("oom_reaper: reaped process 1811 (stress-ng), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB", LineKind.REAPER),
    ("oom_reaper: something else", LineKind.OTHER),
    (
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
        "task_memcg=/user.slice/user-1000.slice/session-1.scope,task=stress-ng,pid=1811,uid=1000",
        LineKind.SUMMARY,
    ),
    (",task=stress-ng,pid=1811,uid=1000", LineKind.PR_CONT),
    ("Out of memory: Kill process 1811 (stress-ng) score 968 or sacrifice child", LineKind.KILL_PROCESS),
    ("java cpuset=bf2d7043c1267b4dfd8fdb356653a73070a8db8dfd7e2e4d74700edcaef7b548 mems_allowed=0", LineKind.CPUSET),
    ("CPU: 1 PID: 1811 Comm: stress-ng Not tainted 5.15.0-124-generic #134-Ubuntu", LineKind.CPU),
    ("Task in /docker/abc killed as a result of limit of /docker/abc", LineKind.TASK_IN),
    ("Memory limit reached of cgroup /system.slice/php-fpm.service", LineKind.TASK_IN),
    ("memory: usage 524288kB, limit 524288kB, failcnt 1234", LineKind.USAGE),
    ("Memory cgroup stats for /docker/abc:", LineKind.STATS),
    ("Tasks state (memory values in pages):", LineKind.TASKS_STATE),
    ("Tasks in /system.slice/x.service are going to be killed due to memory.oom.group set", LineKind.GROUP),
    (
        "Memory cgroup out of memory: OOM victim 138909 (python3) is already exiting. Skip killing the task",
        LineKind.EXITING,
    ),
    ("Out of memory and no killable processes...", LineKind.NO_KILLABLE),
    ("Mem-Info:", LineKind.MEMINFO),
    ("EXT4-fs (nvme1n1): mounted filesystem with ordered data mode. Quota mode: none.", LineKind.OTHER),
    ("", LineKind.OTHER),
]


@pytest.mark.parametrize(("text", "kind"), LINES, ids=[f"{i}-{k.value}" for i, (_, k) in enumerate(LINES)])
def test_a_real_line_gets_its_kind(text: str, kind: LineKind) -> None:
    assert classify(text)[0] is kind


def test_every_kind_has_a_rule_and_one_handler() -> None:
    from oomwatch.parser import _KERNEL_HANDLERS

    assert set(_KERNEL_HANDLERS) == set(LineKind)
    assert {rule.kind for rule in RULES} == set(LineKind)
    assert set(LineKind) > CONTEXT and LineKind.ROW.context and not LineKind.KILLED.context
