"""Noise windows: ``fp#<fingerprint>`` (the head: the fingerprint's current window) and
``win#<fingerprint>#<window_start>`` (one window: its atomic ``count``, instances, largest victims).

The window's length travels in minutes (``noise_window_minutes``) and becomes milliseconds in
:func:`window_ms`, once, where a window is opened; the items store epoch milliseconds.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from service.dal.state.table import Table
from service.models.attempt import Attempt
from service.models.decisions import Fingerprint

WINDOW_TTL_S = 3 * 86400
TOP_KEEP = 5
COUNT_ROUNDS = 4  # head reads and openings before contention is given up on


def window_ms(window_minutes: int) -> int:
    """A noise window's length: the one conversion of the setting's minutes."""
    return window_minutes * 60_000


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


class WindowStore(Protocol):
    """The counting the kill pipeline does (DynamoDB, or memory when DynamoDB fails)."""

    def count_kills(
        self,
        fp: Fingerprint,
        now_s: float,
        window_minutes: int,
        victims: Sequence[VictimSummary],
        attempt: Attempt | None = None,
    ) -> list[Count]: ...

    def add_muted(self, fp: Fingerprint, now_s: float, window_minutes: int, muted: int) -> tuple[int, int]: ...


Head = tuple[int, int]  # a window's (start, end) in epoch ms


def top_victims(victims: Iterable[tuple[str, Mapping[str, Any]]], keep: int = TOP_KEEP) -> dict[str, Mapping[str, Any]]:
    """The ``keep`` largest victims by RSS (each kill once)."""
    unique = dict(victims)
    ranked = sorted(unique.items(), key=lambda kv: -int(kv[1].get("rss_kb") or 0))
    return dict(ranked[:keep])


class NoiseWindows:
    """The ``fp#`` and ``win#`` items: a fingerprint's kills are numbered by one atomic counter update."""

    def __init__(self, table: Table, events_log_group: str | None = None) -> None:
        self._table = table
        self._events_group = events_log_group or "-"
        self._heads: dict[str, Head] = {}  # per-invocation cache of fingerprint heads

    def new_invocation(self) -> None:
        self._heads.clear()

    def count_kills(
        self,
        fp: Fingerprint,
        now_s: float,
        window_minutes: int,
        victims: Sequence[VictimSummary],
        attempt: Attempt | None = None,
    ) -> list[Count]:
        """Add the kills to the fingerprint's current window (opening one if none is open).

        One atomic ``ADD count :n`` numbers them: if it returns C, they are C-n+1 .. C. The update
        records its request id (``last_owner``): Lambda's retry of an attempt that died after
        counting finds its own count there, and is not counted twice.
        """
        now_ms = int(now_s * 1000)
        length_ms = window_ms(window_minutes)
        for _ in range(COUNT_ROUNDS):
            current = self._current_head(fp.key, now_ms, length_ms)
            if current is None:  # another invocation opened it first: read it again
                continue
            head, prev_count = current
            self._heads[fp.key] = head
            attrs = self._add(fp, head, victims, attempt.request_id if attempt else "")
            if attrs is None:  # that window's digest already started: it is closed
                self._heads.pop(fp.key, None)
                self._close_head(fp.key, head)
                continue
            return self._numbered(fp.key, head, attrs, victims, prev_count)
        # Contention that never settled: treat them as new (an extra alert beats a lost one).
        end = now_ms + length_ms
        return [Count(i + 1, now_ms, end, sorted({v.where for v in victims})) for i in range(len(victims))]

    def add_muted(self, fp: Fingerprint, now_s: float, window_minutes: int, muted: int) -> tuple[int, int]:
        """Count muted kills in the fingerprint's current window (``muted``, opening one if none is open),
        so its digest says how many were muted; they take no occurrence (the next kill that is not muted
        still alerts as the window's first). The window's (start, end) in ms."""
        now_ms = int(now_s * 1000)
        length_ms = window_ms(window_minutes)
        for _ in range(COUNT_ROUNDS):
            current = self._current_head(fp.key, now_ms, length_ms)
            if current is None:
                continue
            head = current[0]
            self._heads[fp.key] = head
            added = self._table.update(
                f"win#{fp.key}#{head[0]}",
                "ADD muted :n SET window_start = :ws, window_end = :we, expires_at = :exp",
                condition="attribute_not_exists(digest_state)",
                values_of={":n": muted, ":ws": head[0], ":we": head[1], ":exp": head[1] // 1000 + WINDOW_TTL_S},
            )
            if added is not None:
                return head
            self._heads.pop(fp.key, None)
            self._close_head(fp.key, head)
        return now_ms, now_ms + length_ms

    def _current_head(self, fp_key: str, now_ms: int, length_ms: int) -> tuple[Head, int] | None:
        """The open window's head and, when this call opened it right after another, that one's count;
        None when another invocation opened it first."""
        head = self._heads.get(fp_key)
        if head is None or head[1] <= now_ms:
            head = self._get_head(fp_key)
        if head is not None and head[1] > now_ms:
            return head, 0
        opened = self._open_window(fp_key, now_ms, length_ms)
        if opened is None:
            self._heads.pop(fp_key, None)
            return None
        head, old = opened
        adjacent = old is not None and old[1] >= now_ms - length_ms
        return head, self._window_count(fp_key, old[0]) if old is not None and adjacent else 0

    def _numbered(
        self, fp_key: str, head: Head, attrs: Mapping[str, Any], victims: Sequence[VictimSummary], prev_count: int
    ) -> list[Count]:
        n = len(victims)
        total = int(attrs.get("count") or n)
        if total > n or n > 1:
            self._update_top(fp_key, head[0], attrs.get("top") or {}, victims)
        instances = list(attrs.get("instances") or [])
        first_ms = attrs.get("first_ms")
        first = int(first_ms) if isinstance(first_ms, int | float) else None
        return [
            Count(total - n + 1 + i, head[0], head[1], instances, prev_count if total - n + i == 0 else 0, first)
            for i in range(n)
        ]

    def _get_head(self, fp_key: str) -> Head | None:
        item = self._table.get(f"fp#{fp_key}")
        if not item:
            return None
        return int(item["window_start"]), int(item["window_end"])

    def _open_window(self, fp_key: str, now_ms: int, length_ms: int) -> tuple[Head, Head | None] | None:
        end = now_ms + length_ms
        old = self._table.put(
            {"pk": f"fp#{fp_key}", "window_start": now_ms, "window_end": end, "expires_at": end // 1000 + WINDOW_TTL_S},
            condition="attribute_not_exists(pk) OR window_end <= :now",
            values_of={":now": now_ms},
            return_old=True,
        )
        if old is None:
            return None
        previous = (int(old["window_start"]), int(old["window_end"])) if old else None
        return (now_ms, end), previous

    def _close_head(self, fp_key: str, head: Head) -> None:
        """End a head whose window was already digested, so the next kill opens a new one."""
        self._table.update(
            f"fp#{fp_key}",
            "SET window_end = :start",
            condition="window_start = :start",
            values_of={":start": head[0]},
        )

    def _window_count(self, fp_key: str, start_ms: int) -> int:
        item = self._table.get(f"win#{fp_key}#{start_ms}", consistent=False, projection="#c", names={"#c": "count"})
        return int(item.get("count") or 0)

    def _add(
        self, fp: Fingerprint, head: Head, victims: Sequence[VictimSummary], owner: str = ""
    ) -> dict[str, Any] | None:
        start, end = head
        me = owner or "-"
        pk = f"win#{fp.key}#{start}"
        attrs = self._table.update(
            pk,
            "ADD #c :n, instances :inst, critical :crit "
            "SET fingerprint = :fp, #scope = :scope, #src = :src, subject = :subj, label = :label, "
            "window_start = :ws, window_end = :we, expires_at = :exp, last_ms = :last, "
            "first_ms = if_not_exists(first_ms, :first), top = if_not_exists(top, :top), events_group = :eg, "
            "last_owner = :me, last_n = :n",
            condition="attribute_not_exists(digest_state)"
            + (" AND (attribute_not_exists(last_owner) OR last_owner <> :me)" if owner else ""),
            names={"#c": "count", "#scope": "scope", "#src": "source"},
            values_of={
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
                ":top": top_victims((v.kill_key, v.as_item()) for v in victims),
                ":eg": self._events_group,
                ":me": me,
            },
            returns="ALL_NEW",
        )
        if attrs is not None:
            return attrs
        item = self._table.get(pk)
        if not owner or item.get("digest_state"):
            return None  # the window's digest started: it is closed
        if item.get("last_owner") == me and int(item.get("last_n") or 0) == len(victims):
            return item  # this request's own count, from an attempt that died before saving it
        return self._add(fp, head, victims)

    def _update_top(self, fp_key: str, start: int, top: Mapping[str, Any], victims: Sequence[VictimSummary]) -> None:
        """Keep the window's largest victims (best effort: a race may keep one or two extra)."""
        current = {k: v for k, v in top.items() if isinstance(v, Mapping)}
        wanted = top_victims([*current.items(), *((v.kill_key, v.as_item()) for v in victims if v.rss_kb is not None)])
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
        self._table.update(f"win#{fp_key}#{start}", expr.strip(), names=names, values_of=values)
