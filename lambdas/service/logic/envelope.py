"""The SNS message of one alert: the body for each protocol, under SNS's size limit.

``MessageStructure=json``: ``default`` is the JSON document for machine subscribers (SQS, Lambda, HTTP), ``email``
the plain-text body, ``https`` the chat form (:mod:`service.logic.chat`): Amazon Q Developer in chat applications
subscribes over HTTPS, and SNS gives every HTTPS subscriber that key (so a webhook of your own on HTTPS gets the
chat form too). Pure: :class:`service.dal.sns.Publisher` sends what this builds.
"""

from __future__ import annotations

import json
from typing import Any

from service.logic import chat
from service.logic.text import truncate_utf8
from service.models.views import Message

SNS_MAX_BYTES = 262_144
BUDGET_BYTES = 240_000  # leave room for attributes and JSON escaping
_IDENTITY = ("type", "kind", "schema_version", "subject", "severity", "fingerprint", "instance_id", "kill_key")


def _shrink(doc: dict[str, Any]) -> dict[str, Any]:
    event = doc.get("event")
    if isinstance(event, dict) and event.get("lines"):
        lines = event["lines"]
        event = {**event, "lines": lines[:10] + lines[-10:], "lines_truncated_for_sns": True}
        return {**doc, "event": event}
    return doc


def encode(message: Message) -> str:
    """The SNS ``Message`` for MessageStructure=json, kept under the 256 KB limit."""
    doc = message.doc
    text = message.text
    https = chat.encode(message)  # at most chat.ENCODED_MAX bytes

    def body(doc: dict[str, Any], text: str) -> str:
        return json.dumps({"default": json.dumps(doc, default=str), "email": text, "https": https})

    for _ in range(3):
        out = body(doc, text)
        if len(out) <= BUDGET_BYTES:  # json.dumps escapes to ASCII: characters are bytes
            return out
        doc = _shrink(doc)
        text = truncate_utf8(text, BUDGET_BYTES // 3)
    small = {k: v for k, v in doc.items() if k != "event"}
    out = body(small, text)
    while len(out) > BUDGET_BYTES and len(text) > 1000:  # escaped, a character can take 12 bytes
        text = truncate_utf8(text, len(text.encode("utf-8")) // 2)
        out = body(small, text)
    if len(out) > BUDGET_BYTES:  # a document larger than any renderer makes: its identity, never a lost alert
        out = body({k: small[k] for k in _IDENTITY if k in small} | {"truncated_for_sns": True}, text)
    return out
