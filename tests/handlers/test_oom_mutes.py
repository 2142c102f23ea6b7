"""Mutes on moto (issue 13 part 3): a mute set with the CLI's own code silences matching kills (recorded as
``decision: muted`` with the mute's id, counted in the digest, never published); an expired one does not, even
while its TTL item is still there; a critical host-wide kill breaks through; each set, removal and expiry gets
one notice from the digest run; bad CLI input is one clear line and a non-zero exit."""

from __future__ import annotations

from typing import Any

import pytest
from handler_kit import ACCOUNT, FIXED_MS, TABLE, Clock, Invoke, LogCapture, World, client, kills, payload
from oomwatch import cli
from oomwatch.mute_store import MuteStore
from oomwatch.mutes import ITEM_PREFIX, MAX_ACTIVE, Mute, MuteError

WINDOW_S = 15 * 60


def store() -> MuteStore:
    return MuteStore(client("dynamodb"), TABLE, max_hours=72)


def no_breakthrough(rt: Any) -> None:
    """The php-fpm reports are critical and host-wide: without this they break through every mute."""
    rt.settings = rt.settings._replace(mute_breakthrough_critical=False)


def mute_notices(world: World) -> list[tuple[str, str]]:
    return [(s.doc["action"], s.doc["mute_id"]) for s in world.sent() if s.doc.get("type") == "mute_notice"]


def test_a_muted_kill_is_recorded_with_its_mute_and_never_published(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, logs: LogCapture
) -> None:
    # GIVEN a mute of php-fpm* on the fleet, set with the CLI's code, and a kill of php-fpm8.1 on web-1
    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    mute = store().set("process", "php-fpm*", 4 * 3600, "deploy 42", "alice", now_s=clock.now)

    # WHEN the kill is delivered
    result = invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))

    # THEN nothing is published, and the kill's event says it was muted, by which mute
    assert world.sent() == []
    (event,) = logs.events()
    assert (event["decision"], event["mute_id"]) == ("muted", mute.id)
    assert result["muted"] == 1 and result["alerts"] == 0
    # AND a redelivery is a duplicate, not a second muted event
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    assert len(logs.events()) == 1 and world.sent() == []


def test_a_mute_of_another_target_mutes_nothing(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, logs: LogCapture
) -> None:
    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    store().set("instance", world.instances["web-2"], 3600, "web-2 rebuild", "alice", now_s=clock.now)
    store().set("tag", "team=db", 3600, "db team", "alice", now_s=clock.now)
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    assert len(world.sent()) == 1
    assert logs.events()[0]["decision"] == "alert"


def test_an_expired_mute_mutes_nothing_while_its_ttl_item_is_still_there(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, logs: LogCapture
) -> None:
    # GIVEN a 1-hour mute set 2 hours ago (DynamoDB's TTL has not deleted its item yet)
    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    mute = store().set("process", "php-fpm*", 3600, "deploy 41", "alice", now_s=clock.now - 7200)
    assert client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": ITEM_PREFIX + mute.id}}).get("Item")
    # WHEN a kill it would have matched arrives
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    # THEN it alerts
    assert [s.doc["type"] for s in world.sent()] == ["oom_kill"]
    assert logs.events()[0]["decision"] == "alert"


def test_the_lambda_ends_a_mute_longer_than_the_maximum_itself(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, logs: LogCapture
) -> None:
    # GIVEN a 100-hour mute set 80 hours ago by a CLI that allowed it, and a stack whose maximum is 72 hours
    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    MuteStore(client("dynamodb"), TABLE, max_hours=200).set(
        "process", "php-fpm*", 100 * 3600, "long", "alice", now_s=clock.now - 80 * 3600
    )
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    assert logs.events()[0]["decision"] == "alert"


def test_a_critical_host_wide_kill_breaks_through_and_says_so(
    world: World, invoke_oom: Invoke, clock: Clock, logs: LogCapture
) -> None:
    # GIVEN a mute of php-fpm* and the default mute_breakthrough_critical=true
    clock.now = FIXED_MS / 1000
    mute = store().set("asg", "web-asg", 3600, "scaling test", "alice", now_s=clock.now)
    # WHEN a critical kill of a host that ran out of memory arrives (php-fpm, constraint global)
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    # THEN it alerts, the alert names the mute it broke through, and so does its event
    (sent,) = world.sent()
    assert f"broke through mute {mute.id} (asg web-asg, set by alice: scaling test)" in " ".join(sent.text.split())
    (event,) = logs.events()
    assert (event["decision"], event["mute_id"]) == ("alert", mute.id)


