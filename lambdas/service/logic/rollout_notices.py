"""The rollout-notice use case: a readable notice when OOMWatch's rollout fails on a host, and one when it
is fixed.

* Failed / TimedOut: read what the steps wrote (:func:`step_outputs`, through :mod:`service.dal.ssm`),
  classify it (:func:`service.logic.rollout_text.classify_failure`), and publish one notice per host and
  failure kind until the host succeeds again (``rollout#<instance>`` items, :mod:`service.dal.state.notices`).
* Success after an announced failure: one "fixed" notice, and the host's record is deleted.

Any failure to read the step output degrades the notice ("output not available"), never drops it. The EC2
Name tag comes from ``ec2:DescribeInstances``.
"""

from __future__ import annotations

from typing import Any

from service.dal import ssm
from service.dal.clients import AwsError, error_code
from service.logic import events as bus_events
from service.logic.ports import PublishFailed, Runtime
from service.logic.rollout_text import (
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

STEPS = (INSTALL_STEP, CONFIGURE_STEP)


def step_outputs(rt: Runtime, change: AssociationChange, notes: list[str]) -> list[StepOutput]:
    """What each step of the rollout document reported on the host; [] (and a note) when unreadable."""
    client = rt.clients.ssm
    try:
        command = ssm.command_id(client, change.association_id, change.instance_id, parse_time(change.execution_date))
    except AwsError as exc:
        notes.append(f"Step output left out: the association's runs could not be read ({error_code(exc)}).")
        return []
    if command is None:
        notes.append("The step output could not be read: no run of the association names this host's command.")
        return []
    outputs: list[StepOutput] = []
    for step in STEPS:
        try:
            inv = ssm.invocation(client, command, change.instance_id, step)
        except AwsError as exc:
            notes.append(f"Output of step {step} left out: ssm:GetCommandInvocation failed ({error_code(exc)}).")
            continue
        outputs.append(StepOutput(step=step, status=inv.status, stdout=inv.stdout, stderr=inv.stderr))
    return outputs


def _name(rt: Runtime, instance_id: str, notes: list[str]) -> str | None:
    lookup = rt.directory.lookup([instance_id])
    notes.extend(lookup.notes)
    info = lookup.instances.get(instance_id)
    return info.name if info else None


def _ignored(rt: Runtime, reason: str, **fields: Any) -> dict[str, Any]:
    rt.telemetry.info("association_ignored", reason=reason, **fields)
    return {"sent": 0, "ignored": reason}


def notify_association(event: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """One association state-change event -> at most one failure or fixed notice."""
    change = parse_association_event(event)
    if change is None:
        return _ignored(rt, "not an instance association state change")
    wanted = rt.settings.rollout_association_id
    if wanted and change.association_id != wanted:
        return _ignored(rt, "another association", association=change.association_id)
    if not change.region:
        change = change._replace(region=rt.settings.region)
    if change.status == "Success":
        return announce_fixed(change, rt)
    if change.status not in FAILED_STATUSES:
        return {"sent": 0, "ignored": f"status {change.status}"}
    return announce_failure(change, rt)


def announce_failure(change: AssociationChange, rt: Runtime) -> dict[str, Any]:
    """The failure notice, once per host and failure kind (the claim is released if the publish fails)."""
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
        message = render_failure_notice(change, failure, name=name, notes=notes)
        rt.publisher.publish(message)
    except Exception as exc:
        rt.telemetry.count("PublishFailures")
        if claimed:
            try:
                rt.store.rollouts.release_rollout_failure(change.instance_id, failure.kind)
            except AwsError:
                rt.telemetry.warning("rollout_release_failed", instance=change.instance_id)
        raise PublishFailed(f"rollout notice not published ({error_code(exc)})") from exc
    bus_events.emit_message(rt, message)
    rt.telemetry.count("RolloutNoticesSent")
    rt.telemetry.info("rollout_failure_notice", instance=change.instance_id, kind=failure.kind, step=failure.step)
    return {"sent": 1, "kind": failure.kind, "step": failure.step}


def announce_fixed(change: AssociationChange, rt: Runtime) -> dict[str, Any]:
    """The fixed notice for a host with an announced failure; then its record is deleted."""
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
        message = render_fixed_notice(change, kinds, name=name)
        rt.publisher.publish(message)
    except Exception as exc:
        rt.telemetry.count("PublishFailures")
        raise PublishFailed(f"rollout fixed notice not published ({error_code(exc)})") from exc
    try:
        rt.store.rollouts.clear_rollout(change.instance_id)
    except AwsError as exc:
        rt.telemetry.warning("rollout_clear_failed", instance=change.instance_id, error=error_code(exc))
    bus_events.emit_message(rt, message)
    rt.telemetry.count("RolloutNoticesSent")
    rt.telemetry.info("rollout_fixed_notice", instance=change.instance_id, kinds=kinds)
    return {"sent": 1, "fixed": kinds}
