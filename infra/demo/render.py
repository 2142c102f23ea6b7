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


def email(record: dict[str, Any], subscriptions: list[dict[str, str]]) -> str:
    """An SNS e-mail notification as it arrives (sender, subject, body, SNS's footer)."""
    to = [s for s in subscriptions if s.get("TopicArn") == record.get("topic") and s.get("Protocol") == "email"]
    recipient = ", ".join(s["Endpoint"] for s in to) or "(the topic has no e-mail subscription)"
    footer = ""
    if to:
        footer = (
            "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link "
            "below to unsubscribe:\nhttps://sns.us-east-1.amazonaws.com/unsubscribe.html?SubscriptionArn="
            f"{to[0]['SubscriptionArn']}&Endpoint={to[0]['Endpoint']}\n\nPlease do not reply directly to this "
            "email. If you have any questions or comments regarding this email, please contact us at "
            "https://aws.amazon.com/support"
        )
    head = [
        "From: AWS Notifications <no-reply@sns.amazonaws.com>",
        f"To: {recipient}",
        "Subject: " + str(record.get("subject") or "AWS Notification Message"),
    ]
    if record.get("attributes"):
        head.append("X-SNS-Message-Attributes: " + json.dumps(record["attributes"], sort_keys=True))
    return "\n".join(head) + "\n\n" + str(record.get("message", "")) + footer


def event(record: dict[str, Any]) -> str:
    return json.dumps(record.get("event"), indent=2, sort_keys=True, default=str)


def bullet(items: Iterable[str]) -> str:
    return "\n".join(textwrap.fill(item, width=110, initial_indent="  - ", subsequent_indent="    ") for item in items)
