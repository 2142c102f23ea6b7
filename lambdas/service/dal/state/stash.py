"""The per-stream stash (``stash#<hash(group, stream)>``, log_mode=oom): the unfinished report at the end of
a delivery, for the stream's next one (5 minutes)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from service.dal.state.table import Table

STASH_TTL_S = 300  # a report split across deliveries arrives within seconds; 5 minutes is ample
STASH_MAX_LINES = 1500  # a task table of ~1,400 processes
# DynamoDB's item limit is 400 KB (409,600 bytes) counted in UTF-8 with every attribute name: the rows may take
# 350,000 of them (stash_row_bytes), so a stash of 4-byte characters or 1,500 tiny rows still fits.
STASH_MAX_BYTES = 350_000


def _stash_key(log_group: str, stream: str) -> str:
    return "stash#" + hashlib.sha256(f"{log_group}\x1f{stream}".encode()).hexdigest()[:40]


def _number_bytes(n: int) -> int:
    """DynamoDB's size of a number: about one byte per two significant digits, plus one."""
    return (len(str(abs(n)).rstrip("0") or "0") + 1) // 2 + 1


def stash_row_bytes(event: Mapping[str, Any]) -> int:
    """The DynamoDB size of one row as :meth:`Stash.put_stash` stores it (a map of i, t and m, in a list).

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


class Stash:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_stash(self, log_group: str, stream: str, events: Sequence[Mapping[str, Any]], now_s: float) -> None:
        """Keep the unfinished report at the end of a delivery for the stream's next delivery."""
        until = int(now_s) + STASH_TTL_S
        rows = [{"i": str(e.get("id", ""))[:80], "t": int(e.get("timestamp") or 0), "m": str(e.get("message", ""))}
                for e in events]  # fmt: skip
        self._table.put({"pk": _stash_key(log_group, stream), "rows": rows, "until": until, "expires_at": until})

    def get_stash(self, log_group: str, stream: str, now_s: float) -> list[dict[str, Any]]:
        """The stashed log events (``id``, ``timestamp``, ``message``), or [] when none is kept."""
        item = self._table.get(_stash_key(log_group, stream))
        if not item or int(item.get("until") or 0) < int(now_s):
            return []  # TTL deletion is lazy: an old stash is ignored
        rows = item.get("rows") or []
        return [{"id": r.get("i", ""), "timestamp": int(r.get("t") or 0), "message": r.get("m", "")} for r in rows]
