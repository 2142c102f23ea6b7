"""Run ``moto_server`` with the additions the demo needs, each one a gap of moto 5.2:

1. EC2 instances can be given the id the caller asks for (below).
2. Its CloudFormation creates ``AWS::CloudWatch::Alarm`` (moto skips the type, so a template that refers
   to an alarm's ``Arn``, as an EventBridge rule on alarm state changes does, fails to deploy with
   "Fn::GetAtt references undefined resource"). The alarm is made with CloudWatch's own PutMetricAlarm.
3. Its CloudFormation creates ``AWS::SNS::Subscription`` (skipped too) with SNS's own Subscribe.
4. CloudWatch Logs event ids shaped like CloudWatch's: fixed-width 56-digit decimal strings that grow with
   ingestion, so ``(timestamp, eventId)`` sorts events of one timestamp in ingestion order as on AWS (moto
   numbers them 0, 1, 2, ..., and "10" sorts before "9").
5. CloudWatch ``GetMetricData`` runs Metrics Insights queries (``SELECT AGG(metric) FROM "ns" | SCHEMA(...)
   [WHERE dim = 'v' [AND ...]] [GROUP BY dims] [ORDER BY AGG() ASC|DESC] [LIMIT n]``), one result per group
   labelled with the group's values, as CloudWatch does; moto sums every datapoint instead.
6. ``DescribeAlarmContributors`` (2025): moto has no contributors, so the demo names them when it puts the
   alarm into ALARM, in ``SetAlarmState``'s ``StateReasonData`` (``{"contributors": [{attributes}]}``).
7. ``AWS::SSM::Association`` in its CloudFormation (skipped by moto: a ``Fn::GetAtt`` of its ``AssociationId``
   fails the deploy), and the State Manager reads moto lacks (``DescribeAssociationExecutions``,
   ``DescribeAssociationExecutionTargets``, ``DescribeInstanceInformation``, and ``GetCommandInvocation`` of
   association runs), answered from the JSON file named by ``OOMWATCH_DEMO_SSM``, which the demo writes
   (:mod:`demo.rollout_story`): moto runs no document on any host, so those runs are emulated.
8. A mail catcher: moto sends no e-mail, so what an ``email`` subscription would be sent (the message's
   ``email`` variant under ``MessageStructure=json``, honouring filter policies) is appended as a JSON line
   to the file named by ``OOMWATCH_DEMO_OUTBOX``.
9. AWS's rules that moto does not enforce (``aws_rules.py``: one Metrics Insights query per
   ``GetMetricData``, the ``FilterLogEvents`` quota, SNS subject and size limits, ...), so the demo refuses
   what AWS refuses. Installed after every patch here, so that each rule wraps the patched method.
11. CloudWatch ``SEARCH`` expressions in ``GetMetricData`` (``metric_search.py``; the kill alerts' memory
   history uses one).
10. AWS's public Powertools parameters (``/aws/service/powertools/...``): moto has none and refuses to
   create a reserved ``/aws/`` name, so the demo may ``PutParameter`` exactly that path (the template reads
   the Powertools layer's ARN from it at deploy time).
11. EventBridge schedule rules match no event: moto matches ``PutEvents`` against every rule of the bus, and a
   schedule rule (no pattern) "matched" every event OOMWatch puts, sending it to the digest function's target
   (moto cannot invoke it: the call failed). On AWS a rule with a ``ScheduleExpression`` only fires on its
   schedule.

Moto assigns EC2 instance ids at random and has no API to choose one, but the demo plays log streams named
after instance ids the user picked (``--log i-0abc...=FILE``) and the handlers look those instances up. Moto's
own convention for caller-chosen ids is the ``_custom_id_`` tag (``moto.utilities.id_generator``); EC2
instances do not honour it in moto 5.2, so this launcher adds that for ``RunInstances`` with ``MinCount=1``.
The tag itself is dropped, so ``DescribeInstances`` shows only the caller's real tags. Likewise a
``_launch_time_`` tag (ISO 8601) sets the instance's ``LaunchTime``: a demo host was up before the kills its
log shows, while moto stamps the call's time.

Run as a script (``python _moto_launcher.py -H 127.0.0.1 -p PORT``); the arguments are moto_server's own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudwatch.models import (
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult
from moto.ec2.models import instances as _instances
from moto.events.models import Rule as _EventsRule
from moto.logs.models import LogEvent
from moto.server import main as _moto_main
from moto.sns.models import Subscription, sns_backends
from moto.ssm.models import SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

try:  # run as a script (python _moto_launcher.py), this file's folder is first on sys.path
    import aws_rules  # type: ignore[import-not-found,unused-ignore]
    import metric_search  # type: ignore[import-not-found,unused-ignore]
    from emulator import CHAT_ENDPOINT  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # imported as part of the package
    from demo import aws_rules, metric_search
    from demo.emulator import CHAT_ENDPOINT

CUSTOM_ID_TAG = "_custom_id_"
LAUNCH_TIME_TAG = "_launch_time_"  # ISO 8601: the instance's LaunchTime (moto: the call's time)

_pending = threading.local()
_random_instance_id = _instances.random_instance_id  # type: ignore[attr-defined]
_run_instances = _instances.InstanceBackend.run_instances


def _instance_id() -> str:
    wanted: list[str] = getattr(_pending, "ids", [])
    if wanted:
        return wanted.pop(0)
    return _random_instance_id()


def _run_instances_with_custom_id(
    self: Any, image_id: str, count: int, user_data: Any, security_group_names: list[str], **kwargs: Any
) -> Any:
    tags: dict[str, dict[str, str]] = kwargs.get("tags") or {}
    custom = tags.get("instance", {}).pop(CUSTOM_ID_TAG, None)
    launched = tags.get("instance", {}).pop(LAUNCH_TIME_TAG, None)
    if custom is None:
        reservation = _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    else:
        if count != 1 or any(instance.id == custom for instance in self.all_instances()):
            from moto.ec2.exceptions import InvalidParameterValueError

            raise InvalidParameterValueError(f"{CUSTOM_ID_TAG}={custom} needs MinCount=1 and an unused id")
        _pending.ids = [custom]
        try:
            reservation = _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
        finally:
            _pending.ids = []
    if launched is not None:  # the demo's hosts were up before the kills their logs show
        for instance in reservation.instances:
            instance.launch_time = dt.datetime.fromisoformat(launched).astimezone(dt.UTC).replace(tzinfo=None)
    return reservation


_OUTBOX = os.environ.get("OOMWATCH_DEMO_OUTBOX")
_outbox_lock = threading.Lock()
_subscription_publish = Subscription.publish


def _publish_and_catch_mail(
    self: Any, message: str, message_id: str, subject: str | None = None, **kwargs: Any
) -> None:
    chat = self.protocol == "https" and self.endpoint == CHAT_ENDPOINT
    if not chat:  # moto would POST to the real endpoint
        _subscription_publish(self, message, message_id, subject, **kwargs)
    if _OUTBOX is None or not (chat or self.protocol in ("email", "email-json")):
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(kwargs.get("message_attributes"), message):
        return
    if kwargs.get("message_structure") == "json":
        message = self._parse_message_structure(message, self.protocol)
    record = {
        "topic": self.topic.arn,
        "subscription": self.arn,
        "protocol": self.protocol,
        "endpoint": self.endpoint,
        "subject": subject,
        "message": message,
        "message_id": message_id,
    }
    with _outbox_lock, open(_OUTBOX, "a", encoding="utf-8") as outbox:
        outbox.write(json.dumps(record) + "\n")


PUBLIC_POWERTOOLS_PREFIX = "/aws/service/powertools/"
_put_parameter = SimpleSystemManagerBackend.put_parameter


def _put_parameter_allowing_public_powertools(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """moto's PutParameter, except that a name under :data:`PUBLIC_POWERTOOLS_PREFIX` is allowed: it is made
    under a plain name, then moved (every version renamed) to the reserved one."""
    if not name.startswith(PUBLIC_POWERTOOLS_PREFIX):
        return _put_parameter(self, name, *args, **kwargs)
    plain = "/oomwatch-demo-public" + name
    if name in self._parameters:
        self._parameters[plain] = self._parameters.pop(name)
    parameter = _put_parameter(self, plain, *args, **kwargs)
    versions = self._parameters.pop(plain)
    for version in versions:
        version.name = name
    self._parameters[name] = versions
    return parameter


_log_event_init = LogEvent.__init__
_event_counter = [0]
_event_lock = threading.Lock()


def _log_event_with_cloudwatch_id(self: Any, ingestion_time: int, log_event: dict[str, Any]) -> None:
    _log_event_init(self, ingestion_time, log_event)
    with _event_lock:
        _event_counter[0] += 1
        sequence = _event_counter[0]
    # 56 digits: the ingestion time in the high bits, then a per-server sequence number.
    self.event_id = str((int(ingestion_time) << 143) | sequence).zfill(56)[-56:]


LogEvent.__init__ = _log_event_with_cloudwatch_id  # type: ignore[method-assign]
_INSIGHTS = re.compile(
    r"""^SELECT\s+(?P<agg>AVG|MAX|MIN|SUM|COUNT)\((?P<metric>[\w.-]+)\)\s+
        FROM\s+(?:SCHEMA\(\s*"?(?P<schema_ns>[^",)]+)"?(?P<schema_dims>(?:\s*,\s*[\w.-]+)*)\s*\)|"?(?P<ns>[^"\s]+)"?)
        (?:\s+WHERE\s+(?P<where>.+?))?
        (?:\s+GROUP\s+BY\s+(?P<group>[\w.,\s-]+?))?
        (?:\s+ORDER\s+BY\s+(?P<order_agg>AVG|MAX|MIN|SUM|COUNT)\(\)\s*(?P<order>ASC|DESC)?)?
        (?:\s+LIMIT\s+(?P<limit>\d+))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "AVG": lambda v: sum(v) / len(v),
    "MAX": max,
    "MIN": min,
    "SUM": sum,
    "COUNT": lambda v: float(len(v)),
}


