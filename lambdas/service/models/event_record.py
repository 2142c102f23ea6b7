"""The structured ``oom_kill`` record the OOM handler writes to the events log group, as types.

The record is the parser's event (:class:`oomwatch.event.OomEvent`, its keys at the top level, as Logs Insights
queries read them: ``victim.comm``, ``cgroup.workload.name``) plus what the Lambda adds: the instance, the
decisions and where the kill came from. Two of the event's keys, ``message`` and ``timestamp``, are the logging
library's own: the logging adapter (:class:`service.wiring.PowertoolsTelemetry`) writes them as ``event_message``
and ``event_timestamp``.
"""

from typing import NotRequired, TypedDict

from oomwatch.event import OomEvent

# No ``from __future__ import annotations``: Python 3.11 reads ``NotRequired`` into ``__optional_keys__`` only from
# evaluated annotations (as in oomwatch.event).


class InstanceLog(TypedDict):
    """The record's ``instance`` block: what EC2 said (:meth:`service.models.instance.InstanceInfo.as_log`), or
    only the id when EC2 could not be read."""

    id: str
    name: NotRequired[str | None]
    type: NotRequired[str | None]
    memory_mib: NotRequired[int | None]
    az: NotRequired[str | None]
    private_ip: NotRequired[str | None]
    image_id: NotRequired[str | None]
    launch_time: NotRequired[str | None]
    asg: NotRequired[str | None]
    state: NotRequired[str | None]
    tags: NotRequired[dict[str, str]]


class RecordExtra(TypedDict):
    """What the kill's way through noise control adds to its record."""

    kill_key: str
    durable_state: NotRequired[bool]  # the claim and count were in DynamoDB (not the function's memory)
    render_error: NotRequired[str]  # the exception type that stopped the alert or the classification
    allow_listed: NotRequired[str]  # why the kill is expected (then the record is all there is)
    mute_id: NotRequired[str]  # the mute that silenced the kill (decision muted) or that it broke through


class EventRecord(OomEvent, RecordExtra):
    """One kill's record: the parser's event, the enrichment and the decision (``service.logic.kills``)."""

    kill_time: str  # ISO 8601, milliseconds
    instance_id: str | None
    instance: InstanceLog | None
    rss_share_pct: int | None  # the victim's RSS against host RAM
    severity: str
    severity_reason: str
    fingerprint: str
    fingerprint_label: str
    occurrence: int  # the kill's number in its fingerprint's noise window
    decision: str  # alert | loop | alert+loop | folded | event_only | muted
    account: str
    region: str
    log_group: str
    workload_label: str | None
    notes: list[str]
    context: str | None  # fetched | stashed | not_found | failed, or None when the report was whole


class MinimalEventRecord(RecordExtra):
    """The record of a kill whose full record could not be built: enough to find the kill and its alert."""

    decision: str
    instance_id: str | None
    log_group: str
    kill_time: str
    kill_line: str
    occurrence: int | None
    complete: bool
    notes: list[str]
