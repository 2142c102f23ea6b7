"""Human-readable demo output: the deployed resources, each alert as its e-mail reads, the structured
events, the alarm notice, and what was emulated."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from typing import Any

RULE = "=" * 100


def section(title: str) -> str:
    return f"\n{RULE}\n{title}\n{RULE}"


def resources(rows: Iterable[tuple[str, str, str, str]]) -> str:
    rows = list(rows)
    width_type = max((len(r[2]) for r in rows), default=10)
    width_lid = max((len(r[1]) for r in rows), default=10)
    lines = [f"{'logical id':<{width_lid}}  {'type':<{width_type}}  physical id"]
    for _stack, lid, rtype, physical in rows:
        lines.append(f"{lid:<{width_lid}}  {rtype:<{width_type}}  {physical}")
    return "\n".join(lines)


def email(record: dict[str, Any], mails: list[dict[str, Any]]) -> str:
    """An SNS e-mail notification as it arrives: sender, subject, the message's ``email`` text, SNS's footer.
    Without an e-mail subscription, the message the topic delivered is shown instead."""
    if not mails:
        return (
            f"(no e-mail subscription; what the topic delivered)\nSubject: {record.get('subject')}\n\n"
            f"{record.get('message')}"
        )
    mail = mails[0]
    return (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\n"
        f"To: {', '.join(m['endpoint'] for m in mails)}\n"
        f"Subject: {mail.get('subject') or 'AWS Notification Message'}\n\n"
        f"{mail.get('message')}\n\n"
        "--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below "
        f"to unsubscribe:\nhttps://sns.us-east-1.amazonaws.com/unsubscribe.html?SubscriptionArn={mail['subscription']}"
        f"&Endpoint={mail['endpoint']}\n\nPlease do not reply directly to this email. If you have any questions or "
        "comments regarding this email, please contact us at https://aws.amazon.com/support"
    )


def event(record: dict[str, Any]) -> str:
    """One line per structured event (``--json`` prints the whole records)."""
    e = record.get("event") or {}
    victim = e.get("victim") if isinstance(e.get("victim"), dict) else {}
    if not victim:
        return json.dumps(e, sort_keys=True, default=str)[:200]
    rss = victim.get("rss_kb") or victim.get("anon_rss_kb")
    size = f"{rss / 1024:,.0f} MiB" if isinstance(rss, int | float) else "? MiB"
    return (
        f"  {e.get('kill_time') or e.get('event_timestamp') or '?':<29} {e.get('stream') or e.get('instance_id')}  "
        f"{victim.get('comm')} (pid {victim.get('pid')}, {size})  {e.get('source')}/{e.get('constraint')}  "
        f"{e.get('workload_label') or ''}  decision={e.get('decision', '?')} #{e.get('occurrence', '?')}"
    )


def bus_event(record: dict[str, Any]) -> str:
    """One line per EventBridge event: its detail-type, decision, severity, fingerprint and summary."""
    e: dict[str, Any] = record.get("eventbridge") or {}
    d: dict[str, Any] = e["detail"] if isinstance(e.get("detail"), dict) else {}
    alerted = "alerted" if d.get("alerted") else "no alert"
    return (
        f"  {e.get('detail-type', '?'):<16} {d.get('decision', '?'):<11} {alerted:<9} {d.get('severity', '?'):<8} "
        f"{d.get('fingerprint', '?')}  {d.get('summary', '')}"
    )


def bullet(items: Iterable[str]) -> str:
    return "\n".join(textwrap.fill(item, width=110, initial_indent="  - ", subsequent_indent="    ") for item in items)


def chat(record: dict[str, Any], posts: list[dict[str, Any]]) -> str:
    """What Amazon Q Developer gets for one message (SNS's HTTPS body: the chat form), as Slack and Teams show it:
    the title, the description, the next steps and the thread; the whole notification with ``--json``."""
    if not posts:
        return f"(no chat form caught for {record.get('subject')!r})"
    body = str(posts[0].get("message"))
    try:
        form = json.loads(body)
    except json.JSONDecodeError:
        return f"(not JSON: {body[:200]!r})"
    content = form.get("content") or {}
    metadata = form.get("metadata") or {}
    lines = [
        f"version {form.get('version')}, source {form.get('source')} ({len(body.encode()):,} bytes)",
        f"title:       {content.get('title')}",
        "description:",
        *(f"  {line}" for line in str(content.get("description") or "").splitlines()),
    ]
    steps = content.get("nextSteps") or []
    if steps:
        lines += ["next steps:", *(f"  - {step}" for step in steps)]
    lines.append(f"threadId:    {metadata.get('threadId')} (the kill's loop alert and digest join this thread)")
    if metadata.get("summary"):
        lines.append(f"summary:     {metadata.get('summary')}")
    return "\n".join(lines)


def dashboard(name: str, widgets: list[dict[str, Any]]) -> str:
    """One line per widget of a dashboard: its type, size and title (the metric or Logs Insights it shows)."""
    lines = [f"{name}: {len(widgets)} widget{'' if len(widgets) == 1 else 's'}"]
    for widget in widgets:
        props = widget.get("properties") or {}
        title = props.get("title") or props.get("markdown", "").split("\n")[0][:80] or "(untitled)"
        kind = widget.get("type")
        source = " (Logs Insights)" if kind == "log" else " (Metrics Insights)" if "SELECT" in json.dumps(props) else ""
        lines.append(f"  {kind:<7} {widget.get('width', '?'):>2}x{widget.get('height', '?'):<2} {title}{source}")
    return "\n".join(lines)
