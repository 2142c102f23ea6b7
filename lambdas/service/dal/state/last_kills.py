"""The latest kill on each instance (``last#<instance_id>``), which the memory-alarm notices name."""

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, cast

from service.dal.state.table import Table

LAST_KILL_TTL_S = 30 * 86400


class LastKill(TypedDict, total=False):
    """A ``last#`` item as read back (the summary the kill pipeline wrote, plus its key and TTL)."""

    pk: str
    time_ms: int
    comm: str
    pid: int
    rss_kb: int
    severity: str
    constraint: str
    workload: str
    workload_kind: str
    kill_event_id: str
    expires_at: int


class LastKills:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put(self, instance_id: str, summary: Mapping[str, Any], now_s: float) -> None:
        """Keep ``summary`` unless the stored kill is newer (deliveries of one instance may cross)."""
        self._table.put(
            {**summary, "pk": f"last#{instance_id}", "expires_at": int(now_s) + LAST_KILL_TTL_S},
            condition="attribute_not_exists(pk) OR time_ms <= :t",
            values_of={":t": int(summary["time_ms"])},
        )

    def read(self, instance_ids: Iterable[str]) -> dict[str, LastKill]:
        """The instances' last kills, by instance id (those with none are left out)."""
        items = self._table.get_many([f"last#{i}" for i in instance_ids])
        return {str(item["pk"]).split("#", 1)[1]: cast(LastKill, item) for item in items}
