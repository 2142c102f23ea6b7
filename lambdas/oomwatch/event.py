"""The kill event the parser emits, as types: one ``TypedDict`` per object of ``event.schema.json``.

The schema is the contract (the Lambda stores and renders these events, ``oomwatch scan --json`` prints them);
these types let mypy hold the code to it. ``tests/unit/oomwatch/test_event_types.py`` checks them against the
schema both ways, so a key added to one and not the other fails a test. A key the schema does not require is
``NotRequired``; a value the schema allows to be null is ``... | None``.

No ``from __future__ import annotations`` here: Python 3.11 reads ``NotRequired`` into ``__optional_keys__`` only
from evaluated annotations.
"""

from typing import Literal, NotRequired, TypedDict

Source = Literal["kernel", "systemd-oomd", "earlyoom"]
Constraint = Literal["global", "memcg", "cpuset", "mempolicy", "unknown"]
WorkloadKind = Literal[
    "systemd-unit",
    "user-unit",
    "user-session",
    "docker",
    "containerd",
    "podman",
    "crio",
    "ecs",
    "kubernetes",
    "lxc",
    "cgroup",
]
Qos = Literal["guaranteed", "burstable", "besteffort"]


class Victim(TypedDict):
    """The killed process (or systemd-oomd's cgroup) as the event's ``victim`` part.

    This is the event part only: not the Lambda's summary of a victim, nor an accessor that reads one.
    """

    pid: int | None
    pids: NotRequired[list[int]]
    comm: str | None
    uid: int | None
    total_vm_kb: int | None
    anon_rss_kb: int | None
    file_rss_kb: int | None
    shmem_rss_kb: int | None
    pgtables_kb: int | None
    oom_score_adj: int | None
    rss_kb: NotRequired[int | None]


class Trigger(TypedDict):
    """The task whose allocation invoked the OOM killer (often not the victim)."""

    pid: int | None
    comm: str | None
    uid: NotRequired[int | None]
    gfp_mask: str | None
    gfp_flags: NotRequired[str | None]
    order: int | None
    oom_score_adj: int | None


class Workload(TypedDict):
    """What runs in a cgroup: a unit, a session, a container, a pod (see ``oomwatch.cgroup``)."""

    kind: WorkloadKind
    name: str
    id: NotRequired[str | None]
    unit: NotRequired[str]
    uid: NotRequired[int]
    pod_uid: NotRequired[str | None]
    qos: NotRequired[Qos]
    runtime: NotRequired[str | None]
    task_id: NotRequired[str]
    lxc: NotRequired[str]
    path: NotRequired[str]


class Cgroup(TypedDict):
    """The memory cgroups of the kill and the workload they name."""

    oom_memcg: str | None
    task_memcg: str | None
    oom_group: NotRequired[str | None]
    workload: Workload | None


class Memcg(TypedDict):
    """The memory cgroup's usage and limit at the OOM, in kB: all figures or no block."""

    usage_kb: NotRequired[int]
    limit_kb: NotRequired[int]
    swap_usage_kb: NotRequired[int]
    swap_limit_kb: NotRequired[int]
    memsw_usage_kb: NotRequired[int]
    memsw_limit_kb: NotRequired[int]


class TopConsumer(TypedDict):
    """One of the task table's largest rows."""

    pid: int
    comm: str
    rss_kb: int


class TaskName(TypedDict):
    """One process name of the task table, summed over its rows."""

    comm: str
    tasks: int
    rss_kb: int


class TaskTable(TypedDict):
    """The whole task table summed."""

    rss_kb: int
    names: list[TaskName]


class SystemdContext(TypedDict):
    """One systemd unit line attached to a kernel kill, with who sent it."""

    unit: str
    verified: bool
    sender: str


class OomEvent(TypedDict):
    """One kill: what ``OomParser.finish()``, ``parse_lines`` and ``scan_binary`` give, one per kill line."""

    schema_version: Literal[1]
    source: Source
    constraint: Constraint
    message: NotRequired[str | None]
    host: str | None
    stream: NotRequired[str | None]
    timestamp: str | None
    log_time: NotRequired[str | None]
    uptime_s: float | None
    victim: Victim
    trigger: Trigger | None
    cgroup: Cgroup | None
    memcg: NotRequired[Memcg | None]
    top_consumers: list[TopConsumer]
    task_table: NotRequired[TaskTable | None]
    task_count: NotRequired[int | None]
    page_kb: NotRequired[int | None]
    reaped: bool | None
    units: NotRequired[list[str]]
    systemd_context: NotRequired[list[SystemdContext]]
    sender_verified: NotRequired[bool]
    signal: NotRequired[str]
    complete: bool
    warnings: list[str]
    kill_line: NotRequired[str]
    kill_event_id: NotRequired[str | None]
    lines: list[str]
    lines_left_out: NotRequired[int]
