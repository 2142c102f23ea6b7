"""Fleet coverage: which instances OOMWatch should hear from but does not. Run from the digest schedule.

At most once per ``COVERAGE_INTERVAL_MINUTES`` (a conditional write on ``coverage#fleet`` decides, so
concurrent or frequent digest runs never check twice), with ``COVERAGE_INTERVAL_MINUTES=0`` never:

1. Expected: ``ssm:DescribeInstanceInformation`` (free; pages of at most 50; :data:`MAX_PAGES`), filtered by
   the target tag (``tag:<key>`` filter) unless every managed instance is targeted, then kept when
   ``PingStatus`` is Online, the platform Linux (the rollout document's precondition) and the id an EC2 one.
2. Reporting: ONE Metrics Insights query in ONE ``cloudwatch:GetMetricData`` call (AWS: "If you include a
   Metrics Insights query, each GetMetricData operation can include only one query"): the instances with a
   ``mem_used_percent`` series of the OOMWatch dimension set in the last :data:`LOOKBACK_MINUTES`. A query
   returns at most 500 series; when it returns 500, no host is called silent (the answer may be cut).
3. Silent = expected - reporting, minus instances launched in the last :data:`LAUNCH_GRACE_S`
   (``ec2:DescribeInstances`` launch time). A notice only when that set changes (new silent hosts or hosts
   back); hosts that are no longer expected just leave the set.

Any AWS failure ends the check without a notice and without touching the stored set: a failed query must
never look like a silent fleet.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from service.dal.clients import AwsError, error_code
from service.dal.cloudwatch import namespace_or_default, newest_by_instance
from service.logic import events as bus_events
from service.logic.ports import Runtime
from service.logic.rollout_text import (
    Expected,
    coverage_change,
    parse_time,
    render_coverage_notice,
    silent_instances,
)

MAX_PAGES: Final = 40  # 2,000 managed instances
LOOKBACK_MINUTES: Final = 15
LAUNCH_GRACE_S: Final = 15 * 60
MAX_SERIES: Final = 500  # Metrics Insights returns at most 500 time series per query
_EC2_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def reporting_query(namespace: str) -> str:
    """Instances that sent mem_used_percent with OOMWatch's dimensions (``infra.alarms.fleet_query``'s schema)."""
    ns = namespace_or_default(namespace)
    return (
        f'SELECT MAX(mem_used_percent) FROM SCHEMA("{ns}", InstanceId, host) '  # noqa: S608 - validated constant
        f"GROUP BY InstanceId LIMIT {MAX_SERIES}"
    )


def expected_instances(rt: Runtime) -> list[str]:
    """Online Linux EC2 instances in the target, from SSM's inventory of managed nodes."""
    s = rt.settings
    filters: list[dict[str, Any]] = [
        {"Key": "PingStatus", "Values": ["Online"]},
        {"Key": "ResourceType", "Values": ["EC2Instance"]},
    ]
    if not s.target_all_instances and s.target_tag_key:
        filters.append({"Key": f"tag:{s.target_tag_key}", "Values": [s.target_tag_value or "true"]})
    kwargs: dict[str, Any] = {"Filters": filters, "MaxResults": 50}
    ids: list[str] = []
    for _ in range(MAX_PAGES):
        page = rt.clients.ssm.describe_instance_information(**kwargs)
        for info in page.get("InstanceInformationList") or []:
            iid = str(info.get("InstanceId") or "")
            if _EC2_ID.match(iid) and str(info.get("PlatformType") or "Linux") == "Linux":
                ids.append(iid)
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return list(dict.fromkeys(ids))


def reporting_instances(rt: Runtime, now: datetime) -> set[str] | None:
    """Instance ids with a recent mem_used_percent series; None when the answer may be cut at 500."""
    page = rt.clients.cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "mem", "Expression": reporting_query(rt.settings.agent_namespace), "Period": 300}],
        StartTime=now - timedelta(minutes=LOOKBACK_MINUTES),
        EndTime=now,
    )
    results = page.get("MetricDataResults") or []
    if len(results) >= MAX_SERIES:
        return None
    return {iid for by_instance in newest_by_instance(results).values() for iid in by_instance}


def check_coverage(rt: Runtime, account: str = "") -> dict[str, Any]:
    """Run the coverage check if it is due; publish one notice if the silent set changed."""
    s = rt.settings
    if s.coverage_interval_minutes <= 0:
        return {"coverage": "off"}
    now_s = rt.clock()
    previous = rt.store.coverage.claim_coverage(now_s, s.coverage_interval_minutes)
    if previous is None:
        return {"coverage": "not due"}
    now = datetime.fromtimestamp(now_s, UTC)
    try:
        expected_ids = expected_instances(rt)
        reporting = reporting_instances(rt, now) if expected_ids else set()
    except AwsError as exc:
        rt.telemetry.warning("coverage_check_failed", error=error_code(exc))
        return {"coverage": "failed", "error": error_code(exc)}
    if reporting is None:
        rt.telemetry.warning("coverage_check_skipped", reason=f"{MAX_SERIES} or more series: the answer may be cut")
        return {"coverage": "skipped"}
    candidates = [i for i in expected_ids if i not in reporting]
    lookup = rt.directory.lookup(sorted(set(candidates) | set(previous))) if candidates or previous else None
    infos = lookup.instances if lookup else {}
    expected = [
        Expected(i, infos[i].name if i in infos else None, parse_time(infos[i].launch_time) if i in infos else None)
        for i in expected_ids
    ]
    silent = silent_instances(expected, reporting, now=now, grace_s=LAUNCH_GRACE_S)
    change = coverage_change(previous, silent, expected_ids)
    result: dict[str, Any] = {
        "coverage": "checked",
        "expected": len(expected_ids),
        "silent": sorted(silent),
        "new_silent": list(change.new_silent),
        "back": list(change.back),
    }
    if change.announce:
        target = (
            "every managed instance"
            if s.target_all_instances
            else f"instances tagged {s.target_tag_key}={s.target_tag_value}"
        )
        message = render_coverage_notice(
            change,
            names={i: info.name for i, info in infos.items()},
            expected_count=len(expected_ids),
            lookback_minutes=LOOKBACK_MINUTES,
            target=target,
            region=s.region,
            account=account,
        )
        rt.publisher.publish(message)  # a failure propagates: the stored set stays, the next check retries
        bus_events.emit_message(rt, message)
        rt.telemetry.count("CoverageNoticesSent")
        rt.telemetry.info("coverage_notice", new_silent=list(change.new_silent), back=list(change.back))
        result["notice"] = 1
    if set(previous) != set(silent):
        rt.store.coverage.save_coverage(silent, now_s)
    return result
