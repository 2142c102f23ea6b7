"""Saved CloudWatch Logs Insights queries over the OOM kill events."""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_logs as logs
from constructs import Construct

#: Every query starts here: the OOM function logs one Powertools JSON line per kill, ``message`` =
#: ``oom_kill``, with the parser's event fields (``victim.comm``, ``victim.anon_rss_kb``,
#: ``cgroup.workload.name``, ``host``; see docs/events.md) and the handler's (``instance_id``,
#: ``instance.id``, ``instance.name``, ``severity``, ``fingerprint``, ``decision``).
KILLS: Final = 'filter message = "oom_kill"'
#: The instance when the stream named one, else the host name from the log line.
INSTANCE: Final = "coalesce(instance_id, instance.id, host) as instance_or_host"

#: Query name (shown under the stack's folder in the console) → query text.
QUERIES: Final[dict[str, str]] = {
    "Recent kills": "\n| ".join(
        [
            f"fields @timestamp, {INSTANCE}, instance.name, victim.comm, victim.pid, victim.anon_rss_kb, "
            "cgroup.workload.name, severity, decision, fingerprint",
            KILLS,
            "sort @timestamp desc",
            "limit 100",
        ]
    ),
    "Kills by process": "\n| ".join(
        [
            KILLS,
            "stats count(*) as kills, max(victim.anon_rss_kb) as max_anon_rss_kb, latest(@timestamp) as last_kill "
            "by victim.comm",
            "sort kills desc",
        ]
    ),
    "Kills by instance": "\n| ".join(
        [
            f"fields {INSTANCE}",
            KILLS,
            "stats count(*) as kills, count_distinct(victim.comm) as processes, latest(@timestamp) as last_kill "
            "by instance_or_host",
            "sort kills desc",
        ]
    ),
    "Kills by workload": "\n| ".join(
        [
            KILLS,
            "stats count(*) as kills, count_distinct(victim.comm) as processes, latest(@timestamp) as last_kill "
            "by cgroup.workload.name",
            "sort kills desc",
        ]
    ),
    "Biggest victims": "\n| ".join(
        [
            f"fields @timestamp, {INSTANCE}, victim.comm, victim.pid, victim.anon_rss_kb, cgroup.workload.name",
            KILLS,
            "sort victim.anon_rss_kb desc",
            "limit 25",
        ]
    ),
}


class KillQueries(Construct):
    """One saved Logs Insights query (``AWS::Logs::QueryDefinition``) per entry of :data:`QUERIES`.

    The queries run over ``log_group``. A query definition needs a name; they are
    ``<folder>/<query>``, so the console groups them in one folder per stack. The query text is given
    verbatim (the L1 resource), so what the tests read is exactly what the console runs.
    Attribute: ``definitions`` (by query name).
    """

    def __init__(self, scope: Construct, construct_id: str, *, log_group: logs.ILogGroup, folder: str) -> None:
        super().__init__(scope, construct_id)
        self.definitions = {
            name: logs.CfnQueryDefinition(
                self,
                name.title().replace(" ", ""),
                name=f"{folder}/{name}",
                query_string=text,
                log_group_names=[log_group.log_group_name],
            )
            for name, text in QUERIES.items()
        }
