"""Lambda ``service.handlers.association.handler``: a readable notice when OOMWatch's rollout fails on a host.

Input: EventBridge ``EC2 State Manager Instance Association State Change`` events (source ``aws.ssm``) of
OOMWatch's own association only (the rule matches its ``association-id``; this handler checks it again),
with ``status`` Failed, TimedOut or Success.

* Failed / TimedOut: read what the steps wrote (:func:`step_outputs`), classify it
  (:func:`service.logic.rollout_notices.classify_failure`), and publish one notice per host and failure kind until
  the host succeeds again (``rollout#<instance>`` items, :mod:`service.dal.state.notices`).
* Success after an announced failure: one "fixed" notice, and the host's record is deleted.

The event carries no command id, so the output is found in three steps (all bounded, FAST timeouts):
``ssm:DescribeAssociationExecutions`` (the association's newest runs), ``ssm:DescribeAssociationExecutionTargets``
(this host's row in a run: ``OutputSource.OutputSourceId`` is the Run Command id), then
``ssm:GetCommandInvocation`` per step (a document with several steps needs ``PluginName``; stdout is capped
by AWS at 24,000 characters, stderr at 8,000: AWS Systems Manager API Reference). Any failure there degrades
the notice ("output not available"), never drops it. The EC2 Name tag comes from ``ec2:DescribeInstances``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.dal.clients import AwsError, error_code
from service.logic.ports import PublishFailed, Runtime
from service.logic.rollout_notices import (
    CONFIGURE_STEP,
    FAILED_STATUSES,
    INSTALL_STEP,
    AssociationChange,
    StepOutput,
    classify_failure,
    parse_association_event,
    parse_time,
    render_failure_notice,
    render_fixed_notice,
)
from service.wiring import PowertoolsTelemetry, runtime

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)

#: Runs of the association looked at to find this host's command (newest first).
MAX_EXECUTIONS = 3
STEPS = (INSTALL_STEP, CONFIGURE_STEP)


def command_id(rt: Runtime, change: AssociationChange) -> str | None:
    """The Run Command id of this host's newest run of the association, or None."""
    ssm = rt.clients.ssm
    kwargs: dict[str, Any] = {"AssociationId": change.association_id, "MaxResults": 10}
    started = parse_time(change.execution_date)
    if started is not None:
        since = (started - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        kwargs["Filters"] = [{"Key": "CreatedTime", "Value": since, "Type": "GREATER_THAN"}]
    executions = ssm.describe_association_executions(**kwargs).get("AssociationExecutions") or []
    executions.sort(key=lambda e: str(e.get("CreatedTime") or ""), reverse=True)
    for execution in executions[:MAX_EXECUTIONS]:
        targets = (
            ssm.describe_association_execution_targets(
                AssociationId=change.association_id,
                ExecutionId=execution["ExecutionId"],
                Filters=[{"Key": "ResourceId", "Value": change.instance_id}],
            ).get("AssociationExecutionTargets")
            or []
        )
        for target in targets:
            source = target.get("OutputSource") or {}
            if source.get("OutputSourceId"):
                return str(source["OutputSourceId"])
    return None


def step_outputs(rt: Runtime, change: AssociationChange, notes: list[str]) -> list[StepOutput]:
    """What each step of the rollout document reported on the host; [] (and a note) when unreadable."""
    try:
        command = command_id(rt, change)
    except AwsError as exc:
        notes.append(f"Step output left out: the association's runs could not be read ({error_code(exc)}).")
        return []
    if command is None:
        notes.append("The step output could not be read: no run of the association names this host's command.")
        return []
    outputs: list[StepOutput] = []
    for step in STEPS:
        try:
            inv = rt.clients.ssm.get_command_invocation(
                CommandId=command, InstanceId=change.instance_id, PluginName=step
            )
        except AwsError as exc:
            notes.append(f"Output of step {step} left out: ssm:GetCommandInvocation failed ({error_code(exc)}).")
            continue
        outputs.append(
            StepOutput(
                step=step,
                status=str(inv.get("Status") or ""),
                stdout=str(inv.get("StandardOutputContent") or ""),
                stderr=str(inv.get("StandardErrorContent") or ""),
            )
        )
    return outputs


def _name(rt: Runtime, instance_id: str, notes: list[str]) -> str | None:
    lookup = rt.directory.lookup([instance_id])
    notes.extend(lookup.notes)
    info = lookup.instances.get(instance_id)
    return info.name if info else None


def notify_association(event: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    change = parse_association_event(event)
    if change is None:
        rt.telemetry.info("association_ignored", reason="not an instance association state change")
        return {"sent": 0, "ignored": "not an instance association state change"}
    wanted = rt.settings.rollout_association_id
    if wanted and change.association_id != wanted:
        rt.telemetry.info("association_ignored", reason="another association", association=change.association_id)
        return {"sent": 0, "ignored": "another association"}
    if not change.region:
        change = change._replace(region=rt.settings.region)
    if change.status == "Success":
        return _succeeded(change, rt)
    if change.status not in FAILED_STATUSES:
        return {"sent": 0, "ignored": f"status {change.status}"}

    notes: list[str] = []
    outputs = step_outputs(rt, change, notes)
    failure = classify_failure(change, outputs)
    try:
        fresh = rt.store.rollouts.claim_rollout_failure(change.instance_id, failure.kind, rt.clock())
    except AwsError as exc:
        notes.append(f"Repeats of this notice are possible: DynamoDB failed ({error_code(exc)}).")
        fresh, claimed = True, False
    else:
        claimed = fresh
    if not fresh:
        rt.telemetry.info("rollout_failure_repeat", instance=change.instance_id, kind=failure.kind)
        return {"sent": 0, "ignored": "already announced", "kind": failure.kind}
    name = _name(rt, change.instance_id, notes)
    try:
        rt.publisher.publish(render_failure_notice(change, failure, name=name, notes=notes))
    except Exception as exc:
        rt.telemetry.count("PublishFailures")
        if claimed:
            try:
                rt.store.rollouts.release_rollout_failure(change.instance_id, failure.kind)
            except AwsError:
                rt.telemetry.warning("rollout_release_failed", instance=change.instance_id)
        raise PublishFailed(f"rollout notice not published ({error_code(exc)})") from exc
    rt.telemetry.count("RolloutNoticesSent")
    rt.telemetry.info("rollout_failure_notice", instance=change.instance_id, kind=failure.kind, step=failure.step)
    return {"sent": 1, "kind": failure.kind, "step": failure.step}


def _succeeded(change: AssociationChange, rt: Runtime) -> dict[str, Any]:
    try:
        kinds = rt.store.rollouts.rollout_failures(change.instance_id)
    except AwsError as exc:
        rt.telemetry.warning("rollout_state_unreadable", instance=change.instance_id, error=error_code(exc))
        return {"sent": 0, "ignored": "state unreadable"}
    if not kinds:
        return {"sent": 0, "ignored": "no failure announced"}
    notes: list[str] = []
    name = _name(rt, change.instance_id, notes)
    try:
        rt.publisher.publish(render_fixed_notice(change, kinds, name=name))
    except Exception as exc:
        rt.telemetry.count("PublishFailures")
        raise PublishFailed(f"rollout fixed notice not published ({error_code(exc)})") from exc
    try:
        rt.store.rollouts.clear_rollout(change.instance_id)
    except AwsError as exc:
        rt.telemetry.warning("rollout_clear_failed", instance=change.instance_id, error=error_code(exc))
    rt.telemetry.count("RolloutNoticesSent")
    rt.telemetry.info("rollout_fixed_notice", instance=change.instance_id, kinds=kinds)
    return {"sent": 1, "fixed": kinds}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return notify_association(event, runtime(telemetry))
