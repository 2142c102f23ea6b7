"""What a kernel line is to an OOM report: a ``LineKind`` and what the line says, from one ordered table of rules.

Each rule is (kind, prefix, needles, extract, final): a line that starts with ``prefix`` and holds every needle
(cheap ``str`` tests) is handed to ``extract`` (a regex or a parser of :mod:`oomwatch.kernel`); the first rule
whose extract gives a value decides the kind. A ``final`` rule whose extract gives nothing ends the search with
``OTHER`` (a ``[``-line that is no task-table line is a stack frame, not anything else). Rules are indexed by
the first character of their prefix, so a line is only tried against the rules that can match it, in table order.
"""

import enum
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from oomwatch import kernel as k


class LineKind(enum.Enum):
    """A kernel line's role in an OOM report."""

    OTHER = "other"  # stack, Mem-Info body, registers, any other kernel line
    ROW = "row"  # a task-table row: most of a report's lines
    TABLE_HEADER = "table_header"
    KILLED = "killed"  # "Killed process N (comm) ...": the kill
    HEADER = "header"  # "X invoked oom-killer: ...": a report's first line
    REAPER = "reaper"  # oom_reaper's note about a victim, after the kill
    SUMMARY = "summary"  # "oom-kill:constraint=..."
    PR_CONT = "pr_cont"  # a piece of the summary the kernel printed with pr_cont
    KILL_PROCESS = "kill_process"  # "...: Kill process N (comm) score S or sacrifice child": the selected victim
    CPUSET = "cpuset"
    CPU = "cpu"  # "CPU: N PID: P Comm: C": the trigger's pid
    TASK_IN = "task_in"  # "Task in A killed as a result of limit of B" (or "Memory limit reached of cgroup B")
    USAGE = "usage"  # "memory: usage N kB, limit N kB"
    STATS = "stats"
    TASKS_STATE = "tasks_state"
    GROUP = "group"  # "Tasks in P are going to be killed due to memory.oom.group set"
    EXITING = "exiting"  # "OOM victim N (comm) is already exiting"
    NO_KILLABLE = "no_killable"
    MEMINFO = "meminfo"

    @property
    def context(self) -> bool:
        """A line the kernel prints before the kill: seen after a kill, it belongs to the next report."""
        return self in CONTEXT


CONTEXT = frozenset(
    {
        LineKind.CPUSET,
        LineKind.CPU,
        LineKind.SUMMARY,
        LineKind.TASK_IN,
        LineKind.USAGE,
        LineKind.STATS,
        LineKind.TASKS_STATE,
        LineKind.TABLE_HEADER,
        LineKind.ROW,
        LineKind.KILL_PROCESS,
        LineKind.EXITING,
        LineKind.MEMINFO,
        LineKind.NO_KILLABLE,
    }
)


class Cpu(NamedTuple):
    pid: int
    comm: str
    uid: int | None


class Reaper(NamedTuple):
    pid: int
    reaped: bool


class KillProcess(NamedTuple):
    msg: str | None
    pid: int
    comm: str


class TaskIn(NamedTuple):
    task: str | None
    oom: str


class Usage(NamedTuple):
    kind: str
    usage_kb: int
    limit_kb: int


class Exiting(NamedTuple):
    pid: int
    comm: str


class Rule(NamedTuple):
    kind: LineKind
    prefix: str  # the line starts with it ("" for any line)
    needles: tuple[str, ...]  # the line holds each
    extract: Callable[[str], object]  # what the line says, or None when it is not this kind after all
    final: bool = False  # no match of extract: the line is OTHER, no later rule is tried


_YES = True  # what a kind whose line says nothing more gives


def _row(text: str) -> re.Match[str] | None:
    return k.TABLE_ROW.fullmatch(text.rstrip())


def _killed(text: str) -> re.Match[str] | None:
    return k.KILLED_ANY.match(text)


def _reaper(text: str) -> Reaper | None:
    m = k.REAPED.match(text)
    if m:
        return Reaper(k.num(m.group("pid")), True)
    m = k.UNABLE_TO_REAP().match(text)
    return Reaper(k.num(m.group("pid")), False) if m else None


def _kill_process(text: str) -> KillProcess | None:
    m = k.KILL_PROCESS.match(text)
    return KillProcess(m.group("msg"), k.num(m.group("pid")), m.group("comm")) if m else None


def _cpu(text: str) -> Cpu | None:
    m = k.CPU_LINE.match(text) or k.PID_LINE().match(text)
    if not m:
        return None
    uid = m.groupdict().get("uid")
    return Cpu(k.num(m.group("pid")), m.group("comm"), k.num(uid) if uid else None)


