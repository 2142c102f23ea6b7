"""Noise control, idempotency and "last kill per instance" in one DynamoDB table.

Table: partition key ``pk`` (S), no sort key, TTL attribute ``expires_at`` (epoch seconds).

=====================================  ==========================================================
item ``pk``                            purpose
=====================================  ==========================================================
``kill#<kill_key>``                    claim of one kill (``service.logic.delivery``): ``status``
                                       pending|sending|done, ``owner``, ``lease_until``; once
                                       counted also ``occurrence``,
                                       ``window_start``, ``window_end``, ``prev_count``
``fp#<fingerprint>``                   head of a noise fingerprint: the current window's
                                       ``window_start`` / ``window_end`` (ms)
``win#<fingerprint>#<window_start>``   one noise window: atomic ``count``, ``instances`` (SS),
                                       ``top`` (largest victims), ``critical``; the digest job
                                       sets ``digest_state`` sending|sent
``last#<instance_id>``                 the latest kill on an instance (for memory-alarm notices)
``stash#<hash(group, stream)>``        log_mode=oom: the unfinished report at the end of a
                                       delivery, for the stream's next one (5 minutes)
``notice#<alarm>#<instance_id>``       claim of a memory/swap notice: ``status`` pending|sent,
                                       ``owner``, ``lease_until``, ``notified_at``
``rollout#<instance_id>``              the rollout failure kinds already announced for a host
                                       (``kinds`` SS, ``failed_at``); deleted when the host's
                                       association succeeds again (30 days' TTL, refreshed)
``coverage#fleet``                     the last coverage check: ``checked_at``, ``silent`` (list
                                       of instance ids) (7 days' TTL, refreshed)
=====================================  ==========================================================

Every write that decides something is conditional or an atomic counter, so concurrent
invocations (one per log stream) and retried ones agree on which kill is "the first".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from service.dal.clients import Clients
from service.logic.delivery import Attempt
from service.logic.severity import Fingerprint

KILL_TTL_S = 2 * 86400  # longer than Lambda's maximum async event age (6 h)
LEASE_S = 65  # a claim's lease without a known owner deadline (the OOM function's timeout + skew)
WINDOW_TTL_S = 3 * 86400
LAST_KILL_TTL_S = 30 * 86400
TOP_KEEP = 5
DIGEST_STALE_S = 600
ROLLOUT_TTL_S = 30 * 86400  # a failing host re-runs daily and refreshes it; a terminated one expires
COVERAGE_TTL_S = 7 * 86400
NOTICE_QUIET_S = 3600  # one memory/swap notice per instance and alarm per hour
STASH_TTL_S = 300  # a report split across deliveries arrives within seconds; 5 minutes is ample
STASH_MAX_LINES = 1500  # a task table of ~1,400 processes
# DynamoDB's item limit is 400 KB (409,600 bytes) counted in UTF-8 with every attribute name: the rows may take
# 350,000 of them (stash_row_bytes), so a stash of 4-byte characters or 1,500 tiny rows still fits.
STASH_MAX_BYTES = 350_000


def _stash_key(log_group: str, stream: str) -> str:
    import hashlib

    return "stash#" + hashlib.sha256(f"{log_group}\x1f{stream}".encode()).hexdigest()[:40]


def _number_bytes(n: int) -> int:
    """DynamoDB's size of a number: about one byte per two significant digits, plus one."""
    return (len(str(abs(n)).rstrip("0") or "0") + 1) // 2 + 1


def stash_row_bytes(event: Mapping[str, Any]) -> int:
    """The DynamoDB size of one row as :meth:`DynamoState.put_stash` stores it (a map of i, t and m, in a list).

    Sizes per the developer guide ("Item sizes and formats"): strings in UTF-8 bytes, a map 3 bytes plus
    1 per element and its names, a list element 1 byte.
    """
    ident = str(event.get("id", ""))[:80]
    message = str(event.get("message", ""))
    overhead = 1 + 3 + 3 * (1 + 1)  # list element, map, and per element one byte and its one-letter name
    return (
        overhead
        + len(ident.encode("utf-8", "surrogatepass"))
        + _number_bytes(int(event.get("timestamp") or 0))
        + len(message.encode("utf-8", "surrogatepass"))
    )