def _insights(backend: Any, query: dict[str, Any], start: Any, end: Any, scan_by: str) -> list[dict[str, Any]]:  # noqa: C901 - one branch per Logs Insights command the emulator understands
    m = _INSIGHTS.match(" ".join(query["Expression"].split()))
    if m is None:
        raise ValueError(f"Metrics Insights query not supported by the demo emulator: {query['Expression']}")
    namespace = m.group("schema_ns") or m.group("ns")
    schema = [d.strip() for d in (m.group("schema_dims") or "").split(",") if d.strip()]
    where = []
    for clause in re.split(r"\s+AND\s+", m.group("where") or "", flags=re.IGNORECASE):
        if clause.strip():
            key, _, value = clause.partition("=")
            where.append((key.strip(), value.strip().strip("'\"")))
    groups = [g.strip() for g in (m.group("group") or "").split(",") if g.strip()]
    aggregate = _AGGREGATE[m.group("agg").upper()]
    period = int(query.get("Period", 60))
    series: dict[tuple[str, ...], dict[int, list[float]]] = {}
    for datum in backend.get_all_metrics():
        if datum.namespace != namespace or datum.name != m.group("metric") or not start <= datum.timestamp < end:
            continue
        dims = {d.name: d.value for d in datum.dimensions}
        if m.group("schema_ns") and sorted(dims) != sorted(schema):
            continue  # SCHEMA(ns, a, b) matches exactly the dimension set {a, b}
        if any(dims.get(k) != v for k, v in where):
            continue
        key = tuple(dims.get(g, "Other") for g in groups)
        bucket = int(datum.timestamp.timestamp()) // period * period
        series.setdefault(key, {}).setdefault(bucket, []).append(float(datum.value))
    results = []
    for key, buckets in series.items():
        stamps = sorted(buckets, reverse=scan_by == "TimestampDescending")
        values = [aggregate(buckets[t]) for t in stamps]
        results.append((aggregate([v for b in buckets.values() for v in b]), key, stamps, values))
    order = (m.group("order") or "DESC").upper()
    if m.group("order_agg"):
        results.sort(key=lambda r: r[0], reverse=order == "DESC")
    if m.group("limit"):
        results = results[: int(m.group("limit"))]
    return [
        {
            "id": query["Id"],
            "label": " ".join(key) if key else (query.get("Label") or query["Id"]),
            "values": values,
            "timestamps": [dt.datetime.fromtimestamp(t, dt.UTC) for t in stamps],
            "status_code": "Complete",
        }
        for _, key, stamps, values in results
    ]