def test_the_digest_counts_the_muted_kills(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, runtime_: Any, clock: Clock
) -> None:
    # GIVEN 3 kills (one alert, two folded), then a mute, then 2 more kills of the same fingerprint
    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    iid = world.instances["web-1"]
    invoke_oom(payload(iid, kills("web-1", 4000, 3, FIXED_MS)))
    store().set("unit", "php8.1-fpm", 3600, "deploy 43", "alice", now_s=clock.now)
    clock.advance(61)  # past the function's mute cache
    invoke_oom(payload(iid, kills("web-1", 5000, 2, FIXED_MS + 61_000)))
    assert [s.doc["type"] for s in world.sent()] == ["oom_kill"]
    # WHEN the window ends and the digest runs
    clock.now = FIXED_MS / 1000 + WINDOW_S + 60
    invoke_digest({"account": ACCOUNT})
    # THEN the digest counts the 3 kills and says 2 more were muted
    (digest,) = [s for s in world.sent() if s.doc["type"] == "oom_digest"]
    assert digest.doc["count"] == 3 and digest.doc["muted"] == 2
    assert "2 more kills of it were muted" in " ".join(digest.text.split())


def test_a_window_of_muted_kills_only_sends_no_digest(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, runtime_: Any, clock: Clock
) -> None:
    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    store().set("process", "php-fpm*", 3600, "deploy 44", "alice", now_s=clock.now)
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 4, FIXED_MS)))
    clock.now = FIXED_MS / 1000 + WINDOW_S + 60
    invoke_digest({"account": ACCOUNT})
    assert [s.doc["type"] for s in world.sent()] == ["mute_notice"]  # the set notice, no digest, no alert


def test_set_removed_and_expired_each_get_one_notice(world: World, invoke_digest: Invoke, clock: Clock) -> None:
    # GIVEN two mutes: one for 4 hours, one for 10 minutes
    clock.now = FIXED_MS / 1000
    long = store().set("process", "php-fpm*", 4 * 3600, "deploy 45", "alice", now_s=clock.now)
    short = store().set("instance", world.instances["db-1"], 600, "db-1 resize", "bob", now_s=clock.now)
    # WHEN the digest runs twice
    invoke_digest({"account": ACCOUNT})
    invoke_digest({"account": ACCOUNT})
    # THEN each mute's set notice went out once
    assert sorted(mute_notices(world)) == sorted([("set", long.id), ("set", short.id)])
    # WHEN the long one is removed and the short one expires, and the digest runs twice more
    clock.advance(900)
    store().remove(long.id, now_s=clock.now)
    invoke_digest({"account": ACCOUNT})
    invoke_digest({"account": ACCOUNT})
    # THEN one removal and one expiry notice
    assert sorted(mute_notices(world)[2:]) == sorted([("removed", long.id), ("expired", short.id)])
    (removed,) = [s for s in world.sent() if s.doc.get("action") == "removed"]
    assert removed.subject == f"[OOMWatch mute removed] process php-fpm* ({long.id})"
    # AND after the index dropped them, nothing more
    clock.advance(7200)
    store().set("asg", "web-asg", 600, "later", "carol", now_s=clock.now)  # a write drops ended mutes
    invoke_digest({"account": ACCOUNT})
    assert [a for a, _ in mute_notices(world)[4:]] == ["set"]


def test_a_mute_set_and_ended_between_two_runs_still_gets_both_notices(
    world: World, invoke_digest: Invoke, clock: Clock
) -> None:
    clock.now = FIXED_MS / 1000
    mute = store().set("process", "java", 60, "one minute", "alice", now_s=clock.now)
    clock.advance(300)
    invoke_digest({"account": ACCOUNT})
    assert mute_notices(world) == [("set", mute.id), ("expired", mute.id)]


