"""Mutes (``mutes#index``, written by ``oomwatch mute``; format :mod:`oomwatch.mutes`) and the mute notices
already sent (``mutes#announced``).

The kill pipeline reads the index through a per-container cache of :data:`CACHE_S` seconds: one GetItem
(eventually consistent, half a read unit) per container per minute, whatever the number of kills. A mute whose
end passed is over whatever DynamoDB's TTL did (its deletes come late).

``mutes#announced``: ``ann`` (a map id -> the mute's fields and ``state`` set|ended). The digest run claims a
notice with a conditional update before it publishes it and undoes the claim when the publish fails (the
pattern of the rollout notices, :mod:`.notices`), so each notice goes out once.
"""

from __future__ import annotations

from typing import Any

from oomwatch.mutes import ANNOUNCED_PK, INDEX_PK, Mute, from_fields, from_index

from service.dal.state.table import Table

CACHE_S = 60
ANNOUNCED_TTL_S = 90 * 86400  # refreshed by every claim; only a stack idle for 90 days forgets


class Mutes:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._cached: tuple[float, list[Mute]] | None = None

    def all(self, *, consistent: bool = True) -> list[Mute]:
        """Every mute the index holds (active, ended and recently removed ones), oldest first."""
        return from_index(self._table.get(INDEX_PK, consistent=consistent))

    def cached(self, now_s: float) -> list[Mute]:
        """The index as read at most :data:`CACHE_S` seconds ago (per container); raises what DynamoDB raises."""
        if self._cached is None or not 0 <= now_s - self._cached[0] < CACHE_S:
            self._cached = (now_s, self.all(consistent=False))
        return self._cached[1]

    def forget(self) -> None:
        self._cached = None

    # --------------------------------------------------------------------------------- the announced set

    def announced(self) -> dict[str, tuple[Mute, str]]:
        """The mutes whose set notice went out: id -> (the mute as announced, ``set`` or ``ended``)."""
        entries = self._table.get(ANNOUNCED_PK).get("ann")
        out: dict[str, tuple[Mute, str]] = {}
        if isinstance(entries, dict):
            for key, raw in entries.items():
                if isinstance(raw, dict) and (m := from_fields(str(key), raw)):
                    out[m.id] = (m, str(raw.get("state") or "set"))
        return out

    def claim_set(self, mute: Mute, now_s: float) -> bool:
        """Own the set notice of ``mute``: False when it was already claimed."""
        return self._claim(mute, "set", "attribute_not_exists(ann.#id)", now_s)

    def claim_end(self, mute: Mute, now_s: float) -> bool:
        """Own the end notice (expired or removed) of an announced mute: False when it was already claimed."""
        return self._claim(mute, "ended", "ann.#id.#st = :set", now_s)

    def _claim(self, mute: Mute, state: str, condition: str, now_s: float) -> bool:
        values: dict[str, Any] = {":m": {**mute.fields(), "state": state}, ":exp": int(now_s) + ANNOUNCED_TTL_S}
        names = {"#id": mute.id}
        if state == "ended":
            values[":set"] = "set"
            names["#st"] = "state"
        self._ensure()
        done = self._table.update(
            ANNOUNCED_PK, "SET ann.#id = :m, expires_at = :exp", condition=condition, names=names, values_of=values
        )
        return done is not None

    def _ensure(self) -> None:
        """The announced item with its (empty) map, so that ``ann.#id`` paths exist to be set."""
        self._table.update(ANNOUNCED_PK, "SET ann = if_not_exists(ann, :empty)", values_of={":empty": {}})

    def release(self, mute: Mute, state: str) -> None:
        """Undo a claim whose publish failed: the next run claims and sends it again."""
        if state == "set":
            self._table.update(ANNOUNCED_PK, "REMOVE ann.#id", names={"#id": mute.id})
        else:
            self._table.update(
                ANNOUNCED_PK,
                "SET ann.#id.#st = :set",
                names={"#id": mute.id, "#st": "state"},
                values_of={":set": "set"},
            )

    def forget_announced(self, mute_ids: list[str]) -> None:
        """Drop ended mutes the index no longer holds (bounds the item)."""
        if not mute_ids:
            return
        names = {f"#i{n}": mid for n, mid in enumerate(mute_ids[:50])}
        self._table.update(ANNOUNCED_PK, "REMOVE " + ", ".join(f"ann.{k}" for k in names), names=names)
