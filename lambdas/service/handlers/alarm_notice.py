"""Lambda ``service.handlers.alarm_notice.handler``: readable notices for the fleet memory/swap alarms.

Input: EventBridge ``CloudWatch Alarm State Change`` events of the two Metrics Insights alarms
(multi-time-series, GROUP BY InstanceId), and ``CloudWatch Alarm Contributor State Change``
events if the rule also matches them (those name one instance in ``alarmContributor``).
An alarm-level event names no instance, so the instances in alarm are read with
DescribeAlarmContributors, or failing that the alarm's own query via GetMetricData.

Output: one SNS notice per ALARM transition naming the instance(s) with name, type, current
memory and swap use, and the last OOM kill on them (from the oom handler's ``last#`` items).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore import __version__ as botocore_version

from service.dal.clients import AwsError, error_code
from service.dal.state import LastKill
from service.logic.alarm_notices import AlarmChange, HostRow, parse_alarm_event, render_alarm_notice
from service.logic.delivery import PUBLISH_RESERVE_S, Attempt, attempt, commit_or_keep, quietly
from service.logic.ports import PublishFailed, Runtime
from service.models.instance import instance_id_from_stream
from service.wiring import PowertoolsTelemetry, runtime

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)

MAX_HOSTS = 20
LOOKBACK_MS = 10 * 60_000
_IDENT = re.compile(r"^[A-Za-z0-9_.\-]+$")
_IN_ALARM = re.compile(r"(\d+) out of \d+ time series evaluated to ALARM")


def _ns(namespace: str) -> str:
    return namespace if _IDENT.match(namespace) else "CWAgent"


def _latest(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
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


def _metric_data(rt: Runtime, queries: list[dict[str, Any]], end_ms: int) -> list[dict[str, Any]]:
    cw = rt.clients.cloudwatch
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp((end_ms - LOOKBACK_MS) / 1000, UTC),
        "EndTime": datetime.fromtimestamp(end_ms / 1000, UTC),
        "ScanBy": "TimestampDescending",
    }
    results: list[dict[str, Any]] = []
    for _ in range(5):
        page = cw.get_metric_data(**kwargs)
        results.extend(page.get("MetricDataResults", []))
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return results


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


def instances_in_alarm(change: AlarmChange, rt: Runtime, notes: list[str]) -> list[str]:
    """The instance ids behind an alarm-level state change.

    DescribeAlarmContributors when the SDK has it and the call succeeds; otherwise the alarm's own query
    (the highest series), with a note saying why.
    """
    cw = rt.clients.cloudwatch
    hint = "grant cloudwatch:DescribeAlarmContributors for the exact list"
    if not sdk_has_operation(cw, CONTRIBUTORS_OPERATION):
        notes.append(
            f"{CONTRIBUTORS_OPERATION} is not in this runtime's AWS SDK (botocore {botocore_version}): the"
            " alarm's own query was used instead."
        )
        hint = "an AWS SDK with DescribeAlarmContributors, botocore 1.40.27 or later, gives the exact list"
    else:
        try:
            ids: list[str] = []
            kwargs: dict[str, Any] = {"AlarmName": change.alarm_name}
            for _ in range(5):
                page = cw.describe_alarm_contributors(**kwargs)
                ids.extend(_contributor_ids(page))
                token = page.get("NextToken") if isinstance(page, dict) else None
                if not token:
                    break
                kwargs["NextToken"] = token
            return list(dict.fromkeys(ids))
        except AwsError as exc:
            notes.append(f"cloudwatch:DescribeAlarmContributors failed ({error_code(exc)}).")
    if not change.expression:
        return []
    try:
        results = _metric_data(rt, [{"Id": "q", "Expression": change.expression, "Period": 60}], change.time_ms)
    except AwsError as exc:
        notes.append(f"The alarm's query could not be run: cloudwatch:GetMetricData failed ({error_code(exc)}).")
        return []
    latest = _latest(results).get("q", {})
    match = _IN_ALARM.search(change.reason)
    top_n = int(match.group(1)) if match else 5
    notes.append(
        f"The {top_n} highest instances of the alarm's own query are shown: the event does not name them ({hint})."
    )
    return [iid for iid, _ in sorted(latest.items(), key=lambda kv: -kv[1])][: min(top_n, MAX_HOSTS)]


def not_yet_notified(
    change: AlarmChange, ids: list[str], rt: Runtime, notes: list[str], me: Attempt | None = None
) -> tuple[list[str], list[str]]:
    """Claim the instances no notice named yet for this alarm (the alarm- and contributor-level events
    of one breach both arrive here): (instances to name, of which claimed). Claims are pending until
    the notice is published (commit) or not (release), :mod:`service.logic.delivery`."""
    fresh: list[str] = []
    for n, iid in enumerate(ids):
        try:
            if rt.store.notices.claim_notice(change.alarm_name, iid, rt.clock(), attempt=me):
                fresh.append(iid)
        except AwsError as exc:
            notes.append(f"Duplicate notices are possible: DynamoDB failed ({error_code(exc)}).")
            return fresh + ids[n:], list(fresh)
    return fresh, list(fresh)


USAGE_METRICS = (("mem", "memory", "mem_used_percent"), ("swap", "swap", "swap_used_percent"))


def current_usage(rt: Runtime, ns: str, end_ms: int, notes: list[str]) -> dict[str, dict[str, float]]:
    """query id ("mem", "swap") -> instance id -> newest value: one GetMetricData call per metric.

    "If you include a Metrics Insights query, each GetMetricData operation can include only one query"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html), and a
    query's SELECT names one metric, so memory and swap are two calls; one failing leaves the other.
    """
    usage: dict[str, dict[str, float]] = {}
    failed: list[tuple[str, str]] = []
    for qid, label, metric in USAGE_METRICS:
        query = {
            "Id": qid,
            # ns is validated by _IDENT above; metric names are constants.
            "Expression": f'SELECT MAX({metric}) FROM "{ns}" GROUP BY InstanceId ORDER BY MAX() DESC LIMIT 500',  # noqa: S608
            "Period": 60,
        }
        try:
            usage.update(_latest(_metric_data(rt, [query], end_ms)))
        except AwsError as exc:
            failed.append((label, error_code(exc)))
    if failed:
        what = "memory/swap" if len(failed) == len(USAGE_METRICS) else failed[0][0]
        codes = ", ".join(dict.fromkeys(code for _, code in failed))
        notes.append(f"Current {what} use left out: cloudwatch:GetMetricData failed ({codes}).")
    return usage


def notify_alarm(
    event: dict[str, Any], rt: Runtime, request_id: str | None = None, remaining_ms: int | None = None
) -> dict[str, Any]:
    s = rt.settings
    me = attempt(request_id, remaining_ms, rt.clock())
    if len(rt.outbox):
        rt.outbox.flush()
    change = parse_alarm_event(event, s.memory_alarm_name, s.swap_alarm_name)
    if change is None or change.metric == "other":
        rt.telemetry.info("alarm_ignored", reason="not a fleet memory/swap alarm")
        return {"sent": 0, "ignored": "not a fleet memory/swap alarm"}
    if change.state != "ALARM":
        rt.telemetry.info("alarm_ignored", reason=f"state {change.state}", alarm=change.alarm_name)
        return {"sent": 0, "ignored": f"state {change.state}"}
    if not change.region:
        change = change._replace(region=s.region)
    if not change.time_ms:
        change = change._replace(time_ms=int(rt.clock() * 1000))
    notes: list[str] = []
    ids = list(change.instance_ids) or instances_in_alarm(change, rt, notes)
    claimed: list[str] = []
    if ids:
        ids, claimed = not_yet_notified(change, ids[:MAX_HOSTS], rt, notes, me)
        if not ids:
            rt.telemetry.info("alarm_ignored", reason="instances already notified", alarm=change.alarm_name)
            return {"sent": 0, "ignored": "instances already notified"}

    lookup = rt.directory.lookup(ids) if ids else None
    if lookup is not None:
        notes.extend(lookup.notes)
    usage = current_usage(rt, _ns(s.agent_namespace), change.time_ms, notes) if ids else {}
    last: dict[str, LastKill] = {}
    if ids:
        try:
            last = rt.store.last_kills.read(ids)
        except AwsError as exc:
            notes.append(f"Last OOM kills left out: DynamoDB failed ({error_code(exc)}).")
    hosts = [
        HostRow(
            instance_id=iid,
            info=lookup.instances.get(iid) if lookup else None,
            mem_pct=usage.get("mem", {}).get(iid),
            swap_pct=usage.get("swap", {}).get(iid),
            last_kill=last.get(iid),
        )
        for iid in ids
    ]

    def level(h: HostRow) -> float:
        value = h.swap_pct if change.metric == "swap" else h.mem_pct
        return -(value if value is not None else -1.0)

    hosts.sort(key=level)
    try:
        if me.time_left(rt.clock()) < PUBLISH_RESERVE_S:
            raise TimeoutError("too little of the invocation left to publish and record it")
        rt.publisher.publish(render_alarm_notice(change, hosts, notes))
    except Exception as exc:
        rt.telemetry.count("PublishFailures")
        for iid in claimed:
            quietly(lambda iid=iid: rt.store.notices.release_notice(change.alarm_name, iid, me), sleep=rt.sleep)  # type: ignore[misc]
        raise PublishFailed(f"alarm notice not published ({error_code(exc)})") from exc
    for iid in claimed:
        commit_or_keep(
            f"notice#{change.alarm_name}#{iid}",
            lambda iid=iid: rt.store.notices.commit_notice(change.alarm_name, iid, rt.clock()),  # type: ignore[misc]
            rt.outbox,
            rt.sleep,
        )
    rt.telemetry.count("AlarmNoticesSent")
    rt.telemetry.info("alarm_notice_sent", alarm=change.alarm_name, instances=ids, notes=notes)
    return {"sent": 1, "instances": ids}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return notify_alarm(event, runtime(telemetry), context.aws_request_id, context.get_remaining_time_in_millis())
