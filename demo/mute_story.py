"""The demo's mute story: ``oomwatch mute`` in action on the deployed demo stack.

1. A mute of one process is set with the CLI's own code (:func:`oomwatch.mute_store.connect`: the stack's
   ``StateTableName`` and ``MuteMaxHours`` outputs, then the ``mutes#index`` write), as ``oomwatch mute --process
   celery --for 2h --reason ...`` would.
2. A kill of that process (a memory-cgroup kill, so no host-wide breakthrough) is played through the deployed
   pipeline a minute later (the OOM function reads mutes with a 60-second cache): its event says ``decision:
   muted`` with the mute's id, and nothing reaches the topic for it.
3. The digest schedule runs: one notice that the mute was set. The mute is removed (``oomwatch unmute``) and the
   schedule runs again: one notice that it was removed.

Only the clocks are moved (the OOM and digest functions run a minute and two minutes "later"); everything else is
the emulator's: DynamoDB, the deployed functions, SNS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from oomwatch.mute_store import connect

from demo import render

if TYPE_CHECKING:
    from demo.pipeline import Demo

PROCESS = "celery"
HOST = "worker-1"
CACHE_S = 61  # past the OOM function's 60-second mute cache


@dataclass
class MuteStory:
    log: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # the muted kill's structured event(s)
    kill_messages: list[dict[str, Any]] = field(default_factory=list)  # what the topic got for the kill: nothing
    notices: list[dict[str, Any]] = field(default_factory=list)
    mute_id: str = ""

    def records(self) -> list[dict[str, Any]]:
        """What ``oomwatch demo --json`` adds for the story: the mute notices, then the muted kill's event."""
        return [*self.notices, *({"channel": "event", "event": e} for e in self.events)]


def memcg_kill(host: str, when: dt.datetime, pid: int = 71234, process: str = PROCESS) -> str:
    """A kernel 5.15 memory-cgroup OOM report killing ``process`` in ``celery-exports.service`` (syslog format)."""
    stamp = f"{when:%b} {when.day:>2} {when:%H:%M:%S}"
    prefix = f"{stamp} {host} kernel: [90210.000000] "
    unit = "/system.slice/celery-exports.service"
    lines = [
        f"{process} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
        f"CPU: 0 PID: {pid} Comm: {process} Not tainted 5.15.0-1051-aws #56-Ubuntu",
        "memory: usage 1048576kB, limit 1048576kB, failcnt 412",
        "Tasks state (memory values in pages):",
        "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
        f"[{pid:>7}]   998 {pid:>5}   310000   255000  2400000        0             0 {process}",
        f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={unit},"
        f"task_memcg={unit},task={process},pid={pid},uid=998",
        f"Memory cgroup out of memory: Killed process {pid} ({process}) total-vm:1240000kB, anon-rss:1016000kB,"
        " file-rss:4000kB, shmem-rss:0kB, UID:998 pgtables:2344kB oom_score_adj:0",
    ]
    return "".join(f"{prefix}{line}\n" for line in lines)


def _host(demo: Demo, wanted: str) -> tuple[str, str]:
    hosts = list(demo.hosts)
    host = next((h for h in hosts if h.name == wanted), hosts[0] if hosts else None)
    if host is None:
        raise RuntimeError("the demo seeded no host")
    return host.instance_id, host.name


def run(
    demo: Demo, progress: Callable[[str], None] = lambda _m: None, *, process: str = PROCESS, host: str = HOST
) -> MuteStory:
    """Set a mute, play a kill it matches, run the schedule, unmute, run it again."""
    story = MuteStory()
    stack = demo.asm.stacks[0].name
    store = connect(None, stack, client=demo.aws.client)  # the CLI's discovery: the stack's outputs
    instance_id, name = _host(demo, host)
    mute = store.set("process", process, 2 * 3600, "demo: a known leak, fix in deploy 1234", "demo-user")
    story.mute_id = mute.id
    story.log.append(f"$ oomwatch mute --process {process} --for 2h --reason 'demo: a known leak, fix in deploy 1234'")
    story.log.append(f"muted process {process} as {mute.id} (table {store.table}, maximum {store.max_hours}h)")
    progress(f"mute story: muted process {process} as {mute.id}; playing a kill of it on {name}")
    demo.drain_topic(0.2)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=CACHE_S)
    text = memcg_kill(name, now, process=process)
    demo.play({instance_id: text}, host_filter=demo.host_filter(), clock_offset_s=CACHE_S)
    story.kill_messages = [m for m in demo.drain_topic() if process in str(m.get("subject") or "")]
    story.events = [e["event"] for e in demo.structured_events() if e["event"].get("mute_id") == mute.id]
    for event in story.events:
        story.log.append(
            f"replayed a kill of {process} on {name}: event decision={event.get('decision')}"
            f" mute_id={event.get('mute_id')}; {len(story.kill_messages)} message(s) on the topic for it"
        )
    if not story.events:
        story.log.append(f"FAILED: no event of the kill of {process} names mute {mute.id}")
    demo.run_schedules(clock_offset_s=2 * CACHE_S)
    story.notices += demo.drain_topic()
    store.remove(mute.id)
    story.log.append(f"$ oomwatch unmute {mute.id}")
    demo.run_schedules(clock_offset_s=3 * CACHE_S)
    story.notices += demo.drain_topic()
    progress(f"mute story: {len(story.notices)} mute notice(s), the kill recorded as muted and not alerted")
    return story


def print_story(story: MuteStory, out: TextIO, mails: dict[str, list[dict[str, Any]]] | None = None) -> None:
    print("\n=== Mute: oomwatch mute, a muted kill, the mute's notices ===\n", file=out)
    for line in story.log:
        print(f"  {line}", file=out)
    for notice in story.notices:
        if not str(notice.get("subject") or "").startswith("[OOMWatch mute"):
            continue
        print("\n" + render.email(notice, (mails or {}).get(str(notice.get("message_id")), [])), file=out)
    print("Emulated in this part: only the clocks (the OOM function a minute later, past its mute cache).", file=out)
