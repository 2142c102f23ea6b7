"""The 5-minute digest job: one digest per ended window with folded kills, exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import Clock, Invoke, World, kills, payload
from service.logic.ports import PublishFailed

WINDOW_S = 15 * 60


def three_kills(world: World, invoke_oom: Invoke, clock: Clock, host: str = "db-1", pid: int = 3000) -> None:
    invoke_oom(payload(world.instances[host], kills(host, pid, 3, int(clock.now * 1000))))


def test_no_digest_before_the_window_ends(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, clock: Clock
) -> None:
    # GIVEN a window with folded kills that is still open
    three_kills(world, invoke_oom, clock)
    clock.advance(WINDOW_S - 60)

    # WHEN the schedule fires
    result = invoke_digest({})

    # THEN nothing is due yet
    assert result == {"due": 0, "sent": 0}
    assert len(world.sent()) == 1


def test_single_kill_window_needs_no_digest(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, clock: Clock
) -> None:
    # GIVEN a window with one kill (already alerted)
    invoke_oom(payload(world.instances["db-1"], kills("db-1", 100, 1, int(clock.now * 1000))))
    clock.advance(WINDOW_S + 120)

    # WHEN the schedule fires
    # THEN no digest is sent: there is nothing it would add
    assert invoke_digest({}) == {"due": 0, "sent": 0}


def test_digest_publish_failure_raises_and_the_next_run_sends_it(
    world: World,
    invoke_oom: Invoke,
    invoke_digest: Invoke,
    runtime_: Any,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an ended window with two folded kills, and SNS failing once
    three_kills(world, invoke_oom, clock)
    clock.advance(WINDOW_S + 60)
    real = runtime_.clients.sns.publish

    def down(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "Throttled", "Message": "x"}}, "Publish")

    monkeypatch.setattr(runtime_.clients.sns, "publish", down)

    # WHEN the schedule fires (fails), then fires again after SNS is back
    with pytest.raises(PublishFailed):
        invoke_digest({})
    monkeypatch.setattr(runtime_.clients.sns, "publish", real)
    clock.advance(300)
    second = invoke_digest({})

    # THEN the digest is sent once, by the second run
    assert second == {"due": 1, "sent": 1}
    digests = [s for s in world.sent() if s.doc["type"] == "oom_digest"]
    assert len(digests) == 1 and digests[0].doc["count"] == 3
    assert "db-1" in digests[0].text


def test_each_fingerprint_gets_its_own_digest(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, clock: Clock
) -> None:
    # GIVEN folded kills on db-1 (no ASG: its own fingerprint) and on web-1 (ASG web-asg)
    three_kills(world, invoke_oom, clock, "db-1", 3000)
    three_kills(world, invoke_oom, clock, "web-1", 5000)
    clock.advance(WINDOW_S + 60)

    # WHEN the schedule fires
    result = invoke_digest({"account": "123456789012"})

    # THEN two digests, one per fingerprint scope, each naming its host as the kill alerts do (Name, instance id)
    assert result == {"due": 2, "sent": 2}
    digests = [s for s in world.sent() if s.doc["type"] == "oom_digest"]
    assert sorted(s.doc["fingerprint_label"].split(" on ", 1)[1] for s in digests) == sorted(
        [f"instance {world.instances['db-1']} (kernel)", "asg web-asg (kernel)"]
    )
    hosts = sorted(s.subject.rsplit(" on ", 1)[1] for s in digests)
    assert hosts == sorted(f"{n} ({world.instances[n]})" for n in ("db-1", "web-1"))


def test_digest_sent_whose_finish_write_failed_is_not_sent_again(
    world: World,
    invoke_oom: Invoke,
    invoke_digest: Invoke,
    runtime_: Any,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an ended window; the digest publish succeeds but its "sent" write is throttled
    three_kills(world, invoke_oom, clock)
    clock.advance(WINDOW_S + 60)
    runtime_.sleep = lambda _s: None
    real = runtime_.store.digests.finish_digest

    def throttled(*_a: Any, **_k: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "UpdateItem")

    monkeypatch.setattr(runtime_.store.digests, "finish_digest", throttled)

    # WHEN the run ends (it must not fail: the digest went out), then later runs fire
    assert invoke_digest({})["sent"] == 1
    monkeypatch.setattr(runtime_.store.digests, "finish_digest", real)
    for _ in range(3):
        clock.advance(300)
        invoke_digest({})

    # THEN exactly one digest was sent (on main the failed write failed the run, and the digest was
    # sent again once its claim went stale)
    digests = [s for s in world.sent() if s.doc["type"] == "oom_digest"]
    assert len(digests) == 1
