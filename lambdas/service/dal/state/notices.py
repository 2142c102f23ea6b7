"""What the notices remember: memory/swap alarm notices (``notice#<alarm>#<instance_id>``), rollout
failures announced per host (``rollout#<instance_id>``) and the fleet coverage check (``coverage#fleet``)."""

from __future__ import annotations

from collections.abc import Iterable

from service.dal.state.claims import lease_until
from service.dal.state.table import Table
from service.models.attempt import Attempt

NOTICE_QUIET_S = 3600  # one memory/swap notice per instance and alarm per hour
ROLLOUT_TTL_S = 30 * 86400  # a failing host re-runs daily and refreshes it; a terminated one expires
COVERAGE_TTL_S = 7 * 86400
COVERAGE_PK = "coverage#fleet"


class AlarmNotices:
    """Claims of memory/swap notices: ``status`` pending|sent, ``owner``, ``lease_until``, ``notified_at``."""

    def __init__(self, table: Table) -> None:
        self._table = table

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
        lease = lease_until(now, attempt)
        written = self._table.put(
            {
                "pk": f"notice#{alarm}#{instance_id}",
                "notified_at": now,
                "status": "pending",
                "owner": me,
                "lease_until": lease,
                "expires_at": now + quiet_s,
            },
            condition=(
                "attribute_not_exists(pk) OR (#st = :pending AND (lease_until < :now OR #own = :me))"
                " OR (#st <> :pending AND notified_at < :cut)"
            ),
            names={"#st": "status", "#own": "owner"},
            values_of={":cut": now - quiet_s, ":pending": "pending", ":now": now, ":me": me},
        )
        return written is not None

    def commit_notice(self, alarm: str, instance_id: str, now_s: float, quiet_s: int = NOTICE_QUIET_S) -> None:
        now = int(now_s)
        self._table.put(
            {"pk": f"notice#{alarm}#{instance_id}", "notified_at": now, "status": "sent", "expires_at": now + quiet_s}
        )

    def release_notice(self, alarm: str, instance_id: str, attempt: Attempt | None = None) -> None:
        self._table.delete(
            f"notice#{alarm}#{instance_id}",
            condition="#st = :pending AND #own = :me",
            names={"#st": "status", "#own": "owner"},
            values_of={":pending": "pending", ":me": attempt.request_id if attempt else "-"},
        )


class RolloutFailures:
    """The failure kinds announced for a host (``kinds`` SS, ``failed_at``), 30 days' TTL, refreshed;
    deleted when the host's association succeeds again."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_rollout_failure(self, instance_id: str, kind: str, now_s: float) -> bool:
        """Record that ``kind`` was announced for this host: False if it already was (no new notice)."""
        now = int(now_s)
        updated = self._table.update(
            f"rollout#{instance_id}",
            "ADD kinds :ks SET failed_at = :now, expires_at = :exp",
            condition="attribute_not_exists(kinds) OR NOT contains(kinds, :k)",
            values_of={":ks": {kind}, ":k": kind, ":now": now, ":exp": now + ROLLOUT_TTL_S},
        )
        return updated is not None

    def release_rollout_failure(self, instance_id: str, kind: str) -> None:
        """Undo :meth:`claim_rollout_failure` when the notice could not be published (Lambda retries)."""
        self._table.update(f"rollout#{instance_id}", "DELETE kinds :ks", values_of={":ks": {kind}})

    def rollout_failures(self, instance_id: str) -> list[str]:
        """The failure kinds announced for this host since it last succeeded (consistent read)."""
        kinds = self._table.get(f"rollout#{instance_id}").get("kinds") or []
        return [str(k) for k in kinds]

    def clear_rollout(self, instance_id: str) -> None:
        self._table.delete(f"rollout#{instance_id}")


class CoverageChecks:
    """The last coverage check: ``checked_at``, ``silent`` (list of instance ids), 7 days' TTL, refreshed."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_coverage(self, now_s: float, interval_minutes: int) -> list[str] | None:
        """Start a coverage check unless one ran in the last ``interval_minutes``: the previous silent set,
        or None."""
        now = int(now_s)
        old = self._table.update(
            COVERAGE_PK,
            "SET checked_at = :now, expires_at = :exp",
            condition="attribute_not_exists(checked_at) OR checked_at <= :cut",
            values_of={":now": now, ":cut": now - interval_minutes * 60, ":exp": now + COVERAGE_TTL_S},
            returns="ALL_OLD",
        )
        if old is None:
            return None
        return [str(i) for i in old.get("silent") or []]

    def save_coverage(self, silent: Iterable[str], now_s: float) -> None:
        self._table.update(
            COVERAGE_PK,
            "SET silent = :s, expires_at = :exp",
            values_of={":s": sorted(silent), ":exp": int(now_s) + COVERAGE_TTL_S},
        )
