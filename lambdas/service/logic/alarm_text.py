"""Readable notices for the fleet memory/swap Metrics Insights alarms.

The alarms' own SNS notices are raw CloudWatch JSON that name a contributor id, not a host.
This turns an alarm (or alarm-contributor) state change into "which instances, how full,
and when did they last OOM-kill something".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from service.logic import links
from service.logic.layout import attributes, fit, host_text, when
from service.logic.text import ascii_only, clean, deep_clean, mib
from service.models.instance import InstanceInfo, instance_id_from_stream
from service.models.views import Message


class AlarmChange(NamedTuple):
    alarm_name: str
    metric: str  # "memory" | "swap" | "other"
    state: str
    previous_state: str | None
    reason: str
    time_ms: int
    instance_ids: tuple[str, ...]  # from the contributor; empty for alarm-level events
    expression: str | None
    contributor_id: str | None
    region: str
    account: str


def _ms(iso: object) -> int:
    if not isinstance(iso, str) or not iso:
        return 0
    text = iso.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # CloudWatch writes +0000
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return 0


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_alarm_event(event: Mapping[str, Any], memory_alarm: str, swap_alarm: str) -> AlarmChange | None:
    """Read an EventBridge ``CloudWatch Alarm State Change`` or ``... Contributor State Change`` event."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    name = str(detail.get("alarmName") or "")
    metric = "memory" if name == memory_alarm else "swap" if name == swap_alarm else "other"
    state = _map(detail.get("state"))
    prev = _map(detail.get("previousState"))
    contributor = _map(detail.get("alarmContributor"))
    attrs = _map(contributor.get("attributes"))
    ids = []
    for key, value in attrs.items():
        if key == "InstanceId" or instance_id_from_stream(str(value)) == value:
            ids.append(str(value))
    expression = None
    config = _map(detail.get("configuration"))
    for m in config.get("metrics") or []:
        if isinstance(m, Mapping) and m.get("expression"):
            expression = str(m["expression"])
            break
    return AlarmChange(
        alarm_name=name,
        metric=metric,
        state=str(state.get("value") or ""),
        previous_state=str(prev.get("value")) if prev.get("value") else None,
        reason=str(state.get("reason") or ""),
        time_ms=_ms(state.get("timestamp")) or _ms(event.get("time")),
        instance_ids=tuple(dict.fromkeys(ids)),
        expression=expression,
        contributor_id=str(contributor.get("id")) if contributor.get("id") else None,
        region=str(event.get("region") or ""),
        account=str(event.get("account") or ""),
    )


class HostRow(NamedTuple):
    instance_id: str
    info: InstanceInfo | None
    mem_pct: float | None
    swap_pct: float | None
    last_kill: Mapping[str, Any] | None


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def render_alarm_notice(change: AlarmChange, hosts: Sequence[HostRow], notes: Sequence[str]) -> Message:
    what = {"memory": "memory", "swap": "swap"}.get(change.metric, "memory/swap")
    # Hosts named as in every other message: Name tag, then instance id (render.host_text).
    who = host_text(hosts[0].info.name if hosts[0].info else None, hosts[0].instance_id) if hosts else ""
    if len(hosts) > 1:
        who += f" +{len(hosts) - 1} more"
    top = hosts[0] if hosts else None
    figure = ""
    if top is not None:
        val = top.mem_pct if change.metric != "swap" else top.swap_pct
        figure = f" at {_pct(val)}" if val is not None else ""
    subject = ascii_only(
        clean(f"[{what} {change.state}] {who or 'fleet'}{figure}" + ("" if who else f" ({change.alarm_name})"), 99)
    )
    if len(subject) > 99:
        subject = subject[:96] + "..."
    out = [
        f"The fleet {what} alarm {clean(change.alarm_name, 100)} is in {change.state}"
        + (f" (was {change.previous_state})" if change.previous_state else "")
        + (f" since {when(change.time_ms)}." if change.time_ms else "."),
        f"Reason: {clean(change.reason, 300)}",
        "",
    ]
    if not hosts:
        out.append("No instance could be named for this change (see notes).")
    for h in hosts[:10]:
        info = h.info
        title = f"{clean(info.name, 40)} ({h.instance_id})" if info and info.name else h.instance_id
        out.append(title)
        if info:
            ram = f", {info.memory_mib:,} MiB RAM" if info.memory_mib else ""
            asg = f", ASG {clean(info.asg, 60)}" if info.asg else ""
            out.append(f"  {info.instance_type or '?'}{ram}, {info.az or '?'}{asg}")
        out.append(f"  memory used {_pct(h.mem_pct)}, swap used {_pct(h.swap_pct)} (latest minute)")
        k = h.last_kill
        if k:
            out.append(
                f"  last OOM kill: {clean(k.get('comm'), 30)} (pid {k.get('pid')}, {mib(k.get('rss_kb'))})"
                f" at {when(int(k.get('time_ms') or 0))}, {clean(k.get('severity'), 10)}"
            )
        else:
            out.append("  no OOM kill recorded on this instance")
        out.append(f"  {links.instance_url(change.region, h.instance_id)}")
        out.append("")
    if len(hosts) > 10:
        out.append(f"... and {len(hosts) - 10} more instances.")
    if notes:
        out += ["NOTES"] + [f"  - {clean(n, 300)}" for n in notes]
    doc = {
        "type": "memory_alarm",
        "schema_version": 1,
        "subject": subject,
        "alarm_name": change.alarm_name,
        "metric": change.metric,
        "state": change.state,
        "previous_state": change.previous_state,
        "reason": clean(change.reason, 500),
        "time_ms": change.time_ms,
        "account": change.account,
        "region": change.region,
        "instances": [
            {
                "instance_id": h.instance_id,
                "instance": h.info.as_log() if h.info else None,
                "mem_used_percent": h.mem_pct,
                "swap_used_percent": h.swap_pct,
                "last_kill": dict(h.last_kill) if h.last_kill else None,
            }
            for h in hosts[:50]
        ],
        "notes": list(notes),
    }
    doc = deep_clean(doc, limit=1024, max_items=60)  # names, ASGs and tags are typed by users
    attrs = attributes(
        severity="critical" if change.state == "ALARM" else "info",
        instance_id=hosts[0].instance_id if len(hosts) == 1 else "",
        source="cloudwatch-alarm",
        kind="memory_alarm",
        alarm=change.alarm_name,
    )
    return Message("memory_alarm", subject, "\n".join(fit(out)).rstrip() + "\n", doc, attrs)
