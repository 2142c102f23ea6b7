"""The mute notices (pure): one short message when a mute is set, removed (``oomwatch unmute``) or expires.

Message kind ``mute_notice`` (``doc.action``: ``set``, ``removed`` or ``expired``); its chat form comes from
:mod:`service.logic.chat` (``KINDS``) like every other kind's. So a mute is never silent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

from oomwatch.mutes import Mute, human_span

from service.logic.layout import attributes, fit
from service.logic.text import ascii_only, clean, deep_clean
from service.models.views import Message

KIND: Final = "mute_notice"
Action = Literal["set", "removed", "expired"]


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _subject(text: str) -> str:
    subject = ascii_only(clean(text, 99))
    return subject if len(subject) <= 99 else subject[:96] + "..."


def render_mute_notice(mute: Mute, action: Action, *, max_hours: int, region: str, account: str) -> Message:
    """``[OOMWatch mute set] process php-fpm* for 4h (m-1a2b3c4d)``, and three or four lines."""
    target = clean(mute.label, 120)
    end = mute.scheduled_end(max_hours)
    if action == "set":
        subject = _subject(f"[OOMWatch mute set] {target} for {human_span(end - mute.start)} ({mute.id})")
        lines = [
            f"Kills of {target} are muted until {_when(end)}: recorded and counted in digests, never alerted.",
            f"Set by {clean(mute.by, 200)}: {clean(mute.reason, 200)}",
        ]
        if end < mute.end:
            lines.append(f"It asked for longer; mute_max_hours ({max_hours}h) ends it earlier.")
        lines.append(f"End it early: oomwatch unmute {mute.id}")
    elif action == "removed":
        subject = _subject(f"[OOMWatch mute removed] {target} ({mute.id})")
        removed = mute.removed or end
        lines = [
            f"The mute of {target} was removed at {_when(removed)}, {human_span(mute.end - removed)} before its end:"
            " its kills alert again.",
            f"It was set by {clean(mute.by, 200)}: {clean(mute.reason, 200)}",
        ]
    else:
        subject = _subject(f"[OOMWatch mute expired] {target} ({mute.id})")
        lines = [
            f"The mute of {target} expired at {_when(end)}: its kills alert again.",
            f"It was set by {clean(mute.by, 200)}: {clean(mute.reason, 200)}",
        ]
    doc = deep_clean(
        {
            "type": KIND,
            "schema_version": 1,
            "subject": subject,
            "action": action,
            "mute_id": mute.id,
            "target": {"kind": mute.kind, "value": mute.value},
            "start": _iso(mute.start),
            "end": _iso(end),
            "removed": _iso(mute.removed) if mute.removed is not None else None,
            "reason": mute.reason,
            "by": mute.by,
            "region": region,
            "account": account,
        }
    )
    attrs = attributes(severity="info", source="oomwatch-mute", kind=KIND, action=action)
    return Message("mute_notice", subject, "\n".join(fit(lines)).rstrip() + "\n", doc, attrs)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
