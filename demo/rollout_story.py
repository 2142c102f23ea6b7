"""The demo's rollout story: a configuration change reaching a host, a failed rollout, and a silent host.

Three short scenes on the deployed demo stack, each saying what is real and what is emulated:

1. **A configuration change reaches a host.** No emulator runs SSM documents on hosts, so the host is
   :class:`demo.agent_host.EmulatedHost` (the agent's merge rules from :mod:`agent_config.merge_model`):
   it first gets the configuration of another ``log_mode``, then the deployed one, which *replaces* it.
2. **An association failure notice.** A host whose own agent configuration has the agent wizard's ``mem``
   and ``swap`` sections refuses OOMWatch's file (the merge model says so, in the agent's words). The
   association run and its EventBridge event are emulated (moto has no associations); the deployed rule's
   pattern, the deployed association-notice function, DynamoDB, EC2 and SNS are the emulator's.
3. **A coverage notice.** One more tagged, SSM-managed instance that sends no metrics. The managed-node list
   is emulated (moto has no DescribeInstanceInformation); the metrics, the Metrics Insights query and the
   deployed digest function's coverage check are the emulator's.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from agent_config.builder import LogMode, build_agent_config, config_digest
from agent_config.merge_model import Host as AgentFiles
from agent_config.merge_model import MergeError
from demo import fleet, render
from demo.agent_host import EmulatedHost, Rollout, agent_output
from demo.emulator import ACCOUNT, REGION

if TYPE_CHECKING:
    from demo.pipeline import Demo

#: The extra hosts of the story: one whose own agent configuration conflicts, one that never reports.
#: Up for 2 hours and 1 hour: past the coverage check's 15-minute launch grace.
CONFLICTING = fleet.Host("i-0d1e2f3a4b5c60789", "reports-1", "t3.large", None, launched_before_s=2 * 3600)
SILENT = fleet.Host("i-0e5d4c3b2a1f09876", "batch-7", "t3.small", None, launched_before_s=3600)

#: The agent wizard's standard plan, trimmed to what conflicts: its own mem and swap sections.
WIZARD_CONFIG: dict[str, Any] = {
    "metrics": {
        "append_dimensions": {"ImageId": "${aws:ImageId}", "InstanceId": "${aws:InstanceId}"},
        "metrics_collected": {
            "mem": {"measurement": ["mem_used_percent"], "metrics_collection_interval": 60},
            "swap": {"measurement": ["swap_used_percent"], "metrics_collection_interval": 60},
        },
    }
}
SCRIPT_REFUSAL = (
    "OOMWatch: the agent refused configuration {name} (see above). If it says Different values are specified,"
    " this host's own agent configuration sets the same key differently: see OOMWatch's docs/configuration.md"
    " (Hosts with their own agent configuration).\n"
)


@dataclass
class Story:
    change_log: list[str] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    emulated: list[str] = field(default_factory=list)


def run(demo: Demo, progress: Callable[[str], None] = lambda _m: None) -> Story:
    """Play the three scenes against the deployed demo; returns what to print."""
    story = Story()
    template = demo.asm.stack(demo.asm.stacks[0].name).template
    log_group = demo.physical_id(demo.asm.stacks[0].name, "SyslogLogGroup")
    deployed = Rollout.from_template(template, log_group)

    # 1. a configuration change reaching a host
    progress("rollout story: a configuration change reaching an emulated host")
    previous_mode: LogMode = "full" if deployed.configuration != _config(log_group, "full") else "kernel"
    before = Rollout(
        parameter_name=deployed.parameter_name,
        configuration=_config(log_group, previous_mode),
        digest=config_digest(log_mode=previous_mode, log_sources="both"),
        log_group_name=log_group,
        stale_pattern=deployed.stale_pattern,
    )
    host = EmulatedHost()
    host.apply(before)
    host.apply(deployed)
    host.apply(deployed)
    story.change_log = [f"log_mode={previous_mode} deployed, then the current one:", *host.log]
    story.change_log.append(f"files on the host: {sorted(host.agent.files)} (one OOMWatch file, replaced)")
    story.emulated.append("the host's agent: agent_config.merge_model via demo/agent_host.py (no SSM run)")

    # 2. an association failure notice
    progress(f"rollout story: the association fails on {CONFLICTING.instance_id} (its own mem/swap sections)")
    ec2 = demo.aws.client("ec2")
    fleet.seed_instances(ec2, demo.aws.client("autoscaling"), [CONFLICTING, SILENT], demo.fleet_tag())
    own = AgentFiles(files={"file_amazon-cloudwatch-agent.json": WIZARD_CONFIG})
    try:
        own.ctl("append-config", deployed.parameter_name, deployed.configuration)
        stderr = ""
    except MergeError as refused:
        stderr = agent_output(refused) + SCRIPT_REFUSAL.format(name=deployed.parameter_name)
    (association_id,) = [
        demo.physical_id(s.name, lid) for s in demo.asm.stacks for lid in s.of_type("AWS::SSM::Association")
    ]
    now = dt.datetime.now(dt.UTC)
    run_ = {
        "association_id": association_id,
        "execution_id": str(uuid.uuid4()),
        "created": now.timestamp(),
        "instance_id": CONFLICTING.instance_id,
        "command_id": str(uuid.uuid4()),
        "steps": {
            "installAgent": {
                "status": "Success",
                "stdout": "Successfully installed AmazonCloudWatchAgent",
                "stderr": "",
            },
            "configureAgent": {"status": "Failed", "stdout": "", "stderr": stderr},
        },
    }
    tag_key, tag_value = demo.fleet_tag()
    nodes = [
        {"instance_id": h.instance_id, "tags": {tag_key: tag_value}, "ping": "Online"}
        for h in [*demo.hosts, CONFLICTING, SILENT]
    ]
    demo.aws.ssm_world.write_text(json.dumps({"runs": [run_], "nodes": nodes}))
    story.emulated.append(
        "State Manager: the association run, its step output and its EventBridge event (moto has no associations)"
    )
    event = _association_event(association_id, CONFLICTING.instance_id, now)
    for rule, fn, static_input in demo.rule_targets(event):
        demo.invoke_async(f"events:{rule.logical_id}:{event['detail-type']}", fn, static_input or event)
    story.notices += demo.drain_topic()

    # 3. a coverage notice
    progress(f"rollout story: coverage check, {SILENT.instance_id} ({SILENT.name}) sends no metrics")
    fleet.put_memory_metrics(
        demo.aws.client("cloudwatch"), ec2, [*demo.hosts, CONFLICTING], hot="", now=dt.datetime.now(dt.UTC)
    )
    story.emulated.append("SSM managed nodes (DescribeInstanceInformation): the demo's list, every host Online")
    # The flow's own digest run may have done this hour's check already (before these hosts existed).
    table = demo.physical_id(demo.asm.stacks[0].name, "StateTable")
    demo.aws.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": "coverage#fleet"}})
    story.emulated.append("the coverage check's hourly clock reset (coverage#fleet deleted) so it runs now")
    demo.run_schedules()
    story.notices += demo.drain_topic()
    return story


def print_story(story: Story, out: TextIO, mails: dict[str, list[dict[str, Any]]] | None = None) -> None:
    """The scenes as e-mailed (``mails``: the emulator's mail catcher, by SNS message id)."""
    print("\n=== Rollout: a configuration change, a failed rollout, a silent host ===\n", file=out)
    for line in story.change_log:
        print(f"  {line}", file=out)
    for notice in story.notices:
        subject = str(notice.get("subject") or "")
        if not subject.startswith(("[OOMWatch rollout", "[OOMWatch coverage")):
            continue
        print("\n" + render.email(notice, (mails or {}).get(str(notice.get("message_id")), [])), file=out)
    print("Emulated in this part:", file=out)
    for item in story.emulated:
        print(f"  - {item}", file=out)


def _config(log_group: str, mode: LogMode) -> dict[str, Any]:
    return build_agent_config(log_group_name=log_group, log_mode=mode, log_sources="both")


def _association_event(association_id: str, instance_id: str, now: dt.datetime) -> dict[str, Any]:
    """State Manager's event for one host's failed run (shape of the user guide's example)."""
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 State Manager Instance Association State Change",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": stamp,
        "region": REGION,
        "resources": [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}"],
        "detail": {
            "association-id": association_id,
            "instance-id": instance_id,
            "document-name": "OomWatch-AgentRolloutDocument",
            "document-version": "1",
            "status": "Failed",
            "detailed-status": "Failed",
            "error-code": "",
            "execution-summary": "2 out of 2 plugins processed, 1 success, 1 failed",
            "last-execution-date": stamp,
            "instance-association-cwe-version": "1",
        },
    }
