"""The digest queue: ``win#`` windows that ended with folded kills and whose digest is not sent yet.

The digest job marks a window ``digest_state`` sending (``digest_owner``, ``digest_lease``,
``digest_at`` in ms) before it publishes, and sent after; a sender that died is taken over after
:data:`DIGEST_STALE_S` or when its lease ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from service.dal.state.claims import lease_until
from service.dal.state.table import Table, whole
from service.models.attempt import Attempt
from service.models.decisions import Fingerprint

DIGEST_STALE_S = 600
DIGEST_GRACE_S = 30  # after a window's end, so the oom handler and the digest job stay off the same window


@dataclass(frozen=True, slots=True)
class TopVictim:
    """One of a window's largest victims (``top``), as stored."""

    comm: str
    pid: int | None
    rss_kb: int | None
    where: str  # instance id, else host
    time_ms: int


@dataclass(frozen=True, slots=True)
class DueWindow:
    """A noise window whose digest is due, read back from its ``win#`` item (absent fields defaulted)."""

    pk: str
    fingerprint: Fingerprint
    count: int
    window_start_ms: int
    window_end_ms: int
    first_ms: int
    last_ms: int
    instances: tuple[str, ...]  # sorted
    top: tuple[TopVictim, ...]  # in the item's order
    critical: int  # how many of the kills were critical
    events_group: str | None  # the log group of the kill events, when the oom function has one
    muted: int = 0  # kills of the window a mute silenced (not in ``count``)


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def due_window(item: Mapping[str, Any]) -> DueWindow:
    """Decode a ``win#`` item (plain values) into its record."""
    top = item.get("top") if isinstance(item.get("top"), Mapping) else {}
    victims = tuple(
        TopVictim(
            comm=str(entry.get("comm") or "?"),
            pid=_optional_int(entry.get("pid")),
            rss_kb=_optional_int(entry.get("rss_kb")),
            where=str(entry.get("where") or "?"),
            time_ms=whole(entry.get("time_ms")),
        )
        for entry in (top or {}).values()
        if isinstance(entry, Mapping)
    )
    events_group = str(item.get("events_group") or "")
    return DueWindow(
        pk=str(item.get("pk") or ""),
        fingerprint=Fingerprint(
            key=str(item.get("fingerprint") or ""),
            scope=str(item.get("scope") or "host:unknown"),
            source=str(item.get("source") or "kernel"),
            subject=str(item.get("subject") or "?"),
            label=str(item.get("label") or ""),
        ),
        count=whole(item.get("count"), 1),
        window_start_ms=whole(item.get("window_start")),
        window_end_ms=whole(item.get("window_end")),
        first_ms=whole(item.get("first_ms"), whole(item.get("window_start"))),
        last_ms=whole(item.get("last_ms"), whole(item.get("window_end"))),
        instances=tuple(sorted(str(i) for i in item.get("instances") or [])),
        top=victims,
        critical=whole(item.get("critical")),
        events_group=events_group if events_group not in ("", "-") else None,
        muted=whole(item.get("muted")),
    )


class DigestQueue:
    def __init__(self, table: Table) -> None:
        self._table = table

    def due_windows(
        self, now_s: float, grace_s: int = DIGEST_GRACE_S, attempt: Attempt | None = None
    ) -> Iterator[DueWindow]:
        """Windows that ended (with a grace period), folded kills, and no digest sent yet.

        A window whose digest is ``sending`` is due again when its sender is dead (lease ended) or
        is this request (Lambda's retry of a failed run).
        """
        now = int(now_s * 1000)
        items = self._table.scan(
            "begins_with(pk, :w) AND window_end <= :due AND #c >= :two AND "
            "(attribute_not_exists(digest_state) OR (digest_state = :sending AND "
            "(digest_at < :stale OR digest_lease < :nows OR digest_owner = :me)))",
            names={"#c": "count"},
            values_of={
                ":w": "win#",
                ":due": now - grace_s * 1000,
                ":two": 2,
                ":sending": "sending",
                ":stale": now - DIGEST_STALE_S * 1000,
                ":nows": int(now_s),
                ":me": attempt.request_id if attempt else "-",
            },
        )
        return (due_window(item) for item in items)

    def claim_digest(self, pk: str, now_s: float, attempt: Attempt | None = None) -> bool:
        now = int(now_s * 1000)
        me = attempt.request_id if attempt else "-"
        lease = lease_until(int(now_s), attempt)
        claimed = self._table.update(
            pk,
            "SET digest_state = :sending, digest_at = :now, digest_owner = :me, digest_lease = :lease",
            condition=(
                "attribute_exists(pk) AND (attribute_not_exists(digest_state) OR "
                "(digest_state = :sending AND (digest_at < :stale OR digest_lease < :nows OR digest_owner = :me)))"
            ),
            values_of={
                ":sending": "sending",
                ":now": now,
                ":stale": now - DIGEST_STALE_S * 1000,
                ":me": me,
                ":lease": lease,
                ":nows": int(now_s),
            },
        )
        return claimed is not None

    def finish_digest(self, pk: str, now_s: float) -> None:
        self._table.update(
            pk, "SET digest_state = :sent, digest_at = :now", values_of={":sent": "sent", ":now": int(now_s * 1000)}
        )

    def release_digest(self, pk: str) -> None:
        self._table.update(pk, "REMOVE digest_state, digest_at, digest_lease")
