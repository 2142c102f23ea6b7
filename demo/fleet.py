"""The demo fleet in the emulator: EC2 instances (tagged for oomwatch, with Name tags, instance types and
Auto Scaling groups), their CloudWatch agent memory metrics, and the fleet memory alarm's state change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from demo.emulator import ACCOUNT, REGION

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
DEFAULT_TAG = ("oomwatch:enabled", "true")
#: The demo's launcher sets an instance's LaunchTime from this tag (see _moto_launcher.py).
LAUNCH_TIME_TAG = "_launch_time_"


@dataclass(frozen=True)
class Host:
    instance_id: str
    name: str
    instance_type: str
    asg: str | None
    availability_zone: str = f"{REGION}a"
    platform: str = "Linux/UNIX"
    #: The report's "Total swap" (None: the log does not say): a host without swap publishes 0 % swap used.
    swap_total_kb: int | None = None
    #: How long before being seeded the host was launched: before its first kill, by the kernel's uptime.
    launched_before_s: float | None = None


def seed_instances(
    ec2: Any, autoscaling: Any, hosts: list[Host], tag: tuple[str, str] = DEFAULT_TAG, now: dt.datetime | None = None
) -> None:
    """RunInstances with the ids the log streams use (see _moto_launcher.py), then attach to their ASGs."""
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    now = now or dt.datetime.now(dt.UTC)
    for host in hosts:
        if not INSTANCE_ID.match(host.instance_id):
            raise ValueError(f"not an EC2 instance id: {host.instance_id!r}")
        tags = [
            {"Key": "Name", "Value": host.name},
            {"Key": tag[0], "Value": tag[1]},
            {"Key": "_custom_id_", "Value": host.instance_id},
        ]
        if host.launched_before_s is not None:
            launched = now - dt.timedelta(seconds=host.launched_before_s)
            tags.append({"Key": LAUNCH_TIME_TAG, "Value": launched.isoformat(timespec="seconds")})
        ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType=host.instance_type,
            Placement={"AvailabilityZone": host.availability_zone},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
    groups: dict[str, list[Host]] = {}
    for host in hosts:
        if host.asg:
            groups.setdefault(host.asg, []).append(host)
    for group, members in groups.items():
        existing = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        if existing:
            size = len(existing[0].get("Instances", [])) + len(members)
            autoscaling.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=max(size, existing[0]["MaxSize"]))
            autoscaling.attach_instances(AutoScalingGroupName=group, InstanceIds=[m.instance_id for m in members])
            continue
        template = f"{group}-lt"
        ec2.create_launch_template(
            LaunchTemplateName=template,
            LaunchTemplateData={"ImageId": image, "InstanceType": members[0].instance_type},
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=group,
            LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
            MinSize=0,
            MaxSize=max(4, len(members)),
            DesiredCapacity=0,
            AvailabilityZones=sorted({m.availability_zone for m in members}),
            Tags=[{"Key": "Name", "Value": group, "PropagateAtLaunch": False}],
        )
        autoscaling.attach_instances(AutoScalingGroupName=group, InstanceIds=[m.instance_id for m in members])


def put_memory_metrics(cloudwatch: Any, ec2: Any, hosts: list[Host], hot: str, now: dt.datetime) -> None:
    """``mem_used_percent``/``swap_used_percent`` as the agent publishes them (namespace CWAgent), for the
    last 10 minutes: every host calm, ``hot`` climbing past 90 %. Written with OOMWatch's own dimension set
    ``{InstanceId, host}`` (what the fleet alarms select), and, as a host with the agent wizard's standard
    configuration adds, its per-instance roll-up (``aggregation_dimensions: [["InstanceId"]]``) and its full
    ``append_dimensions`` set."""
    images = {
        i["InstanceId"]: i["ImageId"]
        for r in ec2.describe_instances(InstanceIds=[h.instance_id for h in hosts])["Reservations"]
        for i in r["Instances"]
    }
    data = []
    for host in hosts:
        for minute in range(10, 0, -1):
            stamp = (now - dt.timedelta(minutes=minute)).replace(second=0, microsecond=0)
            climbing = host.instance_id == hot
            mem = 71.0 + (10 - minute) * 2.9 if climbing else 42.0 + (minute % 3)
            # gopsutil's used percent is 0 on a host without swap: the report's "Total swap = 0kB" decides.
            swap = 8.0 + (10 - minute) * 6.1 if climbing and has_swap(host) else 0.0
            full = [
                {"Name": "InstanceId", "Value": host.instance_id},
                {"Name": "ImageId", "Value": images[host.instance_id]},
                {"Name": "InstanceType", "Value": host.instance_type},
            ]
            if host.asg:
                full.append({"Name": "AutoScalingGroupName", "Value": host.asg})
            own = [{"Name": "InstanceId", "Value": host.instance_id}, {"Name": "host", "Value": host.name}]
            for dims in (own, [{"Name": "InstanceId", "Value": host.instance_id}], full):
                data.append({"MetricName": "mem_used_percent", "Dimensions": dims, "Timestamp": stamp,
                             "Value": round(mem, 1), "Unit": "Percent"})  # fmt: skip
                data.append({"MetricName": "swap_used_percent", "Dimensions": dims, "Timestamp": stamp,
                             "Value": round(swap, 1), "Unit": "Percent"})  # fmt: skip
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="CWAgent", MetricData=data[start : start + 500])


def has_swap(host: Host) -> bool:
    """Unknown counts as none: the demo claims no swap use that the log does not show."""
    return bool(host.swap_total_kb)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def contributor_id(attributes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()[:16]


def alarm_events(
    alarm_name: str,
    alarm_properties: dict[str, Any],
    instance_id: str,
    value: float,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """The two events CloudWatch sends to EventBridge when one contributor of a multi-time-series (Metrics
    Insights ``GROUP BY``) alarm goes to ALARM: the contributor's and the alarm's own state change (formats
    from "Alarm events and EventBridge" in the CloudWatch user guide)."""
    threshold = float(alarm_properties.get("Threshold", 90))
    periods = int(alarm_properties.get("EvaluationPeriods", 1))
    to_alarm = int(alarm_properties.get("DatapointsToAlarm", periods))
    metrics = []
    for metric in alarm_properties.get("Metrics") or []:
        entry: dict[str, Any] = {"id": metric.get("Id", "m1"), "returnData": metric.get("ReturnData", True)}
        if "Expression" in metric:
            entry["expression"] = metric["Expression"]
        if "Period" in metric:
            entry["period"] = metric["Period"]
        if "Label" in metric:
            entry["label"] = metric["Label"]
        metrics.append(entry)
    configuration: dict[str, Any] = {"metrics": metrics}
    if alarm_properties.get("AlarmDescription"):
        configuration["description"] = alarm_properties["AlarmDescription"]
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}"
    time = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    sample_time = (now - dt.timedelta(minutes=1)).strftime("%d/%m/%y %H:%M:00")
    attributes = {"InstanceId": instance_id}
    contributor = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm Contributor State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [arn],
        "detail": {
            "alarmName": alarm_name,
            "alarmContributor": {"id": contributor_id(attributes), "attributes": attributes},
            "state": {
                "value": "ALARM",
                "reason": (
                    f"Threshold Crossed: {to_alarm} out of the last {periods} datapoints were greater than the "
                    f"threshold ({threshold}). The most recent datapoint which crossed the threshold: "
                    f"[{value} ({sample_time})]."
                ),
                "timestamp": _stamp(now),
            },
            "configuration": configuration,
        },
    }
    alarm = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [arn],
        "detail": {
            "alarmName": alarm_name,
            "state": {
                "value": "ALARM",
                "reason": "1 out of 1 time series evaluated to ALARM",
                "timestamp": _stamp(now),
            },
            "previousState": {
                "value": "OK",
                "reason": "0 out of 1 time series evaluated to ALARM",
                "timestamp": _stamp(now - dt.timedelta(hours=2)),
            },
            "configuration": configuration,
        },
    }
    return [contributor, alarm]


def scheduled_event(rule_arn: str, now: dt.datetime) -> dict[str, Any]:
    """What EventBridge Scheduler-style rules (``rate(...)``) send to their target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }
