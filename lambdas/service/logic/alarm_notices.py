"""The alarm-notice use case: one readable SNS notice per ALARM transition of the fleet memory/swap alarms.

An alarm-level event names no instance, so the instances in alarm are read with DescribeAlarmContributors,
or failing that the alarm's own query (:mod:`service.dal.cloudwatch`). Each instance is claimed once per
alarm (:mod:`service.logic.delivery`), then the notice names them with name, type, current memory and swap
use and the last OOM kill on them (the oom handler's ``last#`` items); the text is
:mod:`service.logic.alarm_text`.
"""

from __future__ import annotations

import re
from typing import Any

from service.dal import cloudwatch
from service.dal.clients import AwsError, error_code
from service.dal.state import LastKill
from service.logic import events as bus_events
from service.logic.alarm_text import AlarmChange, HostRow, parse_alarm_event, render_alarm_notice
from service.logic.delivery import PUBLISH_RESERVE_S, attempt, commit_or_keep, quietly
from service.logic.ports import PublishFailed, Runtime
from service.models.attempt import Attempt

MAX_HOSTS = 20
LOOKBACK_MS = 10 * 60_000
_IN_ALARM = re.compile(r"(\d+) out of \d+ time series evaluated to ALARM")
USAGE_METRICS = (("mem", "memory", "mem_used_percent"), ("swap", "swap", "swap_used_percent"))


def _newest(rt: Runtime, query: dict[str, Any], end_ms: int) -> dict[str, dict[str, float]]:
    results = cloudwatch.metric_data(rt.clients.cloudwatch, [query], end_ms - LOOKBACK_MS, end_ms)
    return cloudwatch.newest_by_instance(results)


def instances_in_alarm(change: AlarmChange, rt: Runtime, notes: list[str]) -> list[str]:
    """The instance ids behind an alarm-level state change.

    DescribeAlarmContributors when the SDK has it and the call succeeds; otherwise the alarm's own query
    (the highest series), with a note saying why.
    """
    cw = rt.clients.cloudwatch
    operation = cloudwatch.CONTRIBUTORS_OPERATION
    hint = "grant cloudwatch:DescribeAlarmContributors for the exact list"
    if not cloudwatch.sdk_has_operation(cw, operation):
        notes.append(
            f"{operation} is not in this runtime's AWS SDK (botocore {cloudwatch.SDK_VERSION}): the"
            " alarm's own query was used instead."
        )
        hint = "an AWS SDK with DescribeAlarmContributors, botocore 1.40.27 or later, gives the exact list"
    else:
        try:
            return cloudwatch.alarm_contributors(cw, change.alarm_name)
        except AwsError as exc:
            notes.append(f"cloudwatch:DescribeAlarmContributors failed ({error_code(exc)}).")
    if not change.expression:
        return []
    try:
        latest = _newest(rt, {"Id": "q", "Expression": change.expression, "Period": 60}, change.time_ms).get("q", {})
    except AwsError as exc:
        notes.append(f"The alarm's query could not be run: cloudwatch:GetMetricData failed ({error_code(exc)}).")
        return []
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
            # ns is validated by cloudwatch.namespace_or_default; metric names are constants.
            "Expression": f'SELECT MAX({metric}) FROM "{ns}" GROUP BY InstanceId ORDER BY MAX() DESC LIMIT 500',  # noqa: S608
            "Period": 60,
        }
        try:
            usage.update(_newest(rt, query, end_ms))
        except AwsError as exc:
            failed.append((label, error_code(exc)))
    if failed:
        what = "memory/swap" if len(failed) == len(USAGE_METRICS) else failed[0][0]
        codes = ", ".join(dict.fromkeys(code for _, code in failed))
        notes.append(f"Current {what} use left out: cloudwatch:GetMetricData failed ({codes}).")
    return usage


def host_rows(change: AlarmChange, ids: list[str], rt: Runtime, notes: list[str]) -> list[HostRow]:
    """One row per instance (EC2 facts, current use, last kill), the fullest first."""
    if not ids:
        return []
    lookup = rt.directory.lookup(ids)
    notes.extend(lookup.notes)
    usage = current_usage(rt, cloudwatch.namespace_or_default(rt.settings.agent_namespace), change.time_ms, notes)
    last: dict[str, LastKill] = {}
    try:
        last = rt.store.last_kills.read(ids)
    except AwsError as exc:
        notes.append(f"Last OOM kills left out: DynamoDB failed ({error_code(exc)}).")
    hosts = [
        HostRow(
            instance_id=iid,
            info=lookup.instances.get(iid),
            mem_pct=usage.get("mem", {}).get(iid),
            swap_pct=usage.get("swap", {}).get(iid),
            last_kill=last.get(iid),
        )
        for iid in ids
    ]

    def level(h: HostRow) -> float:
        value = h.swap_pct if change.metric == "swap" else h.mem_pct
        return -(value if value is not None else -1.0)

    return sorted(hosts, key=level)


def publish_notice(
    change: AlarmChange, hosts: list[HostRow], notes: list[str], claimed: list[str], rt: Runtime, me: Attempt
) -> None:
    """Publish, then commit the claims; a failed publish releases them and raises :class:`PublishFailed`."""
    try:
        if me.time_left(rt.clock()) < PUBLISH_RESERVE_S:
            raise TimeoutError("too little of the invocation left to publish and record it")
        message = render_alarm_notice(change, hosts, notes)
        rt.publisher.publish(message)
    except Exception as exc:
        rt.telemetry.count("PublishFailures")
        for iid in claimed:
            quietly(lambda iid=iid: rt.store.notices.release_notice(change.alarm_name, iid, me), sleep=rt.sleep)  # type: ignore[misc]
        raise PublishFailed(f"alarm notice not published ({error_code(exc)})") from exc
    bus_events.emit_message(rt, message, time_ms=change.time_ms or None)
    for iid in claimed:
        commit_or_keep(
            f"notice#{change.alarm_name}#{iid}",
            lambda iid=iid: rt.store.notices.commit_notice(change.alarm_name, iid, rt.clock()),  # type: ignore[misc]
            rt.outbox,
            rt.sleep,
        )


def _ignored(rt: Runtime, reason: str, **fields: Any) -> dict[str, Any]:
    rt.telemetry.info("alarm_ignored", reason=reason, **fields)
    return {"sent": 0, "ignored": reason}


def notify_alarm(
    event: dict[str, Any], rt: Runtime, request_id: str | None = None, remaining_ms: int | None = None
) -> dict[str, Any]:
    """One EventBridge alarm event -> at most one notice (``{"sent": 1, "instances": [...]}``)."""
    s = rt.settings
    me = attempt(request_id, remaining_ms, rt.clock())
    if len(rt.outbox):
        rt.outbox.flush()
    change = parse_alarm_event(event, s.memory_alarm_name, s.swap_alarm_name)
    if change is None or change.metric == "other":
        return _ignored(rt, "not a fleet memory/swap alarm")
    if change.state != "ALARM":
        return _ignored(rt, f"state {change.state}", alarm=change.alarm_name)
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
            return _ignored(rt, "instances already notified", alarm=change.alarm_name)
    publish_notice(change, host_rows(change, ids, rt, notes), notes, claimed, rt, me)
    rt.telemetry.count("AlarmNoticesSent")
    rt.telemetry.info("alarm_notice_sent", alarm=change.alarm_name, instances=ids, notes=notes)
    return {"sent": 1, "instances": ids}