_ser = TypeSerializer()
_des = TypeDeserializer()


def _value(v: Any) -> dict[str, Any]:
    """DynamoDB attribute value of the simple types used here (boto3's TypeSerializer is ~20x slower)."""
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, int):
        return {"N": str(v)}
    if v is None:
        return {"NULL": True}
    if isinstance(v, Mapping):
        return {"M": {str(k): _value(x) for k, x in v.items()}}
    if isinstance(v, set | frozenset) and all(isinstance(x, str) for x in v):
        return {"SS": sorted(v)}
    return dict(_ser.serialize(v))


def _item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in values.items() if v is not None}


def _plain(item: Mapping[str, Any] | None) -> dict[str, Any]:
    if not item:
        return {}
    return {k: _plain_value(v) for k, v in item.items()}


def _plain_value(value: Any) -> Any:
    """``_num(TypeDeserializer().deserialize(value))``, without boto3 for the simple types used here."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "S" or kind == "BOOL":
            return raw
        if kind == "N" and isinstance(raw, str) and 0 < len(raw) <= 30 and raw.isascii():
            digits = raw[1:] if raw[0] == "-" else raw
            if digits.isdigit():
                return int(raw)
        elif kind == "M" and isinstance(raw, dict):
            return {k: _plain_value(v) for k, v in raw.items()}
        elif kind == "SS" and isinstance(raw, list):
            return sorted(set(raw))
        elif kind == "NULL":
            return None
    return _num(_des.deserialize(value))


def _num(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; everything here is integral."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _num(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(value)
    return value


def _conditional_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class Claim(NamedTuple):
    """A kill this invocation owns; ``occurrence`` is set when an earlier attempt counted it."""

    occurrence: int | None = None
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    prev_count: int = 0
    instances: Sequence[str] = ()


class Count(NamedTuple):
    occurrence: int
    window_start_ms: int
    window_end_ms: int
    instances: Sequence[str]
    prev_count: int = 0
    first_ms: int | None = None  # the window's first kill (its log time), when the store returns it


class VictimSummary(NamedTuple):
    kill_key: str
    comm: str
    pid: int | None
    rss_kb: int | None
    where: str  # instance id, else host
    time_ms: int
    critical: bool

    def as_item(self) -> dict[str, Any]:
        return {
            "comm": self.comm[:64],
            "pid": self.pid,
            "rss_kb": self.rss_kb,
            "where": self.where[:64],
            "time_ms": self.time_ms,
        }


class KillRecord(NamedTuple):
    """The final (or pending-publish) state of one kill, written after counting."""

    key: str
    place: Count
    done: bool
    outcome: str


class KillState(Protocol):
    """What the pipeline needs from the state store (DynamoDB, or memory when DynamoDB fails)."""

    durable: bool

    def claim_kills(
        self, keys: Sequence[str], now_s: float, attempt: Attempt | None = None
    ) -> dict[str, Claim | None]: ...

    def count_kills(
        self,
        fp: Fingerprint,
        now_s: float,
        window_s: int,
        victims: Sequence[VictimSummary],
        attempt: Attempt | None = None,
    ) -> list[Count]: ...

    def commit_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None: ...

    def save_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None: ...

    def release_kill(self, key: str) -> None: ...


def _top(victims: Iterable[tuple[str, Mapping[str, Any]]], keep: int = TOP_KEEP) -> dict[str, Mapping[str, Any]]:
    """The ``keep`` largest victims by RSS (each kill once)."""
    unique = dict(victims)
    ranked = sorted(unique.items(), key=lambda kv: -int(kv[1].get("rss_kb") or 0))
    return dict(ranked[:keep])


class DynamoState:
    """All reads and writes of the state table. One invocation costs a handful of calls whatever
    the number of kills in it: claims go in one transaction, a fingerprint's kills in one atomic
    counter update, results in one batch write."""

    durable = True

    def __init__(self, clients: Clients, table: str, events_log_group: str | None = None) -> None:
        self._clients = clients
        self._table = table
        self._events_group = events_log_group or "-"
        self._heads: dict[str, tuple[int, int]] = {}  # per-invocation cache of fingerprint heads

    def new_invocation(self) -> None:
        self._heads.clear()

    @property
    def _ddb(self) -> Any:
        return self._clients.dynamodb

    # ------------------------------------------------------------------ idempotency

    def claim_kills(self, keys: Sequence[str], now_s: float, attempt: Attempt | None = None) -> dict[str, Claim | None]:
        """Own each new kill (one transaction per 100); None for kills already sent or in flight.

        A transaction only creates claims. A pending claim whose lease ended (its owner is dead),
        or whose owner is this request (Lambda's retry of a failed attempt), is taken over one by
        one, keeping its occurrence (rule 1 of :mod:`service.logic.delivery`).
        """
        now = int(now_s)
        me = attempt.request_id if attempt else ""
        lease = attempt.lease_until() if attempt else now + LEASE_S
        out: dict[str, Claim | None] = {}
        todo = list(dict.fromkeys(keys))
        for start in range(0, len(todo), 100):
            chunk = todo[start : start + 100]
            for _ in range(3):
                if not chunk:
                    break
                try:
                    self._ddb.transact_write_items(TransactItems=[self._claim_put(k, now, lease, me) for k in chunk])
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                        raise
                    reasons = exc.response.get("CancellationReasons") or []
                    retry = []
                    for key, reason in zip(chunk, reasons, strict=False):
                        code = reason.get("Code")
                        if code == "ConditionalCheckFailed":
                            old = _plain(reason.get("Item"))
                            mine = bool(me) and old.get("owner") == me
                            expired = int(old.get("lease_until") or 0) < now or mine
                            status = old.get("status")
                            free = (status == "pending" and expired) or (status == "sending" and mine)
                            out[key] = self.claim_kill(key, now_s, attempt) if free else None
                        elif code in (None, "None"):
                            retry.append(key)
                        else:  # TransactionConflict, throttling: claim it on its own
                            out[key] = self.claim_kill(key, now_s, attempt)
                    chunk = retry
                    continue
                for key in chunk:
                    out[key] = Claim()
                chunk = []
            for key in chunk:  # still contended after retries
                out[key] = self.claim_kill(key, now_s, attempt)
        return out

    def _claim_put(self, key: str, now: int, lease: int, owner: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": _item(
                    {
                        "pk": f"kill#{key}",
                        "status": "pending",
                        "lease_until": lease,
                        "owner": owner or None,
                        "expires_at": now + KILL_TTL_S,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def claim_kill(self, key: str, now_s: float, attempt: Attempt | None = None) -> Claim | None:
        """Own one kill, taking over a released or abandoned claim, or this request's own (keeping its occurrence)."""
        now = int(now_s)
        me = attempt.request_id if attempt else "-"
        lease = attempt.lease_until() if attempt else now + LEASE_S
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"kill#{key}"}),
                UpdateExpression="SET #st = :pending, lease_until = :lease, #own = :me, expires_at = :exp",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#st = :pending AND (lease_until < :now OR #own = :me))"
                    " OR (#st = :sending AND #own = :me)"
                ),
                ExpressionAttributeNames={"#st": "status", "#own": "owner"},
                ExpressionAttributeValues=_item(
                    {
                        ":pending": "pending",
                        ":sending": "sending",
                        ":lease": lease,
                        ":exp": now + KILL_TTL_S,
                        ":now": now,
                        ":me": me,
                    }
                ),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        old = _plain(resp.get("Attributes"))
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
        lease = attempt.lease_until() if attempt else now + LEASE_S
        requests = []
        for r in records:
            item = {
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
            requests.append({"PutRequest": {"Item": _item(item)}})
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            for _ in range(5):
                resp = self._ddb.batch_write_item(RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}
                if not pending:
                    break
            if pending:
                raise RuntimeError("DynamoDB left kill records unprocessed")

    def release_kill(self, key: str) -> None:
        """Give the claim back (publish failed) so the retried invocation, or any other, can send it."""
        self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": f"kill#{key}"}),
            UpdateExpression="SET lease_until = :zero, #st = :pending",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=_item({":zero": 0, ":pending": "pending"}),
        )

    # ------------------------------------------------------------------ noise windows

    def count_kills(
        self,
        fp: Fingerprint,
        now_s: float,
        window_s: int,
        victims: Sequence[VictimSummary],
        attempt: Attempt | None = None,
    ) -> list[Count]:
        """Add the kills to the fingerprint's current window (opening one if none is open).

        One atomic ``ADD count :n`` numbers them: if it returns C, they are C-n+1 .. C. The update
        records its request id (``last_owner``): Lambda's retry of an attempt that died after
        counting finds its own count there, and is not counted twice.
        """
        n = len(victims)
        now_ms = int(now_s * 1000)
        for _ in range(4):
            head = self._heads.get(fp.key)
            prev_count = 0
            if head is None or head[1] <= now_ms:
                head = self._get_head(fp.key)
            if head is None or head[1] <= now_ms:
                opened = self._open_window(fp.key, now_ms, window_s)
                if opened is None:  # another invocation opened it first: read it again
                    self._heads.pop(fp.key, None)
                    continue
                head, old = opened
                if old is not None and old[1] >= now_ms - window_s * 1000:
                    prev_count = self._window_count(fp.key, old[0])
            self._heads[fp.key] = head
            attrs = self._add(fp, head, now_ms, victims, attempt.request_id if attempt else "")
            if attrs is None:  # that window's digest already started: it is closed
                self._heads.pop(fp.key, None)
                self._close_head(fp.key, head)
                continue
            total = int(attrs.get("count") or n)
            if total > n or n > 1:
                self._update_top(fp.key, head[0], attrs.get("top") or {}, victims)
            instances = list(attrs.get("instances") or [])
            first_ms = attrs.get("first_ms")
            first = int(first_ms) if isinstance(first_ms, int | float) else None
            return [
                Count(total - n + 1 + i, head[0], head[1], instances, prev_count if total - n + i == 0 else 0, first)
                for i in range(n)
            ]
        # Contention that never settled: treat them as new (an extra alert beats a lost one).
        end = now_ms + window_s * 1000
        return [Count(i + 1, now_ms, end, sorted({v.where for v in victims})) for i in range(n)]

    def _get_head(self, fp_key: str) -> tuple[int, int] | None:
        resp = self._ddb.get_item(TableName=self._table, Key=_item({"pk": f"fp#{fp_key}"}), ConsistentRead=True)
        item = _plain(resp.get("Item"))
        if not item:
            return None
        return int(item["window_start"]), int(item["window_end"])

    def _open_window(
        self, fp_key: str, now_ms: int, window_s: int
    ) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
        end = now_ms + window_s * 1000
        try:
            resp = self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"fp#{fp_key}",
                        "window_start": now_ms,
                        "window_end": end,
                        "expires_at": end // 1000 + WINDOW_TTL_S,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR window_end <= :now",
                ExpressionAttributeValues=_item({":now": now_ms}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        old = _plain(resp.get("Attributes"))
        previous = (int(old["window_start"]), int(old["window_end"])) if old else None
        return (now_ms, end), previous

    def _close_head(self, fp_key: str, head: tuple[int, int]) -> None:
        """End a head whose window was already digested, so the next kill opens a new one."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"fp#{fp_key}"}),
                UpdateExpression="SET window_end = :start",
                ConditionExpression="window_start = :start",
                ExpressionAttributeValues=_item({":start": head[0]}),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def _window_count(self, fp_key: str, start_ms: int) -> int:
        resp = self._ddb.get_item(
            TableName=self._table,
            Key=_item({"pk": f"win#{fp_key}#{start_ms}"}),
            ProjectionExpression="#c",
            ExpressionAttributeNames={"#c": "count"},
        )
        return int(_plain(resp.get("Item")).get("count") or 0)

    def _add(
        self, fp: Fingerprint, head: tuple[int, int], now_ms: int, victims: Sequence[VictimSummary], owner: str = ""
    ) -> dict[str, Any] | None:
        start, end = head
        first_top = _top((v.kill_key, v.as_item()) for v in victims)
        me = owner or "-"
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"win#{fp.key}#{start}"}),
                UpdateExpression=(
                    "ADD #c :n, instances :inst, critical :crit "
                    "SET fingerprint = :fp, #scope = :scope, #src = :src, subject = :subj, label = :label, "
                    "window_start = :ws, window_end = :we, expires_at = :exp, last_ms = :last, "
                    "first_ms = if_not_exists(first_ms, :first), top = if_not_exists(top, :top), events_group = :eg, "
                    "last_owner = :me, last_n = :n"
                ),
                ConditionExpression="attribute_not_exists(digest_state)"
                + (" AND (attribute_not_exists(last_owner) OR last_owner <> :me)" if owner else ""),
                ExpressionAttributeNames={"#c": "count", "#scope": "scope", "#src": "source"},
                ExpressionAttributeValues=_item(
                    {
                        ":n": len(victims),
                        ":inst": {v.where or "unknown" for v in victims},
                        ":crit": sum(1 for v in victims if v.critical),
                        ":fp": fp.key,
                        ":scope": fp.scope,
                        ":src": fp.source,
                        ":subj": fp.subject[:200],
                        ":label": fp.label[:300],
                        ":ws": start,
                        ":we": end,
                        ":exp": end // 1000 + WINDOW_TTL_S,
                        ":first": min(v.time_ms for v in victims),
                        ":last": max(v.time_ms for v in victims),
                        ":top": first_top,
                        ":eg": self._events_group,
                        ":me": me,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            item = _plain(
                self._ddb.get_item(
                    TableName=self._table, Key=_item({"pk": f"win#{fp.key}#{start}"}), ConsistentRead=True
                ).get("Item")
            )
            if not owner or item.get("digest_state"):
                return None  # the window's digest started: it is closed
            if item.get("last_owner") == me and int(item.get("last_n") or 0) == len(victims):
                return item  # this request's own count, from an attempt that died before saving it
            return self._add(fp, head, now_ms, victims)
        return _plain(resp.get("Attributes"))

    def _update_top(self, fp_key: str, start: int, top: Mapping[str, Any], victims: Sequence[VictimSummary]) -> None:
        """Keep the window's largest victims (best effort: a race may keep one or two extra)."""
        current = {k: v for k, v in top.items() if isinstance(v, Mapping)}
        wanted = _top([*current.items(), *((v.kill_key, v.as_item()) for v in victims if v.rss_kb is not None)])
        add = {k: v for k, v in wanted.items() if k not in current}
        drop = [k for k in current if k not in wanted]
        if not add and not drop:
            return
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets = []
        for i, (k, v) in enumerate(add.items()):
            names[f"#a{i}"] = k
            values[f":a{i}"] = v
            sets.append(f"top.#a{i} = :a{i}")
        removes = []
        for i, k in enumerate(drop):
            names[f"#d{i}"] = k
            removes.append(f"top.#d{i}")
        expr = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
        self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": f"win#{fp_key}#{start}"}),
            UpdateExpression=expr.strip(),
            ExpressionAttributeNames=names,
            **({"ExpressionAttributeValues": _item(values)} if values else {}),
        )

    # ------------------------------------------------------------------ per-stream stash (log_mode=oom)

    def put_stash(self, log_group: str, stream: str, events: Sequence[Mapping[str, Any]], now_s: float) -> None:
        """Keep the unfinished report at the end of a delivery for the stream's next delivery."""
        now = int(now_s)
        rows = [{"i": str(e.get("id", ""))[:80], "t": int(e.get("timestamp") or 0), "m": str(e.get("message", ""))}
                for e in events]  # fmt: skip
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _stash_key(log_group, stream)},
                "rows": _ser.serialize(rows),
                "until": {"N": str(now + STASH_TTL_S)},
                "expires_at": {"N": str(now + STASH_TTL_S)},
            },
        )

    def get_stash(self, log_group: str, stream: str, now_s: float) -> list[dict[str, Any]]:
        resp = self._ddb.get_item(
            TableName=self._table, Key=_item({"pk": _stash_key(log_group, stream)}), ConsistentRead=True
        )
        item = resp.get("Item")
        if not item or int(_plain_value(item.get("until", {"N": "0"})) or 0) < int(now_s):
            return []  # TTL deletion is lazy: an old stash is ignored
        rows = _num(_des.deserialize(item["rows"])) if "rows" in item else []
        return [{"id": r.get("i", ""), "timestamp": int(r.get("t") or 0), "message": r.get("m", "")} for r in rows]

    # ------------------------------------------------------------------ last kill per instance

    def put_last_kill(self, instance_id: str, summary: Mapping[str, Any], now_s: float) -> None:
        item = {**summary, "pk": f"last#{instance_id}", "expires_at": int(now_s) + LAST_KILL_TTL_S}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(item),
                ConditionExpression="attribute_not_exists(pk) OR time_ms <= :t",
                ExpressionAttributeValues=_item({":t": int(summary["time_ms"])}),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def last_kills(self, instance_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(instance_ids))
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 100):
            keys: list[dict[str, Any]] = [_item({"pk": f"last#{i}"}) for i in ids[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            for _ in range(5):
                resp = self._ddb.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self._table, []):
                    item = _plain(raw)
                    out[str(item["pk"]).split("#", 1)[1]] = item
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
        return out

    # ------------------------------------------------------------------ alarm notices

    def claim_notice(
        self, alarm: str, instance_id: str, now_s: float, quiet_s: int = NOTICE_QUIET_S, attempt: Attempt | None = None
    ) -> bool:
        """Own the notice for this instance and alarm: True unless one named it in the last ``quiet_s``
        seconds or another live invocation is sending it.

        The alarm rule delivers both the alarm-level and the per-contributor events; this keeps
        one notice per instance and alarm episode, whichever event arrives first. The claim is
        ``pending`` until :meth:`commit_notice` (after the publish) or :meth:`release_notice`.
        """
        now = int(now_s)
        me = attempt.request_id if attempt else "-"
        lease = attempt.lease_until() if attempt else now + LEASE_S
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"notice#{alarm}#{instance_id}",
                        "notified_at": now,
                        "status": "pending",
                        "owner": me,
                        "lease_until": lease,
                        "expires_at": now + quiet_s,
                    }
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#st = :pending AND (lease_until < :now OR #own = :me))"
                    " OR (#st <> :pending AND notified_at < :cut)"
                ),
                ExpressionAttributeNames={"#st": "status", "#own": "owner"},
                ExpressionAttributeValues=_item({":cut": now - quiet_s, ":pending": "pending", ":now": now, ":me": me}),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def commit_notice(self, alarm: str, instance_id: str, now_s: float, quiet_s: int = NOTICE_QUIET_S) -> None:
        now = int(now_s)
        self._ddb.put_item(
            TableName=self._table,
            Item=_item(
                {
                    "pk": f"notice#{alarm}#{instance_id}",
                    "notified_at": now,
                    "status": "sent",
                    "expires_at": now + quiet_s,
                }
            ),
        )

    def release_notice(self, alarm: str, instance_id: str, attempt: Attempt | None = None) -> None:
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=_item({"pk": f"notice#{alarm}#{instance_id}"}),
                ConditionExpression="#st = :pending AND #own = :me",
                ExpressionAttributeNames={"#st": "status", "#own": "owner"},
                ExpressionAttributeValues=_item({":pending": "pending", ":me": attempt.request_id if attempt else "-"}),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # ------------------------------------------------------------------ rollout notices

    def claim_rollout_failure(self, instance_id: str, kind: str, now_s: float) -> bool:
        """Record that ``kind`` was announced for this host: False if it already was (no new notice)."""
        now = int(now_s)
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"rollout#{instance_id}"}),
                UpdateExpression="ADD kinds :ks SET failed_at = :now, expires_at = :exp",
                ConditionExpression="attribute_not_exists(kinds) OR NOT contains(kinds, :k)",
                ExpressionAttributeValues=_item({":ks": {kind}, ":k": kind, ":now": now, ":exp": now + ROLLOUT_TTL_S}),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_rollout_failure(self, instance_id: str, kind: str) -> None:
        """Undo :meth:`claim_rollout_failure` when the notice could not be published (Lambda retries)."""
        self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": f"rollout#{instance_id}"}),
            UpdateExpression="DELETE kinds :ks",
            ExpressionAttributeValues=_item({":ks": {kind}}),
        )

    def rollout_failures(self, instance_id: str) -> list[str]:
        """The failure kinds announced for this host since it last succeeded (consistent read)."""
        resp = self._ddb.get_item(
            TableName=self._table, Key=_item({"pk": f"rollout#{instance_id}"}), ConsistentRead=True
        )
        kinds = _plain(resp.get("Item")).get("kinds") or []
        return [str(k) for k in kinds]

    def clear_rollout(self, instance_id: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key=_item({"pk": f"rollout#{instance_id}"}))

    def claim_coverage(self, now_s: float, interval_s: int) -> list[str] | None:
        """Start a coverage check unless one ran in the last ``interval_s``: the previous silent set, or None."""
        now = int(now_s)
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": "coverage#fleet"}),
                UpdateExpression="SET checked_at = :now, expires_at = :exp",
                ConditionExpression="attribute_not_exists(checked_at) OR checked_at <= :cut",
                ExpressionAttributeValues=_item({":now": now, ":cut": now - interval_s, ":exp": now + COVERAGE_TTL_S}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        silent = _plain(resp.get("Attributes")).get("silent") or []
        return [str(i) for i in silent]

    def save_coverage(self, silent: Iterable[str], now_s: float) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": "coverage#fleet"}),
            UpdateExpression="SET silent = :s, expires_at = :exp",
            ExpressionAttributeValues={
                ":s": {"L": [{"S": i} for i in sorted(silent)]},
                ":exp": {"N": str(int(now_s) + COVERAGE_TTL_S)},
            },
        )

    # ------------------------------------------------------------------ digests

    def due_windows(self, now_s: float, grace_s: int = 30, attempt: Attempt | None = None) -> Iterator[dict[str, Any]]:
        """Windows that ended (with a grace period), folded kills, and no digest sent yet.

        A window whose digest is ``sending`` is due again when its sender is dead (lease ended) or
        is this request (Lambda's retry of a failed run).
        """
        now = int(now_s * 1000)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": (
                "begins_with(pk, :w) AND window_end <= :due AND #c >= :two AND "
                "(attribute_not_exists(digest_state) OR (digest_state = :sending AND "
                "(digest_at < :stale OR digest_lease < :nows OR digest_owner = :me)))"
            ),
            "ExpressionAttributeNames": {"#c": "count"},
            "ExpressionAttributeValues": _item(
                {
                    ":w": "win#",
                    ":due": now - grace_s * 1000,
                    ":two": 2,
                    ":sending": "sending",
                    ":stale": now - DIGEST_STALE_S * 1000,
                    ":nows": int(now_s),
                    ":me": attempt.request_id if attempt else "-",
                }
            ),
        }
        while True:
            resp = self._ddb.scan(**kwargs)
            for raw in resp.get("Items", []):
                yield _plain(raw)
            key = resp.get("LastEvaluatedKey")
            if not key:
                return
            kwargs["ExclusiveStartKey"] = key

    def claim_digest(self, pk: str, now_s: float, attempt: Attempt | None = None) -> bool:
        now = int(now_s * 1000)
        me = attempt.request_id if attempt else "-"
        lease = attempt.lease_until() if attempt else int(now_s) + LEASE_S
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": pk}),
                UpdateExpression=(
                    "SET digest_state = :sending, digest_at = :now, digest_owner = :me, digest_lease = :lease"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(digest_state) OR "
                    "(digest_state = :sending AND (digest_at < :stale OR digest_lease < :nows OR digest_owner = :me)))"
                ),
                ExpressionAttributeValues=_item(
                    {
                        ":sending": "sending",
                        ":now": now,
                        ":stale": now - DIGEST_STALE_S * 1000,
                        ":me": me,
                        ":lease": lease,
                        ":nows": int(now_s),
                    }
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def finish_digest(self, pk: str, now_s: float) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": pk}),
            UpdateExpression="SET digest_state = :sent, digest_at = :now",
            ExpressionAttributeValues=_item({":sent": "sent", ":now": int(now_s * 1000)}),
        )

    def release_digest(self, pk: str) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": pk}),
            UpdateExpression="REMOVE digest_state, digest_at, digest_lease",
        )


