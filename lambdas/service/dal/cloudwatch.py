"""CloudWatch reads: the newest value per instance of GROUP BY InstanceId queries (GetMetricData), and the
instances behind a multi-time-series alarm (DescribeAlarmContributors).

Both take the client (``Runtime.clients.cloudwatch``) and return plain values; AWS errors propagate
(:data:`service.dal.clients.AwsError`) for the use case to turn into a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore import __version__ as botocore_version
from oomwatch.lazy import lazy_pattern

from service.dal.clients import AwsError, error_code
from service.models.instance import instance_id_from_stream

#: Pages read per call at most (both APIs page with ``NextToken``).
MAX_PAGES = 5
_IDENT = lazy_pattern(r"^[A-Za-z0-9_.\-]+$")
#: The botocore this process runs (named in notes when it lacks an operation).
SDK_VERSION: str = botocore_version


def namespace_or_default(namespace: str) -> str:
    """``namespace`` if it is safe to quote in a Metrics Insights query, else the agent's ``CWAgent``."""
    return namespace if _IDENT().match(namespace) else "CWAgent"


#: The API operation behind the exact list of an alarm's contributors: in botocore 1.40.27 and later (API
#: of 2025-09-09). The AWS SDK a Lambda runtime bundles may predate it, so the call is made only when the
#: client has it. IAM action ``cloudwatch:DescribeAlarmContributors`` (Service Authorization Reference,
#: "Actions, resources, and condition keys for Amazon CloudWatch",
#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
CONTRIBUTORS_OPERATION = "DescribeAlarmContributors"


def sdk_has_operation(client: Any, operation: str) -> bool:
    """Whether this botocore knows ``operation`` (an older SDK has no method for it: AttributeError)."""
    try:
        return operation in client.meta.service_model.operation_names
    except AttributeError:
        return False


def _contributor_ids(page: Any) -> list[str]:
    """Instance ids of one DescribeAlarmContributors page; anything malformed is skipped."""
    ids: list[str] = []
    contributors = page.get("AlarmContributors") if isinstance(page, dict) else None
    for contributor in contributors if isinstance(contributors, list) else []:
        attributes = contributor.get("ContributorAttributes") if isinstance(contributor, dict) else None
        iid = attributes.get("InstanceId") if isinstance(attributes, dict) else None
        if isinstance(iid, str) and iid:
            ids.append(iid)
    return ids


def alarm_contributors(cw: Any, alarm_name: str) -> list[str]:
    """The instance ids an alarm's contributors name, first seen first (the caller checks
    :func:`sdk_has_operation` first)."""
    ids: list[str] = []
    kwargs: dict[str, Any] = {"AlarmName": alarm_name}
    for _ in range(MAX_PAGES):
        page = cw.describe_alarm_contributors(**kwargs)
        ids.extend(_contributor_ids(page))
        token = page.get("NextToken") if isinstance(page, dict) else None
        if not token:
            break
        kwargs["NextToken"] = token
    return list(dict.fromkeys(ids))


