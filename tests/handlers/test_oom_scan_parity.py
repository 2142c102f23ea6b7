"""The same report gives the same event through ``oomwatch scan`` (the parser on the whole file) and
through the pipeline (the OOM handler on moto), for EVERY corpus file: delivered whole, and delivered as
only the lines the subscription filter passes, the rest read back from the stream (a split report)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from handler_kit import (
    CORPUS,
    FIXED_MS,
    Clock,
    Invoke,
    LogCapture,
    LogEvent,
    World,
    log_events,
    payload,
    put_stream,
)
from oomwatch import parse_lines

from infra.syslog import OOM_SUBSCRIPTION_TERMS

FILES = sorted(CORPUS.glob("*.log"))


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.split("\n") if line and not (line.startswith("# ") or line == "#")]


def subscribed(events: list[LogEvent]) -> list[LogEvent]:
    """What the deployed subscription filter passes (any of its terms, case-sensitive, anywhere)."""
    return [e for e in events if any(term in e.message for term in OOM_SUBSCRIPTION_TERMS)]


def essentials(ev: Mapping[str, Any]) -> dict[str, Any]:
    """What a reader acts on: constraint, victim, trigger, cgroup and workload."""
    v = ev.get("victim") or {}
    t = ev.get("trigger") or {}
    cg = ev.get("cgroup") or {}
    w = cg.get("workload") or {}
    return {
        "source": ev.get("source"),
        "constraint": ev.get("constraint"),
        "victim": (v.get("pid"), v.get("comm"), v.get("rss_kb")),
        "trigger": (t.get("pid"), t.get("comm")),
        "cgroup": (cg.get("oom_memcg"), cg.get("task_memcg")),
        "workload": (w.get("kind"), w.get("name")),
    }


def scanned(path: Path) -> list[dict[str, Any]]:
    return sorted((essentials(e) for e in parse_lines(_lines(path))), key=repr)


def piped(logs: LogCapture) -> list[dict[str, Any]]:
    return sorted((essentials(e) for e in logs.events()), key=repr)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:2])
def test_whole_delivery_gives_the_scan_event(
    path: Path, world: World, invoke_oom: Invoke, logs: LogCapture, clock: Clock
) -> None:
    # GIVEN a real report, scanned as `oomwatch scan` reads a file
    want = scanned(path)
    iid = world.instances["web-1"]
    clock.now = FIXED_MS / 1000
    lines = _lines(path)

    # WHEN the whole file arrives in one subscription delivery
    invoke_oom(payload(iid, log_events(lines, FIXED_MS - len(lines))))

    # THEN the pipeline's structured events say the same about every kill
    assert piped(logs) == want


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:2])
def test_split_delivery_read_back_gives_the_scan_event(
    path: Path, world: World, invoke_oom: Invoke, logs: LogCapture, clock: Clock
) -> None:
    # GIVEN a real report whose lines are all in the stream, scanned as `oomwatch scan` reads the file
    want = scanned(path)
    iid = world.instances["web-1"]
    clock.now = FIXED_MS / 1000
    lines = _lines(path)
    events = log_events(lines, FIXED_MS - len(lines))
    put_stream(iid, events)
    delivered = subscribed(events)
    if not delivered:  # a file with no kill line (an excerpt of a report): nothing to deliver, nothing to find
        assert want == []
        return

    # WHEN only the lines the subscription filter passes are delivered (the rest read back from the stream)
    invoke_oom(payload(iid, delivered))

    # THEN the pipeline's events agree with the scan on every kill
    assert piped(logs) == want
