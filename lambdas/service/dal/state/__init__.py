"""Noise control, idempotency and "last kill per instance" in one DynamoDB table, one module per item family.

Table: partition key ``pk`` (S), no sort key, TTL attribute ``expires_at`` (epoch seconds). Every family
reads and writes it through :mod:`.table` (the codec and the DynamoDB calls) and returns typed records.

=====================================  ==========================================================  ==================
item ``pk``                            purpose                                                     module
=====================================  ==========================================================  ==================
``kill#<kill_key>``                    claim of one kill (``service.logic.delivery``): ``status``  :mod:`.claims`
                                       pending|sending|done, ``owner``, ``lease_until``; once
                                       counted also ``occurrence``,
                                       ``window_start``, ``window_end``, ``prev_count``
``fp#<fingerprint>``                   head of a noise fingerprint: the current window's           :mod:`.windows`
                                       ``window_start`` / ``window_end`` (ms)
``win#<fingerprint>#<window_start>``   one noise window: atomic ``count``, ``instances`` (SS),     :mod:`.windows`
                                       ``top`` (largest victims), ``critical``; the digest job     (counting),
                                       sets ``digest_state`` sending|sent                          :mod:`.digests`
                                                                                                   (the queue)
``last#<instance_id>``                 the latest kill on an instance (for memory-alarm notices)   :mod:`.last_kills`
``stash#<hash(group, stream)>``        log_mode=oom: the unfinished report at the end of a         :mod:`.stash`
                                       delivery, for the stream's next one (5 minutes)
``notice#<alarm>#<instance_id>``       claim of a memory/swap notice: ``status`` pending|sent,     :mod:`.notices`
                                       ``owner``, ``lease_until``, ``notified_at``
``rollout#<instance_id>``              the rollout failure kinds already announced for a host      :mod:`.notices`
                                       (``kinds`` SS, ``failed_at``); deleted when the host's
                                       association succeeds again (30 days' TTL, refreshed)
``mutes#index``                        every mute (``oomwatch mute``): ``mutes`` (id -> target,    :mod:`.mutes`
                                       end, reason, by), ``ver``; format :mod:`oomwatch.mutes`
``mute#<id>``                          one mute, TTL at its end (written and deleted by the CLI)   :mod:`.mutes`
``mutes#announced``                    the mute notices sent: ``ann`` (id -> mute, set|ended)     :mod:`.mutes`
``coverage#fleet``                     the last coverage check: ``checked_at``, ``silent`` (list   :mod:`.notices`
                                       of instance ids) (7 days' TTL, refreshed)
=====================================  ==========================================================  ==================

Every write that decides something is conditional or an atomic counter, so concurrent
invocations (one per log stream) and retried ones agree on which kill is "the first".
When DynamoDB fails, the kill pipeline runs on :class:`MemoryState` (claims and windows only).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol

from service.dal.clients import Clients
from service.dal.state.claims import Claim, ClaimStore, KillClaims, KillRecord
from service.dal.state.last_kills import LastKill, LastKills
from service.dal.state.memory import MemoryState
from service.dal.state.mutes import Mutes
from service.dal.state.notices import AlarmNotices, CoverageChecks, RolloutFailures
from service.dal.state.stash import Stash
from service.dal.state.table import Table
from service.dal.state.windows import Count, NoiseWindows, VictimSummary, WindowStore

if TYPE_CHECKING:
    from service.dal.state.digests import DigestQueue, DueWindow, TopVictim, due_window

__all__ = [
    "Claim",
    "Count",
    "DueWindow",
    "DynamoState",
    "KillRecord",
    "KillState",
    "LastKill",
    "MemoryState",
    "TopVictim",
    "VictimSummary",
    "due_window",
]


class KillState(Protocol):
    """What the kill pipeline needs from the state store (DynamoDB, or memory when DynamoDB fails)."""

    durable: bool

    @property
    def claims(self) -> ClaimStore: ...

    @property
    def windows(self) -> WindowStore: ...


class DynamoState:
    """The state table, one object per item family. One invocation costs a handful of calls whatever
    the number of kills in it: claims go in one transaction, a fingerprint's kills in one atomic
    counter update, results in one batch write."""

    durable = True

    def __init__(self, clients: Clients, table: str, events_log_group: str | None = None) -> None:
        t = Table(clients, table)
        self.claims = KillClaims(t)
        self.windows = NoiseWindows(t, events_log_group)
        self.last_kills = LastKills(t)
        self.stash = Stash(t)
        self.notices = AlarmNotices(t)
        self.rollouts = RolloutFailures(t)
        self.coverage = CoverageChecks(t)
        self._table = t
        self.mutes = Mutes(t)

    @functools.cached_property
    def digests(self) -> DigestQueue:
        """The digest queue: only the digest job reads it, so the OOM function's cold start never imports it."""
        from service.dal.state.digests import DigestQueue

        return DigestQueue(self._table)

    def new_invocation(self) -> None:
        """Forget what one invocation may cache (the fingerprints' heads)."""
        self.windows.new_invocation()


_DIGESTS = ("DueWindow", "TopVictim", "due_window")


def __getattr__(name: str) -> Any:
    """The digest queue's records, imported on first use (PEP 562): the OOM function never needs them."""
    if name in _DIGESTS:
        from service.dal.state import digests

        return getattr(digests, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
