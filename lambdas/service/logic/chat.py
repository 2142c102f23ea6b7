"""The chat form of every message: an Amazon Q Developer in chat applications (formerly AWS Chatbot) custom
notification, for Slack and Microsoft Teams channels subscribed to the alert topic.

The schema is AWS's "Custom notifications using Amazon Q Developer in chat applications",
https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html: ``version`` "1.0", ``source`` "custom",
an optional ``id``, ``content`` (``textType`` client-markdown, ``title``, ``description``, ``nextSteps``,
``keywords``) and ``metadata`` (``threadId``, ``summary``, ``eventType``, ``relatedResources``,
``additionalContext``, ``enableCustomActions``). Messages with one ``threadId`` form one thread (if the channel's
preferences allow threads). ``chat.schema.json`` beside this module is the form as OOMWatch sends it, with the
provenance of each limit: title 250, description 8,000, a next step 350, a keyword 75 characters (not found on
the parts of the AWS page we could read: taken from a client that cites it, so unverified). The page we read
names no total size; the SNS Publish limit, 256 KB (262,144 bytes) for the message with all its protocol keys,
is the one that binds, so this form is kept under :data:`ENCODED_MAX`. Every limit is met by a clean cut: whole
lines, whole steps, "..." where a line itself is cut.

How it is delivered (:mod:`service.dal.sns`): Amazon Q subscribes to the topic over HTTPS
(``https://global.sns-api.chatbot.amazonaws.com``), and with ``MessageStructure=json`` SNS gives each transport
protocol its own key (``http``, ``https``, ``email``, ``sqs``, ...; SNS Publish API) and ``default`` to a protocol
that has none. So this form goes under ``https``; e-mail keeps ``email``, and SQS, Lambda and HTTP keep the JSON
document under ``default``. The cost: an HTTPS webhook of a user's own gets this form too (docs/configuration.md).

Text safety. The inputs are already sanitised (one line each, no controls or invisible characters). What is left
is chat markup: ``client-markdown`` is passed to each platform's own markdown, so a process name such as
``<!channel>``, ``@here`` or ``[x](http://evil)`` must not become a mention or a link. Every text that carries a
log's or a tag's words goes inside code (an inline code span, or one fenced block for the body), where neither
Slack nor Teams turns markup, mentions or URLs into anything; inside code a backtick (which would close it)
becomes ``'``, and ``&``, ``<``, ``>`` become Slack's entities ``&amp;`` ``&lt;`` ``&gt;`` (Slack's rule for
text that must not be read as ``<!here>`` or ``<url|text>``). Outside code only fixed words, numbers, instance
ids (checked against their pattern) and OOMWatch's own console links appear. The summary, keywords and context
values are drawn from fixed vocabularies and patterns, so they are safe whatever the client renders.

Pure: no AWS import; the handlers' publisher calls :func:`encode`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from oomwatch.lazy import lazy_pattern

from service.logic import links as console
from service.logic.text import clean
from service.models.views import Message

VERSION: Final = "1.0"
SOURCE: Final = "custom"
TEXT_TYPE: Final = "client-markdown"
TITLE_MAX: Final = 250
DESCRIPTION_MAX: Final = 8000
STEP_MAX: Final = 350
KEYWORD_MAX: Final = 75
STEPS_MAX: Final = 5  # ours: a chat message, not the whole report
KEYWORDS_MAX: Final = 6
RESOURCES_MAX: Final = 10
#: The form's JSON (ASCII, as SNS receives it) stays under this, whatever the text: 8,000 characters that each
#: escape to 12 bytes (an emoji) would otherwise be 96 KB of the 256 KiB SNS message.
ENCODED_MAX: Final = 48_000

_FENCE: Final = "```"
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
_WORD = re.compile(r"[a-z0-9][a-z0-9._-]{0,74}")
_CONTEXT_VALUE = re.compile(r"[\x21-\x7e]{1,256}")
_URL = re.compile(r"https://[\x21-\x7e]+")
_REGION = lazy_pattern(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")

#: Per kind: the eventType, the summary's words and the thread family.
KINDS: Final[Mapping[str, tuple[str, str, str]]] = {
    "oom_kill": ("oom-kill", "OOM kill", "kill"),
    "oom_loop": ("oom-loop", "OOM loop", "kill"),
    "oom_digest": ("oom-digest", "OOM digest", "kill"),
    "memory_alarm": ("memory-alarm", "Memory alarm", "alarm"),
    "rollout_failed": ("rollout-failed", "Rollout failed", "rollout"),
    "rollout_fixed": ("rollout-fixed", "Rollout fixed", "rollout"),
    "coverage": ("coverage", "Coverage", "coverage"),
    "mute_notice": ("mute-notice", "Mute", "mute"),
}
_EMOJI: Final[Mapping[str, str]] = {
    "oom_kill": ":rotating_light:",
    "oom_loop": ":repeat:",
    "oom_digest": ":bookmark_tabs:",
    "memory_alarm": ":chart_with_upwards_trend:",
    "rollout_failed": ":x:",
    "rollout_fixed": ":white_check_mark:",
    "coverage": ":satellite_antenna:",
    "mute_notice": ":mute:",
}
_LINK_LABELS: Final[Mapping[str, str]] = {
    "log_stream": "The log stream around the kill",
    "events_search": "Every kill of this window",
    "instance": "The instance",
}


# --------------------------------------------------------------------------- markup


def code_text(text: str) -> str:
    """``text`` made safe inside code: no backtick to close it, no ``<``/``>``/``&`` for Slack to read.

    Four ``str.replace`` scans, ``&`` first so that no entity is escaped twice: a whole message in a few
    microseconds, where ``str.translate`` with a mapping to strings takes a dictionary look-up per character."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def code(text: str) -> str:
    """One inline code span (empty text gives an empty string, not an empty span)."""
    inner = code_text(text)
    return f"`{inner}`" if inner else ""


