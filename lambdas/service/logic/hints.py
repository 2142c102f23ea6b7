"""What to do next: two or three lines with numbers, chosen from ONE table (:data:`HINTS`).

To add advice for a new kind of process, append a :class:`Hint` row with the process-name
patterns it applies to and a function that turns a :class:`HintInput` into lines. Rows for a
process come first; rows keyed on the kill's constraint or source follow. The alert shows the
first matching process row and the first matching constraint/source row, at most three lines.
"""

from collections.abc import Callable
from typing import NamedTuple

from oomwatch.event import OomEvent, Workload

from service.logic.severity import is_workload, matches_any
from service.logic.text import clean, short_ids
from service.models.instance import InstanceInfo

MAX_LINES = 4  # two from the process row, two from the constraint/source row
HINT_MAX = 600  # a hint line quotes a cgroup path (capped at 160) and a workload label (100)


class HintInput(NamedTuple):
    """The numbers a hint may use, all in MiB (None when unknown)."""

    event: OomEvent
    instance: InstanceInfo | None
    ram_mib: int | None  # host RAM
    limit_mib: int | None  # the memory cgroup limit that was hit (memcg kills)
    victim_mib: int | None

    @property
    def budget_mib(self) -> int | None:
        """The memory the victim's service had to live in: the cgroup limit, else host RAM."""
        return self.limit_mib if self.limit_mib else self.ram_mib

    @property
    def budget_name(self) -> str:
        return "cgroup limit" if self.limit_mib else "RAM"

    def consumers(self) -> list[tuple[str, int]]:
        """(comm, MiB) of the largest tasks in the report's task table."""
        out = []
        for row in self.event.get("top_consumers") or []:
            if row.get("rss_kb") is not None:
                out.append((row.get("comm") or "?", round(row["rss_kb"] / 1024)))
        return out

    def split(self, patterns: tuple[str, ...]) -> tuple[int, int, int | None]:
        """(tasks of this service, their MiB, MiB of every other task) from the WHOLE task table
        (the event's ``task_table``: every row summed), or the others None when the report had no table.

        Issue 11: counting only the 5 largest rows gave "0 MiB other services" beside 216 MiB of others.
        """
        table = self.event.get("task_table")
        if table and isinstance(table.get("rss_kb"), int):
            tasks = own_kb = 0
            for row in table.get("names") or []:
                if matches_any([row.get("comm") or ""], patterns):
                    tasks += row.get("tasks") or 0
                    own_kb += row.get("rss_kb") or 0
            if tasks:
                return tasks, round(own_kb / 1024), round(max(0, table["rss_kb"] - own_kb) / 1024)
        return (1, self.victim_mib, None) if self.victim_mib else (0, 0, None)