_get_metric_data = CloudWatchBackend.get_metric_data


def _get_metric_data_with_insights(
    self: Any, queries: list[dict[str, Any]], start_time: Any, end_time: Any, scan_by: str = "TimestampAscending"
) -> list[dict[str, Any]]:
    insights = [q for q in queries if str(q.get("Expression", "")).lstrip().upper().startswith("SELECT")]
    others = [q for q in queries if q not in insights]
    results = _get_metric_data(self, others, start_time, end_time, scan_by) if others else []
    for query in insights:
        if query.get("ReturnData", True):
            results += _insights(
                self, query, start_time.replace(microsecond=0), end_time.replace(microsecond=0), scan_by
            )
    return results


def _describe_alarm_contributors(self: Any) -> ActionResult:
    name = self._get_param("AlarmName")
    alarm = self.cloudwatch_backend.alarms.get(name)
    contributors = []
    if alarm is not None and alarm.state_value == "ALARM":
        data = json.loads(alarm.state_reason_data or "{}")
        for attributes in data.get("contributors", []):
            contributors.append(
                {
                    "ContributorId": hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()[:16],
                    "ContributorAttributes": attributes,
                    "StateReason": alarm.state_reason,
                    "StateTransitionedTimestamp": alarm.state_updated_timestamp,
                }
            )
    return ActionResult({"AlarmContributors": contributors})


