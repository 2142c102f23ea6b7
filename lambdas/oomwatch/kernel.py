"""The kernel's OOM report lines, 2.6.32 to 6.17, one pattern per printf in mm/oom_kill.c and mm/memcontrol.c.

Layouts are told apart line by line, never by kernel version (distributions backport). See
``docs/oom-formats.md`` for the format strings these patterns come from. Fields a layout lacks are optional
groups; comm is matched from the right because it may contain spaces, parentheses and commas.
"""

from __future__ import annotations

import re
from typing import Any

# §1: "X invoked oom-killer: gfp_mask=0x..(FLAGS), [nodemask=..,] order=N, [oom_adj=N,] oom_score_adj=N"
HEADER = re.compile(r"(?P<comm>.+?) invoked oom-killer: ?(?P<rest>.*)")
HEADER_FIELDS = re.compile(
    r"gfp_mask=(?P<gfp>0x[0-9a-fA-F]+)(?:\((?P<flags>[^)]*)\))?,"
    r"(?:\s*nodemask=(?P<nodemask>[^,]*),)?"
    r"\s*order=(?P<order>-?\d+)"
    r"(?:,\s*oom_adj=(?P<oom_adj>-?\d+))?"
    r"(?:,\s*oom_score_adj=(?P<adj>-?\d+))?"
)
# §2 (up to 4.19): "X cpuset=NAME mems_allowed=LIST"
CPUSET = re.compile(r"(?P<comm>.+?) cpuset=(?P<cpuset>\S*) mems_allowed=(?P<mems>\S*)\s*")
# §12: dump_stack header. 6.11+ adds "UID: U"; RHEL 6 prints "Pid: P, comm: C".
CPU_LINE = re.compile(
    r"CPU: ?\d+ (?:UID: (?P<uid>\d+) )?PID: (?P<pid>\d+) Comm: (?P<comm>.{1,20}?)(?: Kdump: loaded)?"
    r" (?:Not tainted|Tainted:)"
)
PID_LINE = re.compile(r"Pid: (?P<pid>\d+), comm: (?P<comm>.{1,20}?) (?:Not tainted|Tainted:)")
# §3 (5.0+): "oom-kill:constraint=..,nodemask=..,cpuset=..,mems_allowed=..,global_oom|oom_memcg=..[,task_memcg=..],
# task=C,pid=P,uid=U" — built from pr_cont pieces, so any tail may be missing.
SUMMARY = re.compile(r"oom-kill:constraint=(?P<constraint>[A-Z_a-z]*)(?P<rest>.*)")
SUMMARY_TAIL = re.compile(r",task=(?P<comm>.*),pid=(?P<pid>\d+),uid=(?P<uid>\d+)\s*$")
# §7.1 (up to 4.19)
TASK_IN = re.compile(r"Task in (?P<task>\S+) killed as a result of limit of (?P<oom>\S+)")
LIMIT_REACHED = re.compile(r"Memory limit reached of cgroup (?P<oom>\S+)")
# §7.2
USAGE = re.compile(r"(?P<kind>memory|memory\+swap|swap|kmem): usage (?P<usage>\d+)kB, limit (?P<limit>\d+)kB")
STATS = re.compile(r"Memory cgroup stats for (?P<path>[^:\s]*)")
# §8
TASKS_STATE = re.compile(r"Tasks state \(memory values in pages\)")
TABLE_HEADER = re.compile(r"\[\s*pid\s*\]\s+(?P<cols>uid\s+tgid\s+total_vm\s+rss\b.*?)\s+name\s*$")
TABLE_ROW = re.compile(r"\[\s*(?P<pid>\d+)\]\s+(?P<rest>-?\d+\s+\d+\s+\d+\s+\d+\s.*)")
# §4 (up to 5.0): "<msg>: Kill process N (c) score S or sacrifice child"
KILL_PROCESS = re.compile(
    r"(?:(?P<msg>.*?): )?Kill process (?P<pid>\d+) \((?P<comm>.*)\) score (?P<score>-?\d+) or sacrifice child"
)
# §5: "Killed process" in all its layouts; every field after file-rss is optional.
KILLED_ANY = re.compile(r"(?:(?P<msg>.*?): )?Killed process (?P<rest>.*)")
KILLED_RHEL6 = re.compile(r"(?P<pid>\d+), UID (?P<uid>\d+), \((?P<comm>.*)\) (?P<mem>total-vm:.*)")
KILLED = re.compile(r"(?P<pid>\d+) \((?P<comm>.*)\)(?:, UID (?P<uid>\d+),)? (?P<mem>total-vm:.*)")
KILLED_MEM = re.compile(
    r"total-vm:(?P<total_vm>\d+)kB, anon-rss:(?P<anon>\d+)kB, file-rss:(?P<file>\d+)kB"
    r"(?:, shmem-rss:(?P<shmem>\d+)kB)?"
    r"(?:, UID:(?P<uid>\d+))?"
    r"(?: pgtables:(?P<pgtables>\d+)kB)?"
    r"(?: oom_score_adj:(?P<adj>-?\d+))?"
)
KILLED_PID_ONLY = re.compile(r"(?P<pid>\d+)(?: \((?P<comm>[^)]*)\))?")
# §9 (4.6+)
REAPED = re.compile(r"oom_reaper: reaped process (?P<pid>\d+) \((?P<comm>.*)\), now anon-rss:")
UNABLE_TO_REAP = re.compile(r"oom_reaper: unable to reap pid:(?P<pid>\d+) \((?P<comm>.*)\)")
# §10
GROUP = re.compile(r"Tasks in (?P<path>\S+) are going to be killed due to memory\.oom\.group set")
VICTIM_EXITING = re.compile(r"(?:.*?: )?OOM victim (?P<pid>\d+) \((?P<comm>.*)\) is already exiting")
# §11/§12
NO_KILLABLE = re.compile(r"Out of memory and no killable processes")
MEMINFO = re.compile(r"Mem-Info:")