def os_reserve_mib(budget: int) -> int:
    """Memory to leave for the kernel, page cache and agents: 10% of the budget, 256 MiB to 1 GiB."""
    return max(256, min(1024, budget // 10))


def _m(mib: int | None) -> str:
    return "?" if mib is None else f"{mib:,} MiB"


def _held(h: HintInput, name: str) -> str:
    return f"{name} held {_m(h.victim_mib)}" if h.victim_mib is not None else name


def _implausible(h: HintInput, what: str, value: int, others: int | None) -> str | None:
    """A sentence naming the figure that looks wrong when a recommendation comes out at or below zero or
    above host RAM (issue 11: ``must fit in ~-7,062 MiB``), else None."""
    budget = h.budget_mib or 0
    if value <= 0:
        used = f"{_m(others)} of other services and " if others else ""
        return (
            f"{what}: no size fits: {used}the OS reserve leave nothing of {_m(budget)} {h.budget_name};"
            f" the {h.budget_name} figure looks wrong (check the instance type and the report)."
        )
    if h.ram_mib and value > h.ram_mib:
        return (
            f"{what}: the {_m(budget)} {h.budget_name} is more than the host's {_m(h.ram_mib)} RAM;"
            " that figure looks wrong, so no size is advised."
        )
    return None


def _php_fpm(h: HintInput) -> list[str]:
    tasks, own, others = h.split(PHP_FPM)
    budget = h.budget_mib
    if budget is None or not tasks:
        return ["PHP-FPM: size pm.max_children as (RAM - OS - other services) / average worker RSS."]
    worker = max(1, round(own / tasks))
    reserve = os_reserve_mib(budget)
    if others is None:
        return [
            f"PHP-FPM: other services' memory is unknown (no task table in the report): size pm.max_children"
            f" as ({_m(budget)} {h.budget_name} - {_m(reserve)} OS - other services) / {_m(worker)} per worker.",
        ]
    room = budget - reserve - others
    wrong = _implausible(h, "PHP-FPM", room, others)
    if wrong:
        return [wrong]
    fits = max(1, room // worker)
    pool = f"{tasks} PHP-FPM task{'s' if tasks != 1 else ''} held {_m(own)}"
    return [
        f"PHP-FPM: pm.max_children <= {fits} fits: ({_m(budget)} {h.budget_name} - {_m(reserve)} OS"
        f" - {_m(others)} other tasks) / {_m(worker)} avg worker ({pool}).",
        f"memory_limit bounds ONE worker, not the pool: keep pm.max_children x memory_limit under {_m(room)}.",
    ]


def _mysql(h: HintInput) -> list[str]:
    _tasks, _own, others = h.split(MYSQL)
    budget = h.budget_mib
    if budget is None:
        return [f"{_held(h, 'MySQL/MariaDB')}: keep innodb_buffer_pool_size well under RAM (about 60-70%)."]
    reserve = os_reserve_mib(budget)
    if others is None:
        return [
            f"{_held(h, 'MySQL/MariaDB')} of {_m(budget)} {h.budget_name}; other services' memory is unknown"
            " (no task table in the report).",
            f"Keep buffer pool + per-connection buffers under {_m(budget)} - {_m(reserve)} OS - other services.",
        ]
    room = budget - reserve - others
    wrong = _implausible(h, "MySQL/MariaDB", room, others)
    if wrong:
        return [wrong]
    pool = max(128, int(room * 0.75) // 128 * 128)
    return [
        f"{_held(h, 'MySQL/MariaDB')} of {_m(budget)} {h.budget_name}; with {_m(others)} used by other"
        f" tasks, buffer pool + per-connection buffers must fit in ~{_m(room)}.",
        f"Try innodb_buffer_pool_size={pool}M; check max_connections x per-connection buffers.",
    ]


def _java(h: HintInput) -> list[str]:
    budget = h.budget_mib
    if budget is None:
        return ["Java: cap the heap (-Xmx or -XX:MaxRAMPercentage=75) below the memory the JVM can use."]
    heap = int(budget * 0.75)
    return [
        f"{_held(h, 'Java')} of {_m(budget)} {h.budget_name}: cap the heap at ~{_m(heap)}"
        f" (-XX:MaxRAMPercentage=75 or -Xmx{heap}m), leaving 25% for metaspace, thread stacks,"
        " direct buffers and the JIT.",
    ]


def _postgres(h: HintInput) -> list[str]:
    budget = h.budget_mib
    if budget is None:
        return ["PostgreSQL: shared_buffers ~25% of RAM; work_mem x max_connections x sorts must fit the rest."]
    return [
        f"PostgreSQL: shared_buffers ~{_m(budget // 4)} (25% of {_m(budget)} {h.budget_name});"
        f" work_mem x active queries must fit in the remaining ~{_m(budget // 2)}.",
    ]


def _redis(h: HintInput) -> list[str]:
    budget = h.budget_mib
    if budget is None:
        return ["Redis: set maxmemory with an eviction policy below the memory available to it."]
    return [
        f"{_held(h, 'Redis')}: set maxmemory ~{int(budget * 0.6)}mb (60% of {_m(budget)} {h.budget_name},"
        " leaving room for fork/copy-on-write during saves) and a maxmemory-policy.",
    ]


def _node(h: HintInput) -> list[str]:
    budget = h.budget_mib
    if budget is None:
        return ["Node.js: cap the V8 heap with --max-old-space-size below the memory available."]
    return [
        f"{_held(h, 'Node.js')}: cap the V8 heap with --max-old-space-size={int(budget * 0.75)}"
        f" (75% of {_m(budget)} {h.budget_name}) and look for a leak if it grows steadily.",
    ]


_LIMIT_SETTING = {
    "systemd-unit": "MemoryMax= of {name}",
    "user-unit": "MemoryMax= of {name}",
    "docker": "the container's --memory (compose: mem_limit) for {name}",
    "containerd": "the container's memory limit for {name}",
    "kubernetes": "resources.limits.memory of {name}",
    "ecs": "the task/container memory of {name}",
    "lxc": "limits.memory of container {name}",
}


def _limit_workload(event: OomEvent) -> tuple[Workload | None, Workload | None]:
    """(the workload whose limit was hit, the inner workload the victim ran in when that differs).

    Nested cgroups (a container inside LXC, a pod inside a node slice): the kernel names the cgroup whose
    limit was hit in ``oom_memcg``; advice goes to that one, the victim's own workload is context."""
    from oomwatch.cgroup import workload as classify_path

    cg = event.get("cgroup")
    if not cg:
        return None, None
    inner = cg.get("workload")
    oom, task = cg.get("oom_memcg"), cg.get("task_memcg")
    if not oom or not task or oom == task:
        return inner, None
    found = classify_path(oom)
    outer: Workload = found if is_workload(found) else {"kind": "cgroup", "name": oom, "path": oom}
    same = inner is not None and all(outer.get(k) == inner.get(k) for k in ("kind", "name", "id"))
    return (inner, None) if same else (outer, inner or None)


def _label(w: Workload | None) -> str:
    if not w:
        return ""
    if w.get("kind") == "systemd-unit":
        return w.get("unit") or w.get("name") or ""
    ident = w.get("id")
    return w.get("name") or (ident[:12] if ident else "") or w.get("path") or ""


def short_path(path: str) -> str:
    """A cgroup path as a hint repeats it (the alert shows it whole once): long ids cut, and past 48 characters
    only its last component. Linear."""
    path = short_ids(path)
    if len(path) <= 48:
        return path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return ".../" + (last if len(last) <= 56 else last[:53] + "...")


def _memcg(h: HintInput) -> list[str]:
    cg = h.event.get("cgroup")
    outer, inner = _limit_workload(h.event)
    # Cgroup and unit names are chosen by whoever owns a delegated cgroup: one clean line each, capped.
    path = clean(short_path((cg.get("oom_memcg") or cg.get("task_memcg") or "") if cg else ""), 160) or "the cgroup"
    kind = str(outer.get("kind") if outer else None)
    name = clean(short_ids(_label(outer)), 100) or path
    if kind == "kubernetes" and outer and not outer.get("id") and inner:
        setting = f"the memory limits of {name}'s containers (the pod's limit is their sum)"
    else:
        template = _LIMIT_SETTING.get(kind, "memory.max (v2) / memory.limit_in_bytes (v1) of {name}")
        setting = template.format(name=name)
    limit = _m(h.limit_mib) if h.limit_mib else "its limit"
    ram = f" (host RAM {_m(h.ram_mib)})" if h.ram_mib else ""
    lines = [f"The cgroup limit was hit, not the host: {path} reached {limit}{ram}."]
    if inner:
        inner_name = clean(short_ids(_label(inner)), 100)
        if inner_name == name and inner.get("id"):  # a container of the pod whose limit was hit
            inner_desc = f"its container {clean(inner.get('id'), 100)[:12]}"
        else:
            inner_desc = f"{clean(inner.get('kind'), 30)} {inner_name}"
        lines.append(
            f"That limit is the enclosing {kind} {name}'s, not the one of {inner_desc} the victim ran in:"
            f" raise {setting} or cut what runs inside it."
        )
    else:
        lines.append(f"Raise {setting} or cut the workload's memory.")
    return lines


def _global(h: HintInput) -> list[str]:
    inst = h.instance
    lines = []
    if inst and inst.instance_type and inst.memory_mib:
        if inst.next_type and inst.next_memory_mib:
            lines.append(
                f"Host-wide OOM: {inst.instance_type} has {_m(inst.memory_mib)}; next size"
                f" {inst.next_type} has {_m(inst.next_memory_mib)}."
            )
        else:
            lines.append(f"Host-wide OOM: {inst.instance_type} has {_m(inst.memory_mib)}; move to a larger type.")
    else:
        lines.append("Host-wide OOM: right-size the instance type (more RAM) or shed services.")
    swap = min(4096, max(1024, (h.ram_mib or 2048) // 2))
    lines.append(
        f"Or add ~{_m(swap)} swap as a buffer, and set OOMScoreAdjust=-900 (oom_score_adj)"
        " on processes that must survive."
    )
    return lines


def _oomd(h: HintInput) -> list[str]:
    return [
        "systemd-oomd killed a cgroup under memory pressure (PSI), before the kernel OOM killer:"
        " tune ManagedOOMMemoryPressureLimit= or give the slice more memory."
    ]


class Hint(NamedTuple):
    name: str
    advise: Callable[[HintInput], list[str]]
    processes: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


PHP_FPM = ("php-fpm", "php-fpm*", "php*-fpm*")
MYSQL = ("mysqld", "mariadbd")

# THE table. Process rows first, then constraint/source rows.
HINTS: tuple[Hint, ...] = (
    Hint("php-fpm", _php_fpm, processes=PHP_FPM),
    Hint("mysql", _mysql, processes=MYSQL),
    Hint("java", _java, processes=("java",)),
    Hint("postgres", _postgres, processes=("postgres", "postmaster")),
    Hint("redis", _redis, processes=("redis-server",)),
    Hint("node", _node, processes=("node", "nodejs")),
    Hint("systemd-oomd", _oomd, sources=("systemd-oomd",)),
    Hint("memcg", _memcg, constraints=("memcg",)),
    Hint("host-wide", _global, constraints=("global",)),
)


def hint_input(event: OomEvent, instance: InstanceInfo | None) -> HintInput:
    memcg = event.get("memcg")
    limit_kb = memcg.get("limit_kb") if memcg and event.get("constraint") == "memcg" else None
    # A "limit" of PAGE_COUNTER_MAX (no limit) is not a limit.
    if limit_kb is not None and limit_kb >= 2**50:
        limit_kb = None
    rss = event["victim"].get("rss_kb")
    return HintInput(
        event=event,
        instance=instance,
        ram_mib=instance.memory_mib if instance else None,
        limit_mib=round(limit_kb / 1024) if limit_kb else None,
        victim_mib=round(rss / 1024) if isinstance(rss, int | float) else None,
    )


def advise(event: OomEvent, instance: InstanceInfo | None) -> tuple[str, list[str]]:
    """(names of the rows used, the hint lines) for one kill."""
    h = hint_input(event, instance)
    name = event["victim"]["comm"] or "unknown"
    used: list[str] = []
    lines: list[str] = []
    for row in HINTS:
        if row.processes and matches_any([name], row.processes):
            used.append(row.name)
            lines.extend(row.advise(h))
            break
    for row in HINTS:
        if (row.constraints and event.get("constraint") in row.constraints) or (
            row.sources and event.get("source") in row.sources
        ):
            used.append(row.name)
            lines.extend(row.advise(h))
            break
    return "+".join(used), lines[:MAX_LINES]


def hint_lines(event: OomEvent, instance: InstanceInfo | None) -> tuple[str, ...]:
    """The WHAT TO DO lines of a kill's alerts, each one clean line: a hint quotes cgroup paths and unit names.

    The kill's use case (:mod:`service.logic.kills`) computes them and hands them to the renderer in the view."""
    _, hint = advise(event, instance)
    return tuple(clean(line, HINT_MAX) for line in hint)
