"""Claims of kills (``kill#<kill_key>``): which invocation sends a kill, and where the kill was counted.

The claim protocol is :mod:`service.logic.delivery`'s: a claim is ``pending`` (with an ``owner`` and a
``lease_until``), ``sending`` once its place in a window is written, ``done`` once its messages went out.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from service.dal.state.table import TRANSACT_MAX, Table
from service.dal.state.windows import Count
from service.models.attempt import Attempt

KILL_TTL_S = 2 * 86400  # longer than Lambda's maximum async event age (6 h)
LEASE_S = 65  # a claim's lease without a known owner deadline (the OOM function's timeout + skew)
CLAIM_ROUNDS = 3  # transactions per chunk before the contended kills are claimed one by one


class Claim(NamedTuple):
    """A kill this invocation owns; ``occurrence`` is set when an earlier attempt counted it."""

    occurrence: int | None = None
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    prev_count: int = 0
    instances: Sequence[str] = ()


class KillRecord(NamedTuple):
    """The final (or pending-publish) state of one kill, written after counting."""

    key: str
    place: Count
    done: bool
    outcome: str


class ClaimStore(Protocol):
    """The claims the kill pipeline makes (DynamoDB, or memory when DynamoDB fails)."""

    def claim_kills(
        self, keys: Sequence[str], now_s: float, attempt: Attempt | None = None
    ) -> dict[str, Claim | None]: ...

    def commit_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None: ...

    def save_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None: ...

    def release_kill(self, key: str) -> None: ...


def lease_until(now: int, attempt: Attempt | None) -> int:
    """When a claim made now by ``attempt`` may be taken over (its deadline, else :data:`LEASE_S` from now)."""
    return attempt.lease_until() if attempt else now + LEASE_S


def _free(old: Mapping[str, Any], me: str, now: int) -> bool:
    """Whether an existing claim may be taken over: pending with its lease ended (or this request's), or
    ``sending`` by this request (Lambda's retry of a failed attempt)."""
    mine = bool(me) and old.get("owner") == me
    expired = int(old.get("lease_until") or 0) < now or mine
    status = old.get("status")
    return (status == "pending" and expired) or (status == "sending" and mine)


class KillClaims:
    """The ``kill#`` items. Claims go in one transaction per 100 kills, results in one batch write."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_kills(self, keys: Sequence[str], now_s: float, attempt: Attempt | None = None) -> dict[str, Claim | None]:
        """Own each new kill (one transaction per 100); None for kills already sent or in flight.

        A transaction only creates claims. A pending claim whose lease ended (its owner is dead),
        or whose owner is this request (Lambda's retry of a failed attempt), is taken over one by
        one, keeping its occurrence (rule 1 of :mod:`service.logic.delivery`).
        """
        out: dict[str, Claim | None] = {}
        todo = list(dict.fromkeys(keys))
        for start in range(0, len(todo), TRANSACT_MAX):
            out.update(self._claim_chunk(todo[start : start + TRANSACT_MAX], now_s, attempt))
        return out

    def _claim_chunk(self, chunk: list[str], now_s: float, attempt: Attempt | None) -> dict[str, Claim | None]:
        now = int(now_s)
        me = attempt.request_id if attempt else ""
        lease = lease_until(now, attempt)
        out: dict[str, Claim | None] = {}
        for _ in range(CLAIM_ROUNDS):
            if not chunk:
                break
            cancelled = self._table.create_all([self._claim_item(k, now, lease, me) for k in chunk])
            if cancelled is None:
                out.update(dict.fromkeys(chunk, Claim()))
                chunk = []
                break
            retry = []
            for key, reason in zip(chunk, cancelled, strict=False):
                if reason.code == "ConditionalCheckFailed":
                    out[key] = self.claim_kill(key, now_s, attempt) if _free(reason.old, me, now) else None
                elif reason.code in (None, "None"):
                    retry.append(key)
                else:  # TransactionConflict, throttling: claim it on its own
                    out[key] = self.claim_kill(key, now_s, attempt)
            chunk = retry
        for key in chunk:  # still contended after retries
            out[key] = self.claim_kill(key, now_s, attempt)
        return out

    @staticmethod
    def _claim_item(key: str, now: int, lease: int, owner: str) -> dict[str, Any]:
        return {
            "pk": f"kill#{key}",
            "status": "pending",
            "lease_until": lease,
            "owner": owner or None,
            "expires_at": now + KILL_TTL_S,
        }

    def claim_kill(self, key: str, now_s: float, attempt: Attempt | None = None) -> Claim | None:
        """Own one kill, taking over a released or abandoned claim, or this request's own (keeping its occurrence)."""
        now = int(now_s)
        me = attempt.request_id if attempt else "-"
        old = self._table.update(
            f"kill#{key}",
            "SET #st = :pending, lease_until = :lease, #own = :me, expires_at = :exp",
            condition=(
                "attribute_not_exists(pk) OR (#st = :pending AND (lease_until < :now OR #own = :me))"
                " OR (#st = :sending AND #own = :me)"
            ),
            names={"#st": "status", "#own": "owner"},
            values_of={
                ":pending": "pending",
                ":sending": "sending",
                ":lease": lease_until(now, attempt),
                ":exp": now + KILL_TTL_S,
                ":now": now,
                ":me": me,
            },
            returns="ALL_OLD",
        )
        if old is None:
            return None
        if old.get("occurrence"):
            return Claim(
                occurrence=int(old["occurrence"]),
                window_start_ms=old.get("window_start"),
                window_end_ms=old.get("window_end"),
                prev_count=int(old.get("prev_count") or 0),
                instances=list(old.get("instances") or []),
            )
        return Claim()

    def save_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None:
        """Write each kill's place in its window (batched), so a retry re-sends the same alert.

        A kill with messages to send is ``sending`` from here on: only its owner's retry may take
        it over (it cannot know whether SNS took the message); a redelivery finds it in flight or sent.
        """
        self._put_kills(records, now_s, attempt)

    def commit_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None:
        """Rule 2 of :mod:`service.logic.delivery`: the kills' messages went out; record them done."""
        self._put_kills(records, now_s, attempt)

    def _put_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None) -> None:
        now = int(now_s)
        lease = lease_until(now, attempt)
        items = [
            {
                "pk": f"kill#{r.key}",
                "status": "done" if r.done else "sending",
                "lease_until": None if r.done else lease,
                "owner": attempt.request_id if attempt else None,
                "occurrence": r.place.occurrence,
                "window_start": r.place.window_start_ms,
                "window_end": r.place.window_end_ms,
                "prev_count": r.place.prev_count,
                "instances": set(sorted(r.place.instances)[:20]) or None,
                "outcome": r.outcome,
                "expires_at": now + KILL_TTL_S,
            }
            for r in records
        ]
        self._table.put_many(items, "kill records")

    def release_kill(self, key: str) -> None:
        """Give the claim back (publish failed) so the retried invocation, or any other, can send it."""
        self._table.update(
            f"kill#{key}",
            "SET lease_until = :zero, #st = :pending",
            names={"#st": "status"},
            values_of={":zero": 0, ":pending": "pending"},
        )