class MemoryState:
    """Degraded-mode noise control for when DynamoDB fails: this container's memory only.

    It still folds a storm handled by one warm container into one alert per window, and still
    drops duplicate deliveries it has seen; it cannot coordinate with other containers or send
    digests, and the alert says so.
    """

    durable = False

    def __init__(self, max_keys: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._kills: OrderedDict[str, tuple[str, str, float]] = OrderedDict()  # status, owner, lease
        self._windows: dict[str, tuple[int, int, int, set[str]]] = {}
        self._max = max_keys

    def claim_kills(self, keys: Sequence[str], now_s: float, attempt: Attempt | None = None) -> dict[str, Claim | None]:
        out: dict[str, Claim | None] = {}
        me = attempt.request_id if attempt else ""
        lease = float(attempt.lease_until()) if attempt else now_s + LEASE_S
        with self._lock:
            for key in keys:
                old = self._kills.get(key)
                mine = bool(me) and old is not None and old[1] == me
                if old is not None and (old[0] == "done" or (old[0] == "sending" and not mine)
                                        or (old[2] >= now_s and not mine)):  # fmt: skip
                    out[key] = None
                    continue
                self._kills[key] = ("pending", me, lease)
                self._kills.move_to_end(key)
                out[key] = Claim()
            while len(self._kills) > self._max:
                self._kills.popitem(last=False)
        return out

    def count_kills(
        self,
        fp: Fingerprint,
        now_s: float,
        window_s: int,
        victims: Sequence[VictimSummary],
        attempt: Attempt | None = None,
    ) -> list[Count]:
        now = int(now_s * 1000)
        with self._lock:
            start, end, count, instances = self._windows.get(fp.key, (0, 0, 0, set()))
            if end <= now:
                start, end, count, instances = now, now + window_s * 1000, 0, set()
            first = count + 1
            count += len(victims)
            instances = instances | {v.where for v in victims}
            self._windows[fp.key] = (start, end, count, instances)
        return [Count(first + i, start, end, sorted(instances)) for i in range(len(victims))]

    def save_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None:
        me = attempt.request_id if attempt else ""
        lease = float(attempt.lease_until()) if attempt else now_s + LEASE_S
        with self._lock:
            for r in records:
                self._kills[r.key] = ("done", me, 0.0) if r.done else ("sending", me, lease)
                self._kills.move_to_end(r.key)

    def commit_kills(self, records: Sequence[KillRecord], now_s: float, attempt: Attempt | None = None) -> None:
        self.save_kills(records, now_s, attempt)

    def release_kill(self, key: str) -> None:
        with self._lock:
            self._kills.pop(key, None)
