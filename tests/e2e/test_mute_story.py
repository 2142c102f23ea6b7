"""The demo's mute story on the deployed emulator: the CLI's code sets a mute, a matching kill is recorded as
muted and not published, the digest schedule announces the set and the removal once each."""

from __future__ import annotations

import datetime as dt
import inspect
import secrets
from typing import Any

import pytest
from oomwatch import parse_lines

from demo import mute_story
from demo.pipeline import Demo


def test_the_storys_kill_is_a_memory_cgroup_kill_so_it_cannot_break_through() -> None:
    text = mute_story.memcg_kill("worker-1", dt.datetime(2026, 12, 2, 9, 5, tzinfo=dt.UTC))
    (event,) = parse_lines(text.splitlines())
    assert event["constraint"] == "memcg" and event["victim"]["comm"] == mute_story.PROCESS


def test_the_story_says_what_it_emulates() -> None:
    assert "clock_offset_s=CACHE_S" in inspect.getsource(mute_story.run)
    assert "only the clocks" in inspect.getsource(mute_story.print_story)


@pytest.mark.slow
def test_a_muted_kill_is_recorded_not_alerted_and_the_mute_is_announced(deployment: Demo, seeded: Any) -> None:
    # GIVEN a fresh host and a process name no other test kills
    seeded("mute-host-1", "t3.small")
    process = f"mt{secrets.token_hex(3)}"
    # WHEN the story runs on it
    story = mute_story.run(deployment, process=process, host="mute-host-1")
    # THEN the kill was recorded as muted, by the story's mute, and nothing was published for it
    assert [(e["decision"], e["mute_id"]) for e in story.events] == [("muted", story.mute_id)]
    assert story.kill_messages == []
    # AND the mute's set and removal were each announced once
    subjects = [str(n.get("subject")) for n in story.notices if story.mute_id in str(n.get("subject"))]
    assert subjects == [
        f"[OOMWatch mute set] process {process} for 2h ({story.mute_id})",
        f"[OOMWatch mute removed] process {process} ({story.mute_id})",
    ]
