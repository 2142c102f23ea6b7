"""The kernel's OOM report lines, 2.6.32 to 6.17, one pattern per printf in mm/oom_kill.c and mm/memcontrol.c.

Layouts are told apart line by line, never by kernel version (distributions backport). See
``docs/oom-formats.md`` for the format strings these patterns come from. Fields a layout lacks are optional
groups; comm is matched from the right because it may contain spaces, parentheses and commas.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NotRequired, TypedDict

from oomwatch.event import Constraint
from oomwatch.lazy import lazy_pattern

# §14: a comm is at most 15 bytes (TASK_COMM_LEN is 16 with the NUL). rsyslog writes a control byte as "#ooo" and
# kmsg readers as "\\xNN", so such an escape counts as one character. Bounding the comm is what keeps another
# subsystem's echo of user text ("tmpfs: Unknown parameter 'x invoked oom-killer: ...'") from reading as a header.
COMM_MAX = 15
_COMM_ESCAPE = lazy_pattern(r"#[0-7]{3}|\\x[0-9a-fA-F]{2}")
_COMM_SPAN = COMM_MAX * 4  # the most characters 15 escaped bytes can take
# The reason the kernel prints before "Kill process", "Killed process" and "OOM victim" (§4, §5, §10):
# oom_kill_process()'s message argument. 2.6.x also had the MPOL_BIND and cpuset wordings (mm/oom_kill.c before
# 2.6.35, "oom: badness heuristic rewrite").
MESSAGES = (
    "Out of memory",
    "Memory cgroup out of memory",
    "Out of memory (oom_kill_allocating_task)",
    "No available memory (MPOL_BIND)",
    "No available memory in cpuset",
)
_MSG = "(?P<msg>" + "|".join(re.escape(m) for m in sorted(MESSAGES, key=len, reverse=True)) + ")"
# A comm in parentheses, matched from the right within what 15 (escaped) bytes can take.
_PAREN_COMM = rf"\((?P<comm>.{{0,{_COMM_SPAN}}})\)"

# §1: "X invoked oom-killer: gfp_mask=0x..(FLAGS), [nodemask=..,] order=N, [oom_adj=N,] oom_score_adj=N"
HEADER_MARK = " invoked oom-killer:"
HEADER_FIELDS = re.compile(
    r"gfp_mask=(?P<gfp>0x[0-9a-fA-F]+)(?:\((?P<flags>[^)]*)\))?,"
    r"(?:\s*+nodemask=(?P<nodemask>[^,]*),)?"
    r"\s*+order=(?P<order>-?\d++)"
    r"(?:,\s*+oom_adj=(?P<oom_adj>-?\d++))?"
    r"(?:,\s*+oom_score_adj=(?P<adj>-?\d++))?"
)
# §2 (up to 4.19): "X cpuset=NAME mems_allowed=LIST"
CPUSET_MARK = " cpuset="
CPUSET_REST = re.compile(r"(?P<cpuset>\S*) mems_allowed=(?P<mems>\S*)\s*")
# §12: dump_stack header. 6.11+ adds "UID: U"; RHEL 6 prints "Pid: P, comm: C".
CPU_LINE = re.compile(
    r"CPU: ?\d++ (?:UID: (?P<uid>\d++) )?PID: (?P<pid>\d++) Comm: (?P<comm>.{1,20}?)(?: Kdump: loaded)?"
    r" (?:Not tainted|Tainted:)"
)
PID_LINE = lazy_pattern(r"Pid: (?P<pid>\d++), comm: (?P<comm>.{1,20}?) (?:Not tainted|Tainted:)")
# §3 (5.0+): "oom-kill:constraint=..,nodemask=..,cpuset=..,mems_allowed=..,global_oom|oom_memcg=..[,task_memcg=..],
# task=C,pid=P,uid=U" — built from pr_cont pieces, so any tail may be missing.
SUMMARY = re.compile(r"oom-kill:constraint=(?P<constraint>[A-Z_a-z]*)(?P<rest>.*)")
# §7.1 (up to 4.19)
TASK_IN = re.compile(r"Task in (?P<task>\S+) killed as a result of limit of (?P<oom>\S+)")
LIMIT_REACHED = lazy_pattern(r"Memory limit reached of cgroup (?P<oom>\S+)")
# §7.2
USAGE = re.compile(r"(?P<kind>memory|memory\+swap|swap|kmem): usage (?P<usage>\d++)kB, limit (?P<limit>\d++)kB")
STATS = re.compile(r"Memory cgroup stats for (?P<path>[^:\s]*)")
# §8
TABLE_HEADER = re.compile(r"\[\s*+pid\s*+\]\s")
_TABLE_LEAD = ("uid", "tgid", "total_vm", "rss")
_ROW_NUMBERS = 13  # 6.8+ prints 10 numbers after the pid (§8); a row with more is not one of the kernel's
TABLE_ROW = re.compile(r"\[\s*+(?P<pid>\d++)\]\s++(?P<rest>-?\d++\s++\d++\s++\d++\s++\d++\s.*)")
# §4 (up to 5.0): "<msg>: Kill process N (c) score S or sacrifice child"
KILL_PROCESS = re.compile(
    rf"(?:{_MSG}: )?Kill process (?P<pid>\d++) {_PAREN_COMM} score (?P<score>-?\d++) or sacrifice child"
)
# §5: "Killed process" in all its layouts; every field after file-rss is optional.
KILLED_ANY = re.compile(rf"(?:{_MSG}: )?Killed process (?P<rest>.*)")
KILLED_RHEL6 = re.compile(rf"(?P<pid>\d++), UID (?P<uid>\d++), {_PAREN_COMM} (?P<mem>total-vm:.*)")
KILLED = re.compile(rf"(?P<pid>\d++) {_PAREN_COMM}(?:, UID (?P<uid>\d++),)? (?P<mem>total-vm:.*)")
KILLED_MEM = re.compile(
    r"total-vm:(?P<total_vm>\d++)kB, anon-rss:(?P<anon>\d++)kB, file-rss:(?P<file>\d++)kB"
    r"(?:, shmem-rss:(?P<shmem>\d++)kB)?"
    r"(?:, UID:(?P<uid>\d++))?"
    r"(?: pgtables:(?P<pgtables>\d++)kB)?"
    r"(?: oom_score_adj:(?P<adj>-?\d++))?"
)
KILLED_PID_ONLY = lazy_pattern(r"(?P<pid>\d++)(?: \((?P<comm>[^)]*)\))?")
# §9 (4.6+)
REAPED = re.compile(rf"oom_reaper: reaped process (?P<pid>\d++) {_PAREN_COMM}, now anon-rss:")
UNABLE_TO_REAP = lazy_pattern(rf"oom_reaper: unable to reap pid:(?P<pid>\d++) {_PAREN_COMM}")
# §10
GROUP = lazy_pattern(r"Tasks in (?P<path>\S+) are going to be killed due to memory\.oom\.group set")
VICTIM_EXITING = lazy_pattern(rf"{_MSG}: OOM victim (?P<pid>\d++) {_PAREN_COMM} is already exiting")
# §11/§12 ("Out of memory and no killable processes", "Mem-Info:") and §8's "Tasks state" header are
# told by their words alone: oomwatch.lines has them as literal prefixes.

CONSTRAINTS: Mapping[str, Constraint] = MappingProxyType(
    {
        "CONSTRAINT_NONE": "global",
        "CONSTRAINT_MEMCG": "memcg",
        "CONSTRAINT_CPUSET": "cpuset",
        "CONSTRAINT_MEMORY_POLICY": "mempolicy",
    }
)
MEMCG_MESSAGE = "Memory cgroup out of memory"
GLOBAL_MESSAGES = ("Out of memory", "Out of memory (oom_kill_allocating_task)")


# §3, §5, §8, §9, §12: what the kernel's printf can hold, so that a figure outside it (a garbled or forged line) is
# left out instead of reported. Sizes are "%lu"/"%llu" of an unsigned long or u64: at most 20 digits. Pids are below
# PID_MAX_LIMIT (include/linux/threads.h: 4 * 1024 * 1024 on 64-bit). Uids are a 32-bit uid_t ("%u"; RHEL's "%d").
# oom_score_adj is a short clamped to OOM_SCORE_ADJ_MIN..MAX (include/uapi/linux/oom.h). An allocation order is a
# shift of the page size inside an unsigned long ("%d"; -1 for SysRq-f), so below 64 (MAX_PAGE_ORDER is ~10).
# gfp_t is an unsigned int ("%#x"). The [uptime] stamp is a u64 nanosecond clock in seconds.
U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
I64_MIN = -(2**63)
PID_MAX_LIMIT = 4 * 1024 * 1024
TOO_BIG = 10**21  # what num() gives for more digits than any 64-bit counter prints: outside every range
UPTIME_MAX_S = U64_MAX / 1e9
RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "pid": (1, PID_MAX_LIMIT),
        "uid": (0, U32_MAX),
        "kb": (0, U64_MAX),
        "pages": (0, U64_MAX),
        "oom_score_adj": (-1000, 1000),
        "order": (-1, 63),
        "gfp_mask": (0, U32_MAX),
    }
)


class Header(TypedDict):
    """What ``X invoked oom-killer: ...`` says about the trigger, and what later lines of the report add."""

    comm: str
    pid: int | None  # from the CPU: line
    uid: NotRequired[int | None]  # from the CPU: line (6.11+)
    gfp_mask: str | None
    gfp_flags: NotRequired[str | None]
    nodemask: NotRequired[str]
    order: int | None
    oom_score_adj: int | None
    cpuset: NotRequired[str]  # from the cpuset line (up to 4.19)


class Killed(TypedDict):
    """What a ``Killed process`` line says about the victim, in kB."""

    pid: int
    comm: str
    uid: int | None
    total_vm_kb: int
    anon_rss_kb: int
    file_rss_kb: int
    shmem_rss_kb: int | None
    pgtables_kb: int | None
    oom_score_adj: int | None


# A task-table row: the kernel's own column names (from the table's header line) to their figures, with "pid",
# "name" (and "fits": False for a figure no 64-bit printf holds). Its keys vary by kernel: a plain dict.
TaskRow = dict[str, Any]


def num(digits: str) -> int:
    """The int the kernel printed; past 21 characters (more than "%ld" of any 64-bit value) it is TOO_BIG, never
    converted: int() of a long digit string costs quadratic time and raises past 4300 digits."""
    if len(digits) <= 21:
        return int(digits)
    return -TOO_BIG if digits[:1] == "-" else TOO_BIG


def in_range(kind: str, value: int) -> bool:
    lo, hi = RANGES[kind]
    return lo <= value <= hi


def parse_header(text: str) -> Header | None:
    """``X invoked oom-killer: ...`` where X is a comm (at most 15 characters); None for any other text."""
    i = text.find(HEADER_MARK, 1, _COMM_SPAN + len(HEADER_MARK))
    if i < 0:
        return None
    comm = text[:i]
    if not _comm_fits(comm):
        return None
    trig: Header = {"comm": comm, "pid": None, "gfp_mask": None, "order": None, "oom_score_adj": None}
    rest = text[i + len(HEADER_MARK) :]
    f = HEADER_FIELDS.match(rest[1:] if rest[:1] == " " else rest)
    if f:
        trig["gfp_mask"] = f.group("gfp")
        trig["gfp_flags"] = f.group("flags")
        trig["order"] = num(f.group("order"))
        trig["oom_score_adj"] = num(f.group("adj")) if f.group("adj") is not None else None
        if f.group("nodemask") is not None:
            trig["nodemask"] = f.group("nodemask")
    return trig


def parse_cpuset(text: str) -> str | None:
    """The cpuset name of ``X cpuset=NAME mems_allowed=LIST`` (X a comm), or None."""
    end = _COMM_SPAN + len(CPUSET_MARK)
    i = text.find(CPUSET_MARK, 1, end)
    while i >= 0:  # a comm may itself hold " cpuset=": at most a few tries within 15 characters
        if not _comm_fits(text[:i]):
            return None
        m = CPUSET_REST.fullmatch(text, i + len(CPUSET_MARK))
        if m:
            return m.group("cpuset")
        i = text.find(CPUSET_MARK, i + 1, end)
    return None


def _comm_fits(comm: str) -> bool:
    return len(comm) <= COMM_MAX or len(_COMM_ESCAPE().sub("e", comm)) <= COMM_MAX


def _digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def parse_summary(text: str) -> dict[str, object]:
    """Pick apart an ``oom-kill:`` summary, tolerating missing pr_cont tails.

    Values may hold commas (cgroup names, comm), so fields are found by their keys: the tail ``,task=C,pid=P,uid=U``
    from the right, the others from the left. Plain ``find``s, one pass each: no pattern can backtrack here.
    """
    m = SUMMARY.match(text)
    if not m:
        return {}
    out: dict[str, object] = {"constraint_raw": m.group("constraint")}
    rest = m.group("rest")
    # ",task=(.*),pid=(\d+),uid=(\d+)\s*$"
    end = rest.rstrip()
    u = end.rfind(",uid=")
    p = end.rfind(",pid=", 0, u) if u >= 0 and _digits(end[u + 5 :]) else -1
    t = rest.find(",task=", 0, p) if p >= 0 and _digits(end[p + 5 : u]) else -1
    if t >= 0:
        out.update(task=rest[t + 6 : p], pid=num(end[p + 5 : u]), uid=num(end[u + 5 :]))
        rest = rest[:t]
    if rest.startswith(",nodemask="):
        c = rest.find(",", 10)
        out["nodemask"] = rest[10 : c if c >= 0 else len(rest)]
    cs = rest.find(",cpuset=")
    ma = rest.find(",mems_allowed=", cs + 8) if cs >= 0 else -1
    if ma >= 0:
        c = rest.find(",", ma + 14)
        out["cpuset"], out["mems_allowed"] = rest[cs + 8 : ma], rest[ma + 14 : c if c >= 0 else len(rest)]
    if ",global_oom" in rest:
        out["global"] = True
    om = rest.find(",oom_memcg=")
    if om >= 0:
        tm = rest.find(",task_memcg=", om + 11)
        out["oom_memcg"] = rest[om + 11 : tm if tm >= 0 else len(rest)]
    tm = rest.find(",task_memcg=")
    if tm >= 0:
        out["task_memcg"] = rest[tm + 12 :]
    return out


def parse_killed(rest: str) -> Killed | None:
    """The part after ``Killed process``; None when it fits no known layout."""
    m = KILLED_RHEL6.fullmatch(rest.rstrip()) or KILLED.fullmatch(rest.rstrip())
    if not m:
        return None
    mem = KILLED_MEM.match(m.group("mem"))
    if not mem:
        return None
    uid = m.group("uid") or mem.group("uid")
    return {
        "pid": num(m.group("pid")),
        "comm": m.group("comm"),
        "uid": num(uid) if uid is not None else None,
        "total_vm_kb": num(mem.group("total_vm")),
        "anon_rss_kb": num(mem.group("anon")),
        "file_rss_kb": num(mem.group("file")),
        "shmem_rss_kb": num(mem.group("shmem")) if mem.group("shmem") is not None else None,
        "pgtables_kb": num(mem.group("pgtables")) if mem.group("pgtables") is not None else None,
        "oom_score_adj": num(mem.group("adj")) if mem.group("adj") is not None else None,
    }


def parse_row(text: str, columns: list[str] | None, match: re.Match[str] | None = None) -> TaskRow | None:  # noqa: C901 - one task-table row per call on the parse path, kept whole for speed (bench_scan)
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
                # int() is C-speed; num() only where a figure could be long enough to be slow to convert
                ints = list(map(int if len(rest) < 4000 else num, parts[:n]))
            except ValueError:
                pass
            else:
                values: TaskRow = dict(zip(columns, ints, strict=True))
                values["pid"] = num(pid_text)
                values["name"] = parts[n]
                if max(ints) > U64_MAX or min(ints) < I64_MIN:
                    values["fits"] = False  # a figure no 64-bit printf holds: the parser leaves the row out
                return values
    parts = rest.split(None, _ROW_NUMBERS)  # no layout has more numbers: the rest of a longer row is its name
    nums: list[int] = []
    for p in parts:
        if not _is_int(p):
            break
        nums.append(num(p))
    if len(nums) < 5 or len(nums) == len(parts):
        return None
    name = rest.split(None, len(nums))[-1]
    row = {
        "pid": num(pid_text),
        "name": name,
        "uid": nums[0],
        "tgid": nums[1],
        "total_vm": nums[2],
        "rss": nums[3],
        "oom_score_adj": nums[-1],
    }
    if max(nums) > U64_MAX or min(nums) < I64_MIN:
        row["fits"] = False
    return row


def table_columns(text: str) -> list[str] | None:
    """The column names of a task-table header (``[  pid  ]   uid  tgid total_vm      rss ... name``), or None.

    Split on whitespace rather than matched with ``\\s+``-separated groups, which backtrack over a padded header.
    """
    m = TABLE_HEADER.match(text)
    if not m:
        return None
    cols = text[m.end() - 1 :].split()
    if len(cols) < 5 or tuple(cols[:4]) != _TABLE_LEAD or cols[-1] != "name":
        return None
    return cols[:-1]


def _is_int(s: str) -> bool:
    return s.isdigit() or (s[:1] == "-" and s[1:].isdigit())
