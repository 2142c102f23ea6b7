"""The CLI's access to the mutes in the state table (the ``aws`` extra: ``pip install 'oomwatch[aws]'``).

boto3 is imported inside the functions that call AWS, never when ``oomwatch`` is imported: ``oomwatch scan`` stays
standard library only (``tests/unit/test_layers.py`` holds it). The item format is :mod:`oomwatch.mutes`'s.

Writes are optimistic: the index's ``ver`` is read, and the write (one TransactWriteItems: the index and the
``mute#<id>`` item) only succeeds if nobody wrote the index in between; a conflict is retried a few times.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from oomwatch.mutes import (
    DEFAULT_MAX_HOURS,
    INDEX_PK,
    ITEM_PREFIX,
    MAX_ACTIVE,
    MAX_BY,
    MAX_REASON,
    TTL_ATTRIBUTE,
    Mute,
    MuteError,
    from_index,
    keep,
)

INSTALL_HINT = "oomwatch mute needs boto3: pip install 'oomwatch[aws]'"
WRITE_ROUNDS = 4
STACK_TABLE_OUTPUT = "StateTableName"
STACK_MAX_OUTPUT = "MuteMaxHours"


def _boto3() -> Any:
    try:
        import boto3  # the aws extra; imported only here
    except ImportError:
        raise MuteError(INSTALL_HINT) from None
    return boto3


# ------------------------------------------------------------------------------------ DynamoDB's value form


def attr(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, Mapping):
        return {"M": {str(k): attr(v) for k, v in value.items()}}
    raise TypeError(f"no DynamoDB form for {type(value).__name__}")


def plain(raw: Mapping[str, Any]) -> Any:
    ((kind, inner),) = raw.items()
    if kind == "N":
        number = float(inner)
        return int(number) if number.is_integer() else number
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "NULL":
        return None
    return inner


# ------------------------------------------------------------------------------------------------ the store


class MuteStore:
    """The mutes of one state table. ``client`` is a boto3 DynamoDB client (tests pass moto's)."""

    def __init__(self, client: Any, table: str, max_hours: int = DEFAULT_MAX_HOURS) -> None:
        self._ddb = client
        self.table = table
        self.max_hours = max_hours

    def _index(self) -> tuple[list[Mute], int | None]:
        resp = self._ddb.get_item(TableName=self.table, Key={"pk": {"S": INDEX_PK}}, ConsistentRead=True)
        raw = resp.get("Item")
        if not raw:
            return [], None
        item = {k: plain(v) for k, v in raw.items()}
        ver = item.get("ver")
        return from_index(item), ver if isinstance(ver, int) else 0

    def mutes(self, now_s: float | None = None) -> list[Mute]:
        """The active mutes, oldest first."""
        now = time.time() if now_s is None else now_s
        mutes, _ = self._index()
        return [m for m in mutes if m.active(now, self.max_hours)]

    def _write(self, change: Callable[[list[Mute]], tuple[list[Mute], dict[str, Any]]]) -> None:
        """Apply ``change`` to the index (it returns the new list and the ``mute#`` request), conflicts retried."""
        _boto3()  # the import check, before any call
        from botocore.exceptions import ClientError

        for _ in range(WRITE_ROUNDS):
            mutes, ver = self._index()
            new_list, other = change(mutes)
            index = {
                "pk": INDEX_PK,
                "ver": (ver or 0) + 1,
                "mutes": {m.id: m.fields() for m in new_list},
            }
            put: dict[str, Any] = {"TableName": self.table, "Item": {k: attr(v) for k, v in index.items()}}
            if ver is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "ver = :v"
                put["ExpressionAttributeValues"] = {":v": {"N": str(ver)}}
            try:
                self._ddb.transact_write_items(TransactItems=[{"Put": put}, other])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                    continue  # another writer came first: read again
                raise
            return
        raise MuteError("the mutes changed under this command several times: try again")

    def set(self, kind: str, value: str, seconds: int, reason: str, by: str, now_s: float | None = None) -> Mute:
        """A new mute from now for ``seconds``; refused beyond :data:`MAX_ACTIVE` active mutes."""
        now = int(time.time() if now_s is None else now_s)
        reason = " ".join((reason or "").split())
        if not reason:
            raise MuteError("--reason is required: say why the kills are muted")
        if len(reason) > MAX_REASON:
            raise MuteError(f"--reason: at most {MAX_REASON} characters")
        if seconds > self.max_hours * 3600:
            raise MuteError(f"--for: longer than the maximum of {self.max_hours}h (setting mute_max_hours)")
        mute = Mute(f"m-{secrets.token_hex(4)}", kind, value, now, now + seconds, reason, (by or "unknown")[:MAX_BY])

        def change(mutes: list[Mute]) -> tuple[list[Mute], dict[str, Any]]:
            active = [m for m in mutes if m.active(now, self.max_hours)]
            if len(active) >= MAX_ACTIVE:
                raise MuteError(f"{len(active)} mutes are active, the most there may be: unmute one first")
            item = {"pk": ITEM_PREFIX + mute.id, **mute.fields(), TTL_ATTRIBUTE: mute.end}
            return [*keep(mutes, now), mute], {"Put": {"TableName": self.table, "Item": attr(item)["M"]}}

        self._write(change)
        return mute

    def remove(self, mute_id: str, now_s: float | None = None) -> Mute:
        """End an active mute now (the digest run announces it); MuteError for an id with none."""
        now = int(time.time() if now_s is None else now_s)
        found: list[Mute] = []

        def change(mutes: list[Mute]) -> tuple[list[Mute], dict[str, Any]]:
            match = next((m for m in mutes if m.id == mute_id and m.active(now, self.max_hours)), None)
            if match is None:
                raise MuteError(f"no active mute {mute_id} (oomwatch mutes lists them)")
            found[:] = [match.removed_at(now)]
            kept = [found[0] if m.id == mute_id else m for m in keep(mutes, now)]
            return kept, {"Delete": {"TableName": self.table, "Key": {"pk": {"S": ITEM_PREFIX + mute_id}}}}

        self._write(change)
        return found[0]


def caller(session: Any | None = None) -> str:
    """Who sets a mute: the caller's ARN (sts:GetCallerIdentity), else $USER."""
    try:
        sts = (session or _boto3()).client("sts")
        return str(sts.get_caller_identity()["Arn"])
    except MuteError:
        raise
    except Exception:
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def connect(
    table: str | None, stack: str, region: str | None = None, client: Callable[[str], Any] | None = None
) -> MuteStore:
    """The store of ``table``, or of the stack's state table (its outputs name the table and MuteMaxHours).

    ``client`` makes a boto3 client by service name (the demo passes its emulator's); else a session's."""
    if client is None:
        client = _boto3().session.Session(region_name=region).client
    outputs: dict[str, str] = {}
    try:
        stacks = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    except Exception as exc:
        if table is None:
            raise MuteError(f"stack {stack} not found or unreadable ({type(exc).__name__}): pass --table") from None
    name = table or outputs.get(STACK_TABLE_OUTPUT)
    if not name:
        raise MuteError(f"stack {stack} has no {STACK_TABLE_OUTPUT} output: pass --table")
    try:
        max_hours = int(outputs.get(STACK_MAX_OUTPUT) or DEFAULT_MAX_HOURS)
    except ValueError:
        max_hours = DEFAULT_MAX_HOURS
    return MuteStore(client("dynamodb"), name, max_hours)