def _send_unless_scheduled(self: Any, event: Any, transform_input: bool = True) -> None:
    if getattr(self, "scheduled_expression", None):
        return  # a schedule rule: fires on its schedule, never on a put event
    _send_to_targets(self, event, transform_input)


_send_to_targets = _EventsRule.send_to_targets

_EventsRule.send_to_targets = _send_unless_scheduled  # type: ignore[method-assign,assignment]
CloudWatchBackend.get_metric_data = _get_metric_data_with_insights  # type: ignore[method-assign]
metric_search.install()  # SEARCH expressions, on top of the Metrics Insights ones
CloudWatchResponse.describe_alarm_contributors = _describe_alarm_contributors  # type: ignore[attr-defined]
Subscription.publish = _publish_and_catch_mail  # type: ignore[method-assign,assignment]
SimpleSystemManagerBackend.put_parameter = _put_parameter_allowing_public_powertools  # type: ignore[method-assign]
_instances.random_instance_id = _instance_id  # type: ignore[attr-defined]
_instances.InstanceBackend.run_instances = _run_instances_with_custom_id  # type: ignore[method-assign]
# The rules last: each wraps the method as patched above, so no patch here replaces a rule's check (the
# PutParameter patch did: installed first, the rule's wrapper was overwritten and ssm-1 never ran here).
aws_rules.install()