def newest_by_instance(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """query id -> instance id -> newest value, from GetMetricData results of GROUP BY queries."""
    out: dict[str, dict[str, float]] = {}
    for res in results:
        iid = instance_id_from_stream(str(res.get("Label", "")))
        values = res.get("Values") or []
        stamps = res.get("Timestamps") or []
        if not iid or not values:
            continue
        newest = max(range(len(values)), key=lambda i: stamps[i] if i < len(stamps) else 0)
        out.setdefault(str(res.get("Id")), {})[iid] = float(values[newest])
    return out


def metric_data(cw: Any, queries: list[dict[str, Any]], start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The ``MetricDataResults`` of ``queries`` over [start_ms, end_ms], newest first, all pages up to
    :data:`MAX_PAGES`."""
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(start_ms / 1000, UTC),
        "EndTime": datetime.fromtimestamp(end_ms / 1000, UTC),
        "ScanBy": "TimestampDescending",
    }
    results: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = cw.get_metric_data(**kwargs)
        results.extend(page.get("MetricDataResults", []))
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return results


# --------------------------------------------------------------------------- memory before a kill

#: The agent's metrics that the kill alert's sparkline shows (agent_config.builder: mem and swap sections).
HISTORY_METRICS: dict[str, str] = {"mem": "mem_used_percent", "swap": "swap_used_percent"}
#: The agent's dimension set for them (agent_config.builder.METRIC_DIMENSIONS): ``host`` is the host's own name,
#: unknown here, so a SEARCH on the exact schema finds the series, never a guessed ``MetricStat``.
HISTORY_SCHEMA = ("InstanceId", "host")
#: Instances per call. One SEARCH expression holds them all: an ``Expression`` is at most 2,048 characters
#: (API model, ``MetricExpression``); 36 per instance id plus the namespace (up to 255) and the rest leave room
#: for 40. A search returns at most 500 time series (2 per instance here: 80), 61 points each (4,880 of the
#: call's 100,800). Instances past the first 40 get a note, never a second call.
MAX_HISTORY_INSTANCES = 40
HISTORY_PERIOD_S = 60
#: Pages of one call at most (80 series of 61 points never need a second page: MaxDatapoints is 100,800).
HISTORY_PAGES = 2
_INSTANCE_ID = lazy_pattern(r"\bi-[0-9a-f]{8,17}\b")


def history_search(namespace: str, instance_ids: list[str]) -> str:
    """``SEARCH('{"CWAgent",InstanceId,host} (MetricName="mem_used_percent" OR ...) (InstanceId="i-..." OR ...)',
    'Maximum', 60)``: both metrics of every instance, on the agent's exact dimension set."""
    ns = namespace_or_default(namespace)
    names = " OR ".join(f'MetricName="{m}"' for m in HISTORY_METRICS.values())
    ids = " OR ".join(f'InstanceId="{iid}"' for iid in instance_ids)
    schema = ",".join((f'"{ns}"', *HISTORY_SCHEMA))  # quoted: "." and "-" are allowed in a namespace
    return f"SEARCH('{{{schema}}} ({names}) ({ids})', 'Maximum', {HISTORY_PERIOD_S})"


@dataclass(eq=False)
class History:
    """What one call found: (instance id, metric key) -> (timestamps in epoch ms, values), oldest first."""

    series: dict[tuple[str, str], tuple[list[int], list[float]]] = field(default_factory=dict)
    error: str | None = None  # the error code of a failed call
    left_out: list[str] = field(default_factory=list)  # instances past MAX_HISTORY_INSTANCES
    calls: int = 0


def _series_key(result: Any) -> tuple[str, str] | None:
    """(instance id, metric key) of a SEARCH result, from its label (``i-... mem_used_percent``)."""
    label = str(result.get("Label") or "") if isinstance(result, dict) else ""
    found = _INSTANCE_ID().search(label)
    metric = next((key for key, name in HISTORY_METRICS.items() if name in label), None)
    return (found.group(0), metric) if found and metric else None


class MetricsReader:
    """The memory and swap use of instances over a time range: ONE ``GetMetricData`` call (one SEARCH
    expression) for all of them. AWS errors propagate as ``History.error``, never as an exception."""

    def __init__(self, clients: Any, namespace: str) -> None:
        self._clients = clients
        self._namespace = namespace

    def history(self, instance_ids: list[str], start_ms: int, end_ms: int) -> History:
        ids = list(dict.fromkeys(i for i in instance_ids if _INSTANCE_ID().fullmatch(i)))
        out = History(left_out=ids[MAX_HISTORY_INSTANCES:])
        ids = ids[:MAX_HISTORY_INSTANCES]
        if not ids:
            return out
        # Whole minutes: CloudWatch rounds a start under 15 days old down to the minute (API reference, StartTime).
        step = HISTORY_PERIOD_S * 1000
        start = start_ms // step * step
        end = -(-end_ms // step) * step + step  # EndTime is exclusive: the kill's own minute is in
        kwargs: dict[str, Any] = {
            "MetricDataQueries": [
                {
                    "Id": "history",
                    "Expression": history_search(self._namespace, ids),
                    "Label": "${PROP('Dim.InstanceId')} ${PROP('MetricName')}",
                    "ReturnData": True,
                }
            ],
            "StartTime": datetime.fromtimestamp(start / 1000, UTC),
            "EndTime": datetime.fromtimestamp(end / 1000, UTC),
            "ScanBy": "TimestampAscending",
        }
        try:
            for _ in range(HISTORY_PAGES):
                out.calls += 1
                page = self._clients.cloudwatch.get_metric_data(**kwargs)
                for result in page.get("MetricDataResults") or []:
                    key = _series_key(result)
                    if key is None or key[0] not in ids:
                        continue
                    stamps, values = out.series.setdefault(key, ([], []))
                    for stamp, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                        stamps.append(int(stamp.timestamp() * 1000))
                        values.append(float(value))
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        except AwsError as exc:
            out.error = error_code(exc)
        except Exception as exc:  # a malformed answer must not cost the alert
            out.error = type(exc).__name__
        for stamps, values in out.series.values():
            order = sorted(range(len(stamps)), key=stamps.__getitem__)
            stamps[:] = [stamps[i] for i in order]
            values[:] = [values[i] for i in order]
        return out
