"""The chat form as the handlers publish it (moto): the SNS message's ``https`` key (what Amazon Q Developer in
chat applications reads), one thread for a kill, its loop and its digest, and the chat text of a kill pinned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from handler_kit import ACCOUNT, FIXED_MS, REGION, Clock, Invoke, World, kills, normalize, payload, snapshot
from jsonschema import Draft202012Validator
from service.logic import chat

SCHEMA = json.loads((Path(chat.__file__).parent / "chat.schema.json").read_text())
WINDOW_S = 15 * 60


def published(world: World) -> list[dict[str, Any]]:
    """Every SNS publish so far, its keys decoded (``https``: the chat form)."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][REGION].topics[world.topic_arn]
    out = []
    for _mid, message, _subject, _attrs, _group in topic.sent_notifications:
        body = json.loads(message)
        out.append({"email": body["email"], "default": json.loads(body["default"]), "https": json.loads(body["https"])})
    return out


def chat_text(form: dict[str, Any]) -> str:
    """A chat form as one readable text for a snapshot: what the channel shows, then how it is filed."""
    content, meta = form["content"], form["metadata"]
    lines = [f"Title: {content['title']}", "", content["description"], "", "Next steps:"]
    lines += [f"  - {step}" for step in content.get("nextSteps", [])]
    lines += [
        "",
        f"Keywords: {', '.join(content.get('keywords', []))}",
        f"Summary: {meta['summary']}",
        f"Event type: {meta['eventType']}",
        f"Related resources: {', '.join(meta.get('relatedResources', []))}",
        f"Context: {json.dumps(meta.get('additionalContext', {}), sort_keys=True)}",
        f"Custom actions: {meta['enableCustomActions']}",
    ]
    return "\n".join(lines) + "\n"


def test_a_kill_its_loop_and_its_digest_reach_chat_in_one_thread(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, clock: Clock
) -> None:
    # GIVEN 6 kills of php-fpm on web-1 (the scenario of the pinned kill, loop and digest e-mails)
    clock.now = FIXED_MS / 1000
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 6, FIXED_MS)))
    # WHEN the window ends and the digest runs
    clock.now = FIXED_MS / 1000 + WINDOW_S + 60
    invoke_digest({"account": ACCOUNT})

    # THEN each of the three publishes carries a valid chat form next to the unchanged e-mail and document
    first, loop, digest = published(world)
    validator = Draft202012Validator(SCHEMA)
    for sent in (first, loop, digest):
        assert [e.message for e in validator.iter_errors(sent["https"])] == []
    assert first["https"]["content"]["description"].startswith("```\nphp-fpm8.1 (pid 4000) was killed by")
    # AND they share the kill's fingerprint as their thread
    threads = {sent["https"]["metadata"]["threadId"] for sent in (first, loop, digest)}
    assert threads == {f"oomwatch-kill-{first['default']['fingerprint']}"}
    assert [sent["https"]["metadata"]["eventType"] for sent in (first, loop, digest)] == [
        "oomwatch-oom-kill",
        "oomwatch-oom-loop",
        "oomwatch-oom-digest",
    ]
    # AND the kill's chat text reads as pinned (UPDATE_SNAPSHOTS=1 regenerates)
    snapshot("chat_kill_php_fpm_global.md", normalize(chat_text(first["https"]), world))
