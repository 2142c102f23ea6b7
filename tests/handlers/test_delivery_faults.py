"""The delivery protocol under faults (the table in ``service.logic.delivery``'s docstring).

A fault is injected at one step (claim, count, render, save, event, publish, release, commit) as
throttling, an AWS call timeout, a crash (an exception that kills the invocation) or a death (the
runtime is stopped: function timeout, out of memory; nothing after it runs, the container's memory
is lost). Then Lambda's real schedule is replayed on a fake clock: the first retry 1 minute after
a failed attempt, the second 2 minutes after that, with the same request id; then two redeliveries
of the same payload by the at-least-once queue, 10 minutes and 5 h 59 min later (events are kept
up to 6 hours), as new requests on a fresh container. Every case must end with exactly one message
per kill and one event per kill.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from handler_kit import (
    FIXED_MS,
    Clock,
    FakeContext,
    LogCapture,
    World,
    client,
    corpus_lines,
    log_events,
    payload,
    php_report,
)


class Death(BaseException):
    """The runtime was stopped: no ``except Exception`` sees it, nothing after it runs."""


def throttle() -> BaseException:
    error: BaseException = ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "Injected")
    return error


def timeout() -> BaseException:
    error: BaseException = ReadTimeoutError(endpoint_url="https://injected.amazonaws.com")
    return error


def crash() -> BaseException:
    return RuntimeError("injected crash")


def death() -> BaseException:
    return Death()


KINDS: dict[str, Callable[[], BaseException]] = {"throttle": throttle, "timeout": timeout, "crash": crash,
                                                   "death": death}  # fmt: skip

# step -> (class path, method) whose call the fault replaces. A death at "claim" and "count" lands
# *after* the write (the worst case: the item changed, the invocation never learned it).
STEPS = {
    "claim": ("service.dal.state.claims.KillClaims", "claim_kills"),
    "count": ("service.dal.state.windows.NoiseWindows", "count_kills"),
    "render": ("service.logic.kills", "render_kill"),
    "save": ("service.dal.state.claims.KillClaims", "save_kills"),
    "event": ("service.logic.kills", "event_record"),
    "publish": ("service.dal.sns.Publisher", "publish"),
    "release": ("service.dal.state.claims.KillClaims", "release_kill"),
    "commit": ("service.dal.state.claims.KillClaims", "commit_kills"),
}
AFTER_THE_WRITE = {"claim", "count"}
# (step, kind) pairs that cannot happen: rendering and the event write make no AWS call.
NOT_APPLICABLE = {("render", "throttle"), ("render", "timeout"), ("event", "throttle"), ("event", "timeout")}
# The residual the docstring names: the runtime stopped between SNS accepting and the commit.
RESIDUAL = {("commit", "death"), ("event", "death")}
CASES = [(step, kind) for step in STEPS for kind in KINDS if (step, kind) not in NOT_APPLICABLE | RESIDUAL]


def delivery(world: World) -> dict[str, Any]:
    """Two kills of different services on db-1 in one delivery: each is the first of its window."""
    first = corpus_lines("01_")
    second = [
        line.replace("php8.1-fpm.service", "queue-worker.service") for line in php_report("db-1", 7001, 600_000, 9000.0)
    ]
    events = log_events(first, FIXED_MS - 10_000) + log_events(second, FIXED_MS, seq0=500)
    return payload(world.instances["db-1"], events)


class Lambda:
    """Plays Lambda: containers (Runtimes), request ids, the retry schedule, the fake clock."""

    def __init__(self, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = clock
        self.monkeypatch = monkeypatch
        self.rt: Any = None
        self.fresh()

    def fresh(self) -> None:
        import service.handlers.oom
        from service.wiring import reset_runtime, runtime

        reset_runtime()
        self.rt = runtime(service.handlers.oom.telemetry)
        self.rt.clock = self.clock
        self.rt.directory._clock = self.clock
        self.rt.sleep = lambda _s: None

    def invoke(self, event: dict[str, Any], request_id: str) -> dict[str, Any]:
        import service.handlers.oom

        result: dict[str, Any] = service.handlers.oom.handler(event, FakeContext(request_id, remaining_ms=60_000))
        return result

    def schedule(self, event: dict[str, Any], first: Callable[[], Callable[[], None]] | None = None) -> list[str]:
        """The first attempt (with ``first`` arming its fault), Lambda's two retries, two redeliveries."""
        outcomes = []
        request_id = str(uuid.uuid4())
        for n, wait in enumerate((0, 60, 120)):
            self.clock.advance(wait)
            disarm = first() if (n == 0 and first) else None
            try:
                self.invoke(event, request_id)
                outcomes.append("ok")
                break
            except Death:
                outcomes.append("died")
                self.fresh()  # a stopped runtime's container is gone
            except Exception as exc:
                outcomes.append(type(exc).__name__)
            finally:
                if disarm:
                    disarm()
        for wait in (600, 6 * 3600 - 60 - 600 - 180):
            self.clock.advance(wait)
            self.fresh()
            self.invoke(event, str(uuid.uuid4()))
            outcomes.append("redelivered")
        return outcomes