CONSTRAINTS = {
    "CONSTRAINT_NONE": "global",
    "CONSTRAINT_MEMCG": "memcg",
    "CONSTRAINT_CPUSET": "cpuset",
    "CONSTRAINT_MEMORY_POLICY": "mempolicy",
}
MEMCG_MESSAGE = "Memory cgroup out of memory"
GLOBAL_MESSAGES = ("Out of memory", "Out of memory (oom_kill_allocating_task)")


def parse_summary(text: str) -> dict[str, object]:
    """Pick apart an ``oom-kill:`` summary, tolerating missing pr_cont tails."""
    m = SUMMARY.match(text)
    if not m:
        return {}
    out: dict[str, object] = {"constraint_raw": m.group("constraint")}
    rest = m.group("rest")
    tail = SUMMARY_TAIL.search(rest)
    if tail:
        out.update(task=tail.group("comm"), pid=int(tail.group("pid")), uid=int(tail.group("uid")))
        rest = rest[: tail.start()]
    nm = re.match(r",nodemask=([^,]*)", rest)
    if nm:
        out["nodemask"] = nm.group(1)
    cs = re.search(r",cpuset=(.*?),mems_allowed=([^,]*)", rest)
    if cs:
        out["cpuset"], out["mems_allowed"] = cs.group(1), cs.group(2)
    if ",global_oom" in rest:
        out["global"] = True
    om = re.search(r",oom_memcg=(.*?)(?:,task_memcg=|$)", rest)
    if om:
        out["oom_memcg"] = om.group(1)
    tm = re.search(r",task_memcg=(.*)$", rest)
    if tm:
        out["task_memcg"] = tm.group(1)
    return out


def parse_killed(rest: str) -> dict[str, Any] | None:
    """The part after ``Killed process``; None when it fits no known layout."""
    m = KILLED_RHEL6.fullmatch(rest.rstrip()) or KILLED.fullmatch(rest.rstrip())
    if not m:
        return None
    mem = KILLED_MEM.match(m.group("mem"))
    if not mem:
        return None
    uid = m.group("uid") or mem.group("uid")
    return {
        "pid": int(m.group("pid")),
        "comm": m.group("comm"),
        "uid": int(uid) if uid is not None else None,
        "total_vm_kb": int(mem.group("total_vm")),
        "anon_rss_kb": int(mem.group("anon")),
        "file_rss_kb": int(mem.group("file")),
        "shmem_rss_kb": int(mem.group("shmem")) if mem.group("shmem") is not None else None,
        "pgtables_kb": int(mem.group("pgtables")) if mem.group("pgtables") is not None else None,
        "oom_score_adj": int(mem.group("adj")) if mem.group("adj") is not None else None,
    }


def parse_row(text: str, columns: list[str] | None, match: re.Match[str] | None = None) -> dict[str, Any] | None:
    """A task-table row. Columns come from the header when seen; otherwise uid, tgid, total_vm and rss lead
    every layout and oom_score_adj is the last number before the name."""
    m = match or TABLE_ROW.fullmatch(text.rstrip())
    if not m:
        return None
    pid_text, rest = m.groups()
    if columns:
        n = len(columns)
        parts = rest.split(None, n)
        if len(parts) == n + 1:
            try:
                # zip stops at the last column before it would convert the name
                values: dict[str, Any] = dict(zip(columns, map(int, parts)))  # noqa: B905
            except ValueError:
                pass
            else:
                values["pid"] = int(pid_text)
                values["name"] = parts[n]
                return values
    parts = rest.split()
    nums: list[int] = []
    for p in parts:
        if not _is_int(p):
            break
        nums.append(int(p))
    if len(nums) < 5 or len(nums) == len(parts):
        return None
    name = rest.split(None, len(nums))[-1]
    return {
        "pid": int(pid_text),
        "name": name,
        "uid": nums[0],
        "tgid": nums[1],
        "total_vm": nums[2],
        "rss": nums[3],
        "oom_score_adj": nums[-1],
    }


def table_columns(text: str) -> list[str] | None:
    m = TABLE_HEADER.fullmatch(text.rstrip())
    return m.group("cols").split() if m else None


def _is_int(s: str) -> bool:
    return s.isdigit() or (s[:1] == "-" and s[1:].isdigit())