def _cut(text: str, limit: int) -> str:
    """A clean cut of one line: at most ``limit`` characters, ending in "..." when cut (never inside an entity)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 3]
    amp = head.rfind("&", max(0, len(head) - 5))
    if amp >= 0 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + "..."


def _span(text: str, limit: int) -> str:
    """An inline code span of at most ``limit`` characters, backticks included."""
    return f"`{_cut(code_text(text), limit - 2)}`"


_NL_JSON = 2  # bytes of one line break inside a JSON string


#: What ``json.dumps`` (ASCII-only, as SNS gets it) writes as more than one byte: controls, quote, backslash,
#: DEL and anything past ASCII. A line without them is as long in JSON as it is. Written as the complement of
#: printable ASCII less quote and backslash: a class up to U+10FFFF costs ~8 ms to compile at every cold start.
_ESCAPED = lazy_pattern(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _json_len(text: str) -> int:
    return len(json.dumps(text)) - 2 if _ESCAPED().search(text) else len(text)


def _left_out(count: int) -> str:
    return f"[... {count} more lines: see the e-mail or the JSON form]"


def block(lines: Sequence[str], *, limit: int = DESCRIPTION_MAX, budget: int = ENCODED_MAX // 2) -> str:
    """The lines as one fenced code block of at most ``limit`` characters and ``budget`` bytes of JSON: whole
    lines while they fit, a line that does not fit cut with "..." when there is room for a useful part, then how
    many lines were left out."""
    body = list(lines)
    while body and not body[-1].strip():
        body.pop()
    if body:  # the usual case, every line whole: what the loop below gives, found without a step per line
        whole = code_text("\n".join(body))
        reserve = len(_left_out(len(body) - 1)) + _NL_JSON if len(body) > 1 else 0  # the loop's largest
        chars = len(_FENCE) * 2 + 2 + len(whole) + 1
        nbytes = len(_FENCE) * 2 + 3 * _NL_JSON + len(json.dumps(whole)) - 2  # "\n" is counted in whole
        if chars + reserve <= limit and nbytes + reserve <= budget:
            return f"{_FENCE}\n{whole}\n{_FENCE}"
    kept: list[str] = []
    chars = len(_FENCE) * 2 + 2  # the two fences and their line breaks
    nbytes = len(_FENCE) * 2 + 2 * _NL_JSON  # a line break is two bytes in JSON (\\n)
    for index, raw in enumerate(body):  # escaped line by line: a huge text stops early
        line = code_text(raw)
        after = len(body) - index - 1
        reserve = len(_left_out(after)) + _NL_JSON if after else 0  # room for the note (and its break, in JSON)
        size = _json_len(line)
        if chars + len(line) + 1 + reserve <= limit and nbytes + size + _NL_JSON + reserve <= budget:
            kept.append(line)
            chars += len(line) + 1
            nbytes += size + _NL_JSON
            continue
        room = limit - chars - 1 - reserve
        part = _cut(line, room) if room >= 40 else ""
        if part and nbytes + _json_len(part) + _NL_JSON + reserve <= budget:
            kept.append(part)
            if after:
                kept.append(_left_out(after))
        else:
            kept.append(_left_out(after + 1))
        break
    return "\n".join([_FENCE, *kept, _FENCE])


# --------------------------------------------------------------------------- the parts


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")).hexdigest()


def _instances(values: Iterable[object]) -> list[str]:
    """The instance ids among ``values``, in order, each once: only what has the shape of one."""
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and _INSTANCE_ID.fullmatch(value) and value not in out:
            out.append(value)
    return out


def _doc_instances(doc: Mapping[str, Any]) -> list[str]:
    found: list[object] = [doc.get("instance_id"), doc.get("latest_instance_id")]
    for item in doc.get("instances") or []:
        found.append(item.get("instance_id") if isinstance(item, Mapping) else item)
    for key in ("new_silent", "back"):
        found.extend(doc.get(key) or [])
    return _instances(found)


def thread_of(message: Message) -> str:
    """The thread a message belongs to.

    Kills, loops and digests: the kill's noise fingerprint (``doc["fingerprint"]``), so the first alert, its loop
    alert and its digest form one thread (a kill whose details could not be rendered has only its kill key).
    Notices: a stable id of what they are about: the alarm (and its one instance, for a contributor's change),
    the host of a rollout, the account and Region's coverage.
    """
    doc = message.doc
    family = KINDS.get(message.kind, ("", "", "other"))[2]
    if family == "kill":
        fingerprint = doc.get("fingerprint")
        if isinstance(fingerprint, str) and re.fullmatch(r"[0-9a-f]{24,40}", fingerprint):
            return f"oomwatch-kill-{fingerprint}"
        key = str(doc.get("kill_key") or message.subject)
        return f"oomwatch-kill-{key[1:] if re.fullmatch(r'k[0-9a-f]{40}', key) else _digest(key)[:40]}"
    if family == "alarm":
        hosts = _doc_instances(doc)
        one = hosts[0] if len(hosts) == 1 else ""
        return f"oomwatch-alarm-{_digest(doc.get('account'), doc.get('region'), doc.get('alarm_name'), one)[:24]}"
    if family == "rollout":
        return f"oomwatch-rollout-{_digest(doc.get('account'), doc.get('region'), doc.get('instance_id'))[:24]}"
    if family == "coverage":
        return f"oomwatch-coverage-{_digest(doc.get('account'), doc.get('region'))[:24]}"
    if family == "mute":  # a mute's set, removal and expiry in one thread
        return f"oomwatch-mute-{_digest(doc.get('account'), doc.get('region'), doc.get('mute_id'))[:24]}"
    return f"oomwatch-other-{_digest(message.kind, message.subject)[:24]}"


def _severity(message: Message) -> str:
    value = message.attributes.get("severity") or message.doc.get("severity")
    return value if value in ("critical", "warning", "info") else ""


def _summary(message: Message) -> str:
    """Fixed words and numbers only: the thread's top-level line, whatever the client renders it as."""
    doc = message.doc
    words = KINDS.get(message.kind, ("", "OOMWatch notice", ""))[1]
    count = doc.get("count")
    if message.kind in ("oom_loop", "oom_digest") and isinstance(count, int) and not isinstance(count, bool):
        words += f", {count} kills"
    state = doc.get("state")
    if message.kind == "memory_alarm" and state in ("ALARM", "OK", "INSUFFICIENT_DATA"):
        words += f" {state}"
    if message.kind == "coverage":
        silent = doc.get("silent")
        expected = doc.get("expected")
        if isinstance(silent, list) and isinstance(expected, int) and not isinstance(expected, bool):
            words += f": {len(silent)} of {expected} hosts silent"
    severity = _severity(message)
    return f"OOMWatch {words}" + (f" ({severity})" if severity else "")


def _title(message: Message) -> str:
    emoji = _EMOJI.get(message.kind, ":information_source:")
    if message.kind == "memory_alarm" and message.doc.get("state") == "OK":
        emoji = ":white_check_mark:"
    elif message.kind == "oom_kill" and _severity(message) == "warning":
        emoji = ":warning:"
    return f"{emoji} {_span(message.subject or message.kind, TITLE_MAX - len(emoji) - 1)}"


def _links(doc: Mapping[str, Any]) -> list[str]:
    """OOMWatch's own console links (percent-encoded ASCII, no spaces), each after a fixed label; a notice
    about instances, whose document has no links, gets the first instance's page."""
    found = doc.get("links")
    links: dict[str, object] = dict(found) if isinstance(found, Mapping) else {}
    region = doc.get("region")
    hosts = _doc_instances(doc)
    if "instance" not in links and hosts and isinstance(region, str) and _REGION().fullmatch(region):
        links["instance"] = console.instance_url(region, hosts[0])
    steps: list[str] = []
    for key, label in _LINK_LABELS.items():
        url = links.get(key)
        if isinstance(url, str) and _URL.fullmatch(url) and not set(url) & set("<>`|"):
            step = f"{label}: {url}"
            if len(step) <= STEP_MAX:
                steps.append(step)
    return steps


def _advice(message: Message) -> list[str]:
    doc = message.doc
    advice: list[object] = []
    if message.kind in ("oom_kill", "oom_loop"):
        hint = doc.get("hint")
        advice = list(hint) if isinstance(hint, list | tuple) else []
    elif message.kind == "rollout_failed":
        advice = [doc.get("fix")]
    lines = [line for line in advice if isinstance(line, str) and line.strip()][:STEPS_MAX]
    return [_span(clean(line, 1000), STEP_MAX) for line in lines]


def _next_steps(message: Message) -> list[str]:
    # The links are what a chat reader opens first (the body's are inside code, not clickable); advice fills the rest.
    return (_links(message.doc) + _advice(message))[:STEPS_MAX]


def _keywords(message: Message) -> list[str]:
    words = [KINDS.get(message.kind, ("notice", "", ""))[0], _severity(message)]
    source = message.attributes.get("source") or ""
    state = message.doc.get("state")
    words += [source, state.lower() if isinstance(state, str) else ""]
    words += _instances([message.attributes.get("instance_id")])
    out: list[str] = []
    for word in words:
        if word and _WORD.fullmatch(word) and word not in out:
            out.append(word)
    return out[:KEYWORDS_MAX]


def _context(message: Message) -> dict[str, str]:
    doc = message.doc
    values = {
        "kind": message.kind,
        "severity": _severity(message),
        "fingerprint": doc.get("fingerprint"),
        "account": doc.get("account"),
        "region": doc.get("region"),
    }
    return {k: v for k, v in values.items() if isinstance(v, str) and _CONTEXT_VALUE.fullmatch(v)}


# --------------------------------------------------------------------------- the form


def chat_form(message: Message, *, thread_id: str, description_max: int = DESCRIPTION_MAX) -> dict[str, Any]:
    """The custom notification for ``message`` (any kind the topic carries), within every limit."""
    kind = KINDS.get(message.kind, ("notice", "", ""))[0]
    content: dict[str, Any] = {
        "textType": TEXT_TYPE,
        "title": _title(message),
        "description": block(message.text.split("\n"), limit=description_max, budget=min(ENCODED_MAX // 2, 24_000)),
    }
    steps = _next_steps(message)
    if steps:
        content["nextSteps"] = steps
    keywords = _keywords(message)
    if keywords:
        content["keywords"] = keywords
    metadata: dict[str, Any] = {
        "threadId": thread_id,
        "summary": _summary(message),
        "eventType": f"oomwatch-{kind}",
    }
    resources = _doc_instances(message.doc)[:RESOURCES_MAX]
    if resources:
        metadata["relatedResources"] = resources
    context = _context(message)
    if context:
        metadata["additionalContext"] = context
    metadata["enableCustomActions"] = False
    return {
        "version": VERSION,
        "source": SOURCE,
        "id": f"oomwatch-{_digest(message.kind, message.subject, message.text)[:32]}",
        "content": content,
        "metadata": metadata,
    }


def fallback_form(message: Message) -> dict[str, Any]:
    """The form of a message whose chat form could not be built: fixed words, so the e-mail still goes out."""
    kind = message.kind if re.fullmatch(r"[a-z_]{1,40}", message.kind) else "notice"
    return {
        "version": VERSION,
        "source": SOURCE,
        "id": f"oomwatch-{_digest(message.kind, message.subject, message.text)[:32]}",
        "content": {
            "textType": TEXT_TYPE,
            "title": f":information_source: OOMWatch {kind.replace('_', ' ')}",
            "description": "This message could not be shown here: read it in the e-mail or the JSON form.",
        },
        "metadata": {
            "threadId": f"oomwatch-other-{_digest(message.kind)[:24]}",
            "summary": "OOMWatch notice",
            "eventType": "oomwatch-notice",
            "enableCustomActions": False,
        },
    }


def encode(message: Message) -> str:
    """The form as the SNS ``https`` value: compact ASCII JSON of at most :data:`ENCODED_MAX` bytes.

    Never raises: a message the chat form cannot be built for gets :func:`fallback_form`, since the same publish
    carries the e-mail."""
    try:
        thread = thread_of(message)
        limit = DESCRIPTION_MAX
        while True:
            text = json.dumps(chat_form(message, thread_id=thread, description_max=limit), separators=(",", ":"))
            if len(text) <= ENCODED_MAX or limit <= 500:
                return text
            limit //= 2
    except Exception:
        return json.dumps(fallback_form(message), separators=(",", ":"))