def arm(
    monkeypatch: pytest.MonkeyPatch, step: str, kind: str, also: tuple[str, str] | None = None
) -> Callable[[], Callable[[], None]]:
    """A function that installs the fault for one attempt and returns how to remove it."""

    def install() -> Callable[[], None]:
        import importlib

        undo = []
        for s, k in [(step, kind), *([also] if also else [])]:
            path, name = STEPS[s]
            module_name, _, cls_name = path.rpartition(".")
            try:
                owner: Any = getattr(importlib.import_module(module_name), cls_name)
            except (ImportError, AttributeError):
                owner = importlib.import_module(path)
            original = getattr(owner, name)

            def faulty(*args: Any, _original: Any = original, _s: str = s, _k: str = k, **kwargs: Any) -> Any:
                if _s in AFTER_THE_WRITE and _k == "death":
                    _original(*args, **kwargs)
                raise KINDS[_k]()

            setattr(owner, name, faulty)
            undo.append((owner, name, original))

        def remove() -> None:
            for owner, name, original in reversed(undo):
                setattr(owner, name, original)

        return remove

    return install


@pytest.fixture
def lam(world: World, clock: Clock, logs: LogCapture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambda]:
    from service.wiring import reset_runtime

    clock.now = FIXED_MS / 1000 + 30
    yield Lambda(clock, monkeypatch)
    reset_runtime()


def per_kill(world: World, logs: LogCapture) -> tuple[Counter[str], Counter[str]]:
    """Messages and events per victim (process name)."""
    sent: Counter[str] = Counter()
    for m in world.sent():
        sent[m.attributes.get("process", "?")] += 1
    events: Counter[str] = Counter()
    for e in logs.events():
        events[str((e.get("victim") or {}).get("comm") or e.get("kill_key"))] += 1
    return sent, events