def test_a_failed_notice_is_sent_by_the_next_run(
    world: World, invoke_digest: Invoke, runtime_: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.now = FIXED_MS / 1000
    mute = store().set("process", "java", 3600, "x", "alice", now_s=clock.now)
    real = runtime_.publisher.publish

    def broken(message: Any) -> None:
        raise RuntimeError("SNS down")

    monkeypatch.setattr(runtime_.publisher, "publish", broken)
    result = invoke_digest({"account": ACCOUNT})
    assert result["mute_notices"] == "failed" and mute_notices(world) == []
    monkeypatch.setattr(runtime_.publisher, "publish", real)
    invoke_digest({"account": ACCOUNT})
    assert mute_notices(world) == [("set", mute.id)]


def test_at_most_100_mutes_are_active(world: World) -> None:
    s = store()
    for n in range(MAX_ACTIVE):
        s.set("process", f"p{n}", 3600, "many", "alice")
    with pytest.raises(MuteError, match="100 mutes are active"):
        s.set("process", "one-more", 3600, "many", "alice")


# ------------------------------------------------------------------------------------------------- the CLI


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main([*argv, "--table", TABLE])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_mutes_lists_and_unmutes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["mute", "--process", "php-fpm*", "--for", "4h", "--reason", "deploy 46"], capsys)
    assert code == 0, err
    mute_id = out.split(" as ", 1)[1].split()[0]
    code, out, _ = run(["mutes"], capsys)
    assert code == 0 and out.startswith(f"{mute_id}  process php-fpm*  until ") and "deploy 46" in out
    assert "by arn:aws:" in out  # the caller's identity (sts:GetCallerIdentity)
    code, out, _ = run(["unmute", mute_id], capsys)
    assert code == 0 and out.startswith(f"unmuted {mute_id}")
    assert run(["mutes"], capsys)[1] == "no active mutes\n"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["mute", "--process", "x", "--for", "0", "--reason", "r"], "--for 0: a mute must last more than 0 minutes"),
        (["mute", "--process", "x", "--for", "1000h", "--reason", "r"], "--for 1000h: longer than the maximum of 72h"),
        (["mute", "--process", "x", "--for", "soon", "--reason", "r"], "--for 'soon': expected a number and m, h"),
        (["mute", "--for", "1h", "--reason", "r"], "name what to mute: one of --process, --unit"),
        (["mute", "--process", "x", "--unit", "y", "--for", "1h", "--reason", "r"], "one target per mute, not 2"),
        (["mute", "--instance", "web-1", "--for", "1h", "--reason", "r"], "--instance web-1: expected an instance id"),
        (["mute", "--tag", "team", "--for", "1h", "--reason", "r"], "--tag team: expected KEY=VALUE"),
        (["mute", "--process", "x", "--for", "1h"], "--reason is required"),
        (["unmute", "m-00000000"], "no active mute m-00000000"),
    ],
    ids=["for-0", "over-max", "bad-duration", "no-target", "two-targets", "bad-instance", "bad-tag", "no-reason",
         "unknown-id"],
)  # fmt: skip
def test_bad_input_is_one_clear_line_and_exit_2(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"oomwatch: {line}"), err
    assert client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "mutes#index"}}).get("Item") is None


def test_without_boto3_the_cli_says_how_to_get_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "boto3", None)  # import boto3 -> ImportError
    code = cli.main(["mute", "--process", "x", "--for", "1h", "--reason", "r", "--table", TABLE])
    assert code == 2
    assert capsys.readouterr().err == "oomwatch: oomwatch mute needs boto3: pip install 'oomwatch[aws]'\n"


def test_the_lambda_reads_what_the_cli_writes(world: World) -> None:
    from service.dal.clients import Clients
    from service.dal.state import DynamoState

    written = store().set("tag", "team=web", 3600, "tag test", "alice", now_s=FIXED_MS / 1000)
    read = DynamoState(Clients(), TABLE).mutes.all()
    assert read == [Mute(written.id, "tag", "team=web", written.start, written.end, "tag test", "alice")]


def test_mutes_that_cannot_be_read_mute_nothing_and_the_alert_goes_out(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a mute that would silence the kill, and DynamoDB failing the mutes' read
    from botocore.exceptions import ClientError

    clock.now = FIXED_MS / 1000
    no_breakthrough(runtime_)
    store().set("process", "php-fpm*", 3600, "deploy 47", "alice", now_s=clock.now)

    def throttled(now_s: float) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")

    monkeypatch.setattr(runtime_.store.mutes, "cached", throttled)
    # WHEN the kill arrives
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 1, FIXED_MS)))
    # THEN it alerts as if there were no mute, and the failure is a warning naming the step
    assert [s.doc["type"] for s in world.sent()] == ["oom_kill"]
    warnings = [r for r in logs.records() if r.get("message") == "state_unavailable" and r.get("step") == "mutes"]
    assert warnings and warnings[0]["error"] == "ThrottlingException"