def _task_in(text: str) -> TaskIn | None:
    m = k.TASK_IN.match(text)
    return TaskIn(m.group("task"), m.group("oom")) if m else None


def _limit_reached(text: str) -> TaskIn | None:
    m = k.LIMIT_REACHED().match(text)
    return TaskIn(None, m.group("oom")) if m else None


def _usage(text: str) -> Usage | None:
    m = k.USAGE.match(text)
    return Usage(m.group("kind"), k.num(m.group("usage")), k.num(m.group("limit"))) if m else None


def _stats(text: str) -> str | bool:
    m = k.STATS.match(text)
    return m.group("path") if m else _YES


def _group(text: str) -> str | None:
    m = k.GROUP().match(text)
    return m.group("path") if m else None


def _exiting(text: str) -> Exiting | None:
    m = k.VICTIM_EXITING().match(text)
    return Exiting(k.num(m.group("pid")), m.group("comm")) if m else None


def _nothing(_text: str) -> None:
    return None


def _always(_text: str) -> bool:
    return _YES


# Ordered: the first rule that takes a line decides. Task-table rows come first (most lines of a report).
RULES: tuple[Rule, ...] = (
    Rule(LineKind.ROW, "[", (), _row),
    Rule(LineKind.TABLE_HEADER, "[", (), k.table_columns, final=True),  # "[<ffff...>] sym": a stack frame
    Rule(LineKind.KILLED, "", ("Killed process",), _killed),
    Rule(LineKind.OTHER, " ", (), _nothing, final=True),  # stack frames, continuation lines of multi-line records
    Rule(LineKind.HEADER, "", (k.HEADER_MARK,), k.parse_header),
    Rule(LineKind.REAPER, "oom_reaper:", (), _reaper, final=True),
    Rule(LineKind.SUMMARY, "oom-kill:", (), _always),
    Rule(LineKind.PR_CONT, ",", (), _always),
    Rule(LineKind.KILL_PROCESS, "", ("Kill process",), _kill_process),
    Rule(LineKind.CPUSET, "", (k.CPUSET_MARK, " mems_allowed="), k.parse_cpuset),
    Rule(LineKind.CPU, "CPU:", (), _cpu),
    Rule(LineKind.CPU, "Pid:", (), _cpu),
    Rule(LineKind.TASK_IN, "Task in ", (), _task_in),
    Rule(LineKind.TASK_IN, "Memory limit reached of cgroup", (), _limit_reached),
    Rule(LineKind.USAGE, "", (": usage ",), _usage),
    Rule(LineKind.STATS, "Memory cgroup stats for", (), _stats),
    Rule(LineKind.TASKS_STATE, "Tasks state", (), _always),
    Rule(LineKind.GROUP, "Tasks in ", ("memory.oom.group",), _group),
    Rule(LineKind.EXITING, "", ("OOM victim",), _exiting),
    Rule(LineKind.NO_KILLABLE, "Out of memory and no killable", (), _always),
    Rule(LineKind.MEMINFO, "Mem-Info:", (), _always),
)


def _by_first_character(rules: tuple[Rule, ...]) -> Mapping[str, tuple[Rule, ...]]:
    """For each first character a prefix starts with, the rules a line starting with it can match (in order);
    under "" the rules for a line starting with any other character (the rules without a prefix)."""
    firsts = {rule.prefix[0] for rule in rules if rule.prefix}
    table = {c: tuple(r for r in rules if not r.prefix or r.prefix[0] == c) for c in firsts}
    table[""] = tuple(r for r in rules if not r.prefix)
    return MappingProxyType(table)


def _flat(rules: tuple[Rule, ...]) -> tuple[tuple[LineKind, str, str, str, Callable[[str], object], bool], ...]:
    """The rules as plain tuples with at most two needles ("" for none): the loop below unpacks them cheaply."""
    out = []
    for rule in rules:
        assert len(rule.needles) <= 2, rule
        first, second = (*rule.needles, "", "")[:2]
        out.append((rule.kind, rule.prefix, first, second, rule.extract, rule.final))
    return tuple(out)


_CANDIDATES = MappingProxyType({c: _flat(rules) for c, rules in _by_first_character(RULES).items()})
_ANY = _CANDIDATES[""]
_OTHER: tuple[LineKind, Any] = (LineKind.OTHER, None)


def classify(text: str) -> tuple[LineKind, Any]:
    """The kind of a kernel line and what it says (per kind: see the extract of its rule in ``RULES``)."""
    for kind, prefix, needle, also, extract, final in _CANDIDATES.get(text[:1], _ANY):
        if prefix and not text.startswith(prefix):
            continue
        if needle and (needle not in text or (also and also not in text)):
            continue
        data = extract(text)
        if data is not None:
            return kind, data
        if final:
            return _OTHER
    return _OTHER