def _queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery] | None:
    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            inner = stat.get("Metric", {})
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=inner.get("MetricName"),
                    namespace=inner.get("Namespace"),
                    dimensions=[Dimension(d["Name"], d["Value"]) for d in inner.get("Dimensions", [])],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric.get("Id", ""),
                label=metric.get("Label", ""),
                period=metric.get("Period", ""),
                return_data=metric.get("ReturnData", True),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class CfnAlarm(CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` for moto's CloudFormation (Ref: the name; GetAtt: Arn)."""

    __module__ = "moto.cloudwatch.oomwatch_demo"  # moto's model registry files models by service

    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnAlarm:
        props = cloudformation_json.get("Properties", {})
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=resource_name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            metric_data_queries=_queries(props.get("Metrics", [])),
            comparison_operator=props.get("ComparisonOperator"),
            evaluation_periods=props.get("EvaluationPeriods"),
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            period=props.get("Period"),
            threshold=props.get("Threshold"),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions", [])],
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
            threshold_metric_id=props.get("ThresholdMetricId"),
        )
        return cls(alarm.name, alarm.alarm_arn)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CfnAlarm,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CfnAlarm:
        cloudwatch_backends[account_id][region_name].delete_alarms([original_resource.name])
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    def is_created(self) -> bool:
        return True


class CfnSubscription(CloudFormationModel):
    """``AWS::SNS::Subscription`` for moto's CloudFormation (Ref: the subscription ARN)."""

    __module__ = "moto.sns.oomwatch_demo"

    def __init__(self, arn: str) -> None:
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnSubscription:
        props = cloudformation_json.get("Properties", {})
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        for key in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
            if key in props:
                value = props[key]
                text = value if isinstance(value, str) else json.dumps(value)
                backend.set_subscription_attributes(
                    subscription.arn, key, str(text).lower() if key == "RawMessageDelivery" else text
                )
        return cls(subscription.arn)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CfnSubscription,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CfnSubscription:
        sns_backends[account_id][region_name].unsubscribe(original_resource.arn)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None

    def is_created(self) -> bool:
        return True


class CfnAssociation(CloudFormationModel):
    """``AWS::SSM::Association`` for moto's CloudFormation (Ref and GetAtt AssociationId: a stable UUID)."""

    __module__ = "moto.ssm.oomwatch_demo"

    def __init__(self, association_id: str) -> None:
        self.association_id = association_id

    @property
    def physical_resource_id(self) -> str:
        return self.association_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AssociationName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SSM::Association"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "AssociationId"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "AssociationId":
            return self.association_id
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnAssociation:
        import uuid

        return cls(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account_id}/{region_name}/{resource_name}")))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CfnAssociation,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CfnAssociation:
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None

    def is_created(self) -> bool:
        return True


_SSM_FILE = os.environ.get("OOMWATCH_DEMO_SSM")


def _ssm_world() -> dict[str, Any]:
    """The emulated association runs and managed nodes (``rollout_story.SsmWorld``); empty if none yet."""
    if not _SSM_FILE or not os.path.exists(_SSM_FILE):
        return {"runs": [], "nodes": []}
    with open(_SSM_FILE, encoding="utf-8") as handle:
        world: dict[str, Any] = json.load(handle)
    return world


def _ssm_error(self: Any, code: str, message: str) -> tuple[int, dict[str, str], str]:
    return 400, {}, json.dumps({"__type": code, "message": message})


def _describe_association_executions(self: Any) -> Any:
    wanted = self._get_param("AssociationId")
    runs = [r for r in _ssm_world()["runs"] if r["association_id"] == wanted]
    runs.sort(key=lambda r: r["created"], reverse=True)
    return json.dumps(
        {
            "AssociationExecutions": [
                {"AssociationId": r["association_id"], "ExecutionId": r["execution_id"], "CreatedTime": r["created"]}
                for r in runs[: int(self._get_param("MaxResults") or 50)]
            ]
        }
    )


def _describe_association_execution_targets(self: Any) -> Any:
    execution = self._get_param("ExecutionId")
    resource = next((f["Value"] for f in self._get_param("Filters") or [] if f["Key"] == "ResourceId"), None)
    runs = [r for r in _ssm_world()["runs"] if r["execution_id"] == execution and resource in (None, r["instance_id"])]
    return json.dumps(
        {
            "AssociationExecutionTargets": [
                {
                    "AssociationId": r["association_id"],
                    "ExecutionId": r["execution_id"],
                    "ResourceId": r["instance_id"],
                    "ResourceType": "ManagedInstance",
                    "OutputSource": {"OutputSourceId": r["command_id"], "OutputSourceType": "RunCommand"},
                }
                for r in runs
            ]
        }
    )


def _describe_instance_information(self: Any) -> Any:
    nodes = _ssm_world()["nodes"]
    for f in self._get_param("Filters") or []:
        key, values = f["Key"], f["Values"]
        if key == "PingStatus":
            nodes = [n for n in nodes if n["ping"] in values]
        elif key.startswith("tag:"):
            nodes = [n for n in nodes if n["tags"].get(key[4:]) in values]
    return json.dumps(
        {
            "InstanceInformationList": [
                {
                    "InstanceId": n["instance_id"],
                    "PingStatus": n["ping"],
                    "PlatformType": "Linux",
                    "ResourceType": "EC2Instance",
                }
                for n in nodes
            ]
        }
    )


def _get_command_invocation(self: Any) -> Any:
    command, instance, plugin = (self._get_param(k) for k in ("CommandId", "InstanceId", "PluginName"))
    run = next((r for r in _ssm_world()["runs"] if r["command_id"] == command), None)
    if run is None:
        return _moto_get_command_invocation(self)
    step = run["steps"].get(plugin or "")
    if run["instance_id"] != instance or step is None:
        # AWS: a document with more than one step needs PluginName (GetCommandInvocation, API Reference)
        return _ssm_error(self, "InvalidPluginName", f"no step {plugin!r} in command {command}")
    return json.dumps(
        {
            "CommandId": command,
            "InstanceId": instance,
            "PluginName": plugin,
            "Status": step["status"],
            "StandardOutputContent": step["stdout"][:24_000],
            "StandardErrorContent": step["stderr"][:8_000],
        }
    )


_moto_get_command_invocation = SimpleSystemManagerResponse.get_command_invocation
SimpleSystemManagerResponse.describe_association_executions = _describe_association_executions  # type: ignore[attr-defined]
SimpleSystemManagerResponse.describe_association_execution_targets = _describe_association_execution_targets  # type: ignore[attr-defined]
SimpleSystemManagerResponse.describe_instance_information = _describe_instance_information  # type: ignore[attr-defined]
SimpleSystemManagerResponse.get_command_invocation = _get_command_invocation  # type: ignore[method-assign]


if __name__ == "__main__":
    _moto_main(sys.argv[1:])
