"""CloudWatch reads: the newest value per instance of GROUP BY InstanceId queries (GetMetricData), and the
instances behind a multi-time-series alarm (DescribeAlarmContributors).

Both take the client (``Runtime.clients.cloudwatch``) and return plain values; AWS errors propagate
(:data:`service.dal.clients.AwsError`) for the use case to turn into a note.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from botocore import __version__ as botocore_version

from service.models.instance import instance_id_from_stream

#: Pages read per call at most (both APIs page with ``NextToken``).
MAX_PAGES = 5
_IDENT = re.compile(r"^[A-Za-z0-9_.\-]+$")
#: The botocore this process runs (named in notes when it lacks an operation).
SDK_VERSION: str = botocore_version


def namespace_or_default(namespace: str) -> str:
    """``namespace`` if it is safe to quote in a Metrics Insights query, else the agent's ``CWAgent``."""
    return namespace if _IDENT.match(namespace) else "CWAgent"


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
