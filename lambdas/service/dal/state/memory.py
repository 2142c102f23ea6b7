"""Degraded-mode noise control for when DynamoDB fails: this container's memory only.

It still folds a storm handled by one warm container into one alert per window, and still
drops duplicate deliveries it has seen; it cannot coordinate with other containers or send
digests, and the alert says so.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from service.dal.state.claims import LEASE_S, Claim, KillRecord
from service.dal.state.windows import Count, VictimSummary, window_ms
from service.models.attempt import Attempt
from service.models.decisions import Fingerprint


class MemoryClaims:
    """Claims of kills, as :class:`~service.dal.state.claims.KillClaims` makes them, within one container."""

    def __init__(self, lock: threading.Lock, max_keys: int) -> None:
        self._lock = lock
        self._kills: OrderedDict[str, tuple[str, str, float]] = OrderedDict()  # status, owner, lease
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


class MemoryWindows:
    """Noise windows, as :class:`~service.dal.state.windows.NoiseWindows` counts them, within one container."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._windows: dict[str, tuple[int, int, int, set[str]]] = {}

    def count_kills(
        self,
        fp: Fingerprint,
        now_s: float,
        window_minutes: int,
        victims: Sequence[VictimSummary],
        attempt: Attempt | None = None,
    ) -> list[Count]:
        now = int(now_s * 1000)
        with self._lock:
            start, end, count, instances = self._windows.get(fp.key, (0, 0, 0, set()))
            if end <= now:
                start, end, count, instances = now, now + window_ms(window_minutes), 0, set()
            first = count + 1
            count += len(victims)
            instances = instances | {v.where for v in victims}
            self._windows[fp.key] = (start, end, count, instances)
        return [Count(first + i, start, end, sorted(instances)) for i in range(len(victims))]

    def add_muted(self, fp: Fingerprint, now_s: float, window_minutes: int, muted: int) -> tuple[int, int]:
        """Memory sends no digest: only the window the muted kills fall in."""
        now = int(now_s * 1000)
        with self._lock:
            start, end, _count, _instances = self._windows.get(fp.key, (now, now + window_ms(window_minutes), 0, set()))
        return (start, end) if end > now else (now, now + window_ms(window_minutes))


class MemoryState:
    """The kill pipeline's state (:class:`~service.dal.state.KillState`) in this container's memory."""

    durable = False

    def __init__(self, max_keys: int = 20_000) -> None:
        lock = threading.Lock()  # one lock for both, as one store
        self.claims = MemoryClaims(lock, max_keys)
        self.windows = MemoryWindows(lock)