@pytest.mark.parametrize(("step", "kind"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_fault_then_lambda_schedule_gives_one_message_and_one_event_per_kill(
    world: World, lam: Lambda, logs: LogCapture, monkeypatch: pytest.MonkeyPatch, step: str, kind: str
) -> None:
    # GIVEN a delivery of two kills, and a fault at one step of the first attempt (a release only
    # runs after a failed publish, so that case also fails the publish)
    also = ("publish", "throttle") if step == "release" else None
    outcomes = lam.schedule(delivery(world), arm(monkeypatch, step, kind, also))

    # THEN each kill was sent once and written once, whatever failed and however often it was retried
    sent, events = per_kill(world, logs)
    assert sorted(sent.values()) == [1, 1], (outcomes, sent)
    assert sorted(events.values()) == [1, 1], (outcomes, events)
    assert outcomes[-2:] == ["redelivered", "redelivered"]


def test_the_matrix_covers_every_step_and_kind() -> None:
    # Every step meets every kind of fault except where it cannot happen or is the named residual
    covered = {(s, k) for s, k in CASES}
    assert len(covered) == len(STEPS) * len(KINDS) - len(NOT_APPLICABLE) - len(RESIDUAL)
    assert {s for s, _ in CASES} == set(STEPS)


def test_death_between_publish_and_commit_is_the_one_documented_duplicate(
    world: World, lam: Lambda, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the runtime stops right after SNS accepted the first alert, before its commit reached DynamoDB
    outcomes = lam.schedule(delivery(world), arm(monkeypatch, "commit", "death"))

    # THEN Lambda's retry sends that alert again (a second message, never a lost one) and the other
    # once; no later redelivery sends a third; each event is still written once
    sent, events = per_kill(world, logs)
    assert outcomes[:2] == ["died", "ok"]
    assert sorted(sent.values()) == [1, 2]
    assert sorted(events.values()) == [1, 1]


def test_retry_after_a_death_while_sns_hangs_sends_the_alert(
    world: World, lam: Lambda, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SNS hangs until the function's timeout stops the runtime (the claim is left pending)
    event = delivery(world)
    remove = arm(monkeypatch, "publish", "death")()
    with pytest.raises(Death):
        lam.invoke(event, "req-1")
    remove()
    assert world.sent() == []

    # WHEN Lambda's first retry comes one minute later (inside the old 120 s lease), on a new container
    lam.clock.advance(60)
    lam.fresh()
    result = lam.invoke(event, "req-1")

    # THEN it recognises its own claims by the request id and sends both alerts now (on main it
    # dropped them as "in flight", and only a redelivery after the lease could send them)
    assert result["alerts"] == 2
    sent, _ = per_kill(world, logs)
    assert sorted(sent.values()) == [1, 1]


def test_throttled_done_write_then_redelivery_after_the_lease_sends_no_second_alert(
    world: World, lam: Lambda, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the publishes succeed but every "done" write of the first attempt is throttled (at the
    # DynamoDB call, so the test means the same on any version of the code)
    event = delivery(world)
    ddb = lam.rt.clients.dynamodb
    real_batch = ddb.batch_write_item

    def no_done(**kwargs: Any) -> Any:
        rows = [r["PutRequest"]["Item"] for rs in kwargs["RequestItems"].values() for r in rs]
        if rows and all(r.get("status", {}).get("S") == "done" and "occurrence" in r for r in rows):
            raise throttle()
        return real_batch(**kwargs)

    monkeypatch.setattr(ddb, "batch_write_item", no_done)

    def remove() -> None:
        monkeypatch.setattr(ddb, "batch_write_item", real_batch)

    lam.invoke(event, "req-1")
    remove()
    assert len(world.sent()) == 2
    # WHEN the same payload is delivered again after any lease has expired, to another container
    lam.clock.advance(600)
    lam.fresh()
    lam.invoke(event, "req-2")

    # THEN nothing is sent again: the claims were "sending", which only their owner may take over
    assert len(world.sent()) == 2
    items = client("dynamodb").scan(TableName="oomwatch-state")["Items"]
    assert {i["status"]["S"] for i in items if i["pk"]["S"].startswith("kill#")} == {"sending"}


def test_a_kill_that_cannot_be_rendered_is_isolated(
    world: World, lam: Lambda, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN rendering raises for one of the two kills (as a 400-digit figure once did)
    import service.logic.alert_text
    import service.logic.kills

    real = service.logic.alert_text.render_kill

    def poisoned(view: Any) -> Any:
        if (view.event.get("victim") or {}).get("comm") == "mysqld":
            raise OverflowError("int too large to convert")
        return real(view)

    monkeypatch.setattr(service.logic.kills, "render_kill", poisoned)

    # WHEN the delivery is handled, then redelivered
    assert lam.invoke(delivery(world), "req-1")["alerts"] == 2
    lam.clock.advance(600)
    lam.invoke(delivery(world), "req-2")

    # THEN the good kill goes out in full; the bad one in its minimal form; both events are kept
    by_process = {m.attributes.get("process"): m for m in world.sent()}
    assert set(by_process) == {"mysqld", "php-fpm8.1"}
    bad = by_process["mysqld"]
    assert "details could not be rendered" in bad.subject
    assert "Killed process" in bad.text and "(pid" in bad.text
    assert bad.doc["minimal"] is True
    assert "TOP MEMORY USERS" in by_process["php-fpm8.1"].text
    events = {e["victim"]["comm"]: e for e in logs.events()}
    assert set(events) == {"mysqld", "php-fpm8.1"}
    assert events["mysqld"]["render_error"] == "OverflowError"
