"""The chat form (service.logic.chat): every message kind the topic carries, validated against the documented custom
notification schema (lambdas/service/logic/chat.schema.json, with jsonschema), its limits on huge input, its threads,
and chat markup from a log line that stays text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from oomwatch import parse_lines
from oomwatch.event import OomEvent
from oomwatch.mutes import Mute
from service.logic import chat, envelope
from service.logic.alarm_text import AlarmChange, HostRow, render_alarm_notice
from service.logic.alert_text import render_digest, render_kill, render_loop
from service.logic.hints import hint_lines
from service.logic.mute_text import render_mute_notice
from service.logic.rollout_text import (
    AssociationChange,
    CoverageChange,
    StepOutput,
    classify_failure,
    render_coverage_notice,
    render_failure_notice,
    render_fixed_notice,
)
from service.logic.severity import fingerprint, severity
from service.models.instance import InstanceInfo
from service.models.views import DigestVictim, DigestView, KillView, Message

from tests.support.poison import global_report, memcg_report

SCHEMA = json.loads((Path(chat.__file__).parent / "chat.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
IID = "i-0abc12345def67890"
OTHER = "i-0fedcba9876543210"
MS = 1_795_169_700_000
INFO = InstanceInfo(IID, name="web-1", instance_type="t3.large", memory_mib=8192, asg="web-asg", az="eu-west-1a")
HOSTILE = ("<!channel>", "@here", "[x](http://evil)")


def view(event: OomEvent, info: InstanceInfo | None = INFO, occurrence: int = 1) -> KillView:
    return KillView(
        event=event, kill_time_ms=MS, instance_id=IID, instance=info, severity=severity(event, ["doxygen"]),
        fingerprint=fingerprint(event, IID, info), occurrence=occurrence, window_minutes=15, loop_threshold=5,
        region="eu-west-1", account="123456789012", log_group="/oomwatch/ec2/syslog", stream=IID,
        first_kill_ms=MS - 4000, hint=hint_lines(event, info),  # as the kill's use case computes it
    )  # fmt: skip


def digest_of(event: OomEvent, info: InstanceInfo | None = INFO) -> DigestView:
    return DigestView(
        fingerprint=fingerprint(event, IID, info), total=7, window_start_ms=MS, window_end_ms=MS + 900_000,
        first_ms=MS, last_ms=MS + 60_000, instances=[IID, OTHER],
        victims=[DigestVictim(str(event["victim"]["comm"]), 473206, 9_234_324, IID, MS)], severity="critical",
        escalated=True, region="eu-west-1", account="123456789012", events_log_group="/aws/lambda/oomwatch-oom",
        names={IID: "web-1"},
    )  # fmt: skip


def alarm(state: str, hosts: tuple[str, ...] = (IID,)) -> Message:
    change = AlarmChange("oomwatch-fleet-memory", "memory", state, "OK" if state == "ALARM" else "ALARM",
                         "Threshold crossed", MS, hosts, None, None, "eu-west-1", "123456789012")  # fmt: skip
    rows = [HostRow(h, INFO if h == IID else None, 97.0, 1.0, None) for h in hosts]
    return render_alarm_notice(change, rows, [])


ROLLOUT = AssociationChange("e87ad4f2-3ba1-5ca2-b4b0-8881f530f5c4", IID, "Failed", "Failed", "", "", "doc", "",
                            "eu-west-1", "123456789012")  # fmt: skip


def minimal_kill() -> Message:
    """What service.logic.kills.minimal_message sends for a kill whose details could not be rendered."""
    doc = {"kind": "oom_kill", "minimal": True, "process": "java", "pid": 7, "host": "web-1", "instance_id": IID,
           "kill_line": "Out of memory: Killed process 7 (java)", "kill_key": "k" + "a" * 40,
           "error": "KeyError"}  # fmt: skip
    text = "java (pid 7) was killed by the OOM killer on web-1.\n\nThe details could not be rendered (KeyError)"
    return Message("oom_kill", "[OOM] java killed on web-1 (details could not be rendered)", text, doc,
                   {"kind": "oom_kill", "severity": "warning", "instance_id": IID})  # fmt: skip


def every_kind(ch: str = "") -> dict[str, Message]:
    """One message of each kind the topic carries (and the variants that change the form), ``ch`` in every
    field a log line or a tag fills."""
    glob, memcg = parse_lines(global_report(ch) + memcg_report(ch, start_us=1_795_169_700_000_000))
    failure = classify_failure(ROLLOUT, [StepOutput("configureAgent", "Failed", "", f"bad{ch}config")])
    return {
        "kill": render_kill(view(glob)),
        "kill_memcg_no_instance": render_kill(view(memcg, None)),
        "kill_minimal": minimal_kill(),
        "loop": render_loop(view(glob, occurrence=5), [IID, OTHER]),
        "digest": render_digest(digest_of(glob)),
        "alarm": alarm("ALARM"),
        "alarm_ok": alarm("OK"),
        "alarm_fleet": alarm("ALARM", (IID, OTHER)),
        "rollout_failed": render_failure_notice(ROLLOUT, failure, name=f"reports{ch}1", notes=[f"n{ch}"]),
        "rollout_fixed": render_fixed_notice(ROLLOUT, [failure.kind], name=f"reports{ch}1"),
        "coverage": render_coverage_notice(
            CoverageChange(frozenset({IID, OTHER}), (IID,), (), ()), names={IID: f"web{ch}1"}, expected_count=5,
            lookback_minutes=15, target="instances tagged oomwatch:enabled=true", region="eu-west-1",
            account="123456789012",
        ),
        "mute_set": render_mute_notice(MUTE(ch), "set", max_hours=72, region="eu-west-1", account="123456789012"),
        "mute_removed": render_mute_notice(MUTE(ch).removed_at(MS // 1000 + 600), "removed", max_hours=72,
                                           region="eu-west-1", account="123456789012"),
        "mute_expired": render_mute_notice(MUTE(ch), "expired", max_hours=72, region="eu-west-1",
                                           account="123456789012"),
    }  # fmt: skip


def MUTE(ch: str) -> Mute:
    return Mute("m-0a1b2c3d", "process", f"php{ch}-fpm*", MS // 1000, MS // 1000 + 4 * 3600, f"deploy{ch} 42",
                f"arn:aws:iam::123456789012:user/al{ch}")  # fmt: skip


MESSAGES = every_kind()


def form(message: Message) -> dict[str, Any]:
    return dict(json.loads(chat.encode(message)))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def outside_code(text: str) -> str:
    """``text`` without its fenced blocks and inline code spans: what a chat client formats."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def test_the_schema_is_a_valid_json_schema_with_its_provenance() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert "https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html" in SCHEMA["description"]
    assert "https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html" in str(chat.__doc__)


def test_every_kind_the_topic_carries_is_covered() -> None:
    # every Message("<kind>", ...) the Lambda code builds has its chat form here, and a test message below
    lambdas = Path(chat.__file__).resolve().parents[1]
    built = {kind for path in lambdas.rglob("*.py") for kind in re.findall(r'Message\(\s*"(\w+)"', path.read_text())}
    assert built == set(chat.KINDS) == {m.kind for m in MESSAGES.values()}


@pytest.mark.parametrize("name", MESSAGES)
def test_every_kind_has_a_chat_form_that_matches_the_schema(name: str) -> None:
    # GIVEN one message of each kind; WHEN its chat form is built
    message = MESSAGES[name]
    sent = form(message)
    # THEN it is the documented custom notification, within its limits
    errors = [f"{list(e.path)}: {e.message}" for e in VALIDATOR.iter_errors(sent)]
    assert errors == []
    assert sent["version"] == "1.0" and sent["source"] == "custom"
    assert sent["content"]["textType"] == "client-markdown"
    assert sent["metadata"]["eventType"] == "oomwatch-" + message.kind.replace("_", "-")
    # AND its description is the e-mail text in one code block
    description = sent["content"]["description"]
    assert description.startswith("```\n") and description.endswith("\n```")
    assert description.count("```") == 2
    first = message.text.split("\n", 1)[0]
    assert chat.code_text(first) in description


def test_a_kill_its_loop_and_its_digest_share_one_thread_and_other_kills_do_not() -> None:
    kill, loop, digest = (form(MESSAGES[n])["metadata"]["threadId"] for n in ("kill", "loop", "digest"))
    assert kill == loop == digest == f"oomwatch-kill-{MESSAGES['kill'].doc['fingerprint']}"
    assert form(MESSAGES["kill_memcg_no_instance"])["metadata"]["threadId"] != kill
    assert form(MESSAGES["kill_minimal"])["metadata"]["threadId"] == "oomwatch-kill-" + "a" * 40


def test_notices_thread_by_their_subject() -> None:
    threads = {name: form(m)["metadata"]["threadId"] for name, m in MESSAGES.items()}
    assert threads["alarm"] == threads["alarm_ok"]  # one contributor's ALARM and its OK
    assert threads["alarm_fleet"] != threads["alarm"]  # the alarm itself
    assert threads["rollout_failed"] == threads["rollout_fixed"]  # one host's rollout
    assert threads["mute_set"] == threads["mute_removed"] == threads["mute_expired"]  # one mute
    assert len({threads[n] for n in ("kill", "alarm", "rollout_failed", "coverage")}) == 4
    # and the same notice rendered twice gets the same thread and id
    assert form(alarm("ALARM")) == form(MESSAGES["alarm"])


def test_a_kill_names_its_links_advice_instance_and_context() -> None:
    message = MESSAGES["kill"]
    sent = form(message)
    steps = sent["content"]["nextSteps"]
    assert steps[0] == f"The log stream around the kill: {message.doc['links']['log_stream']}"
    assert steps[1] == f"The instance: {message.doc['links']['instance']}"
    assert steps[2] == chat.code(message.doc["hint"][0])
    assert sent["content"]["keywords"] == ["oom-kill", "critical", "kernel", IID]
    assert sent["content"]["title"] == f":rotating_light: `{message.subject}`"
    assert sent["metadata"]["summary"] == "OOMWatch OOM kill (critical)"
    assert sent["metadata"]["relatedResources"] == [IID]
    assert sent["metadata"]["additionalContext"]["fingerprint"] == message.doc["fingerprint"]
    assert sent["metadata"]["enableCustomActions"] is False
    # the digest links to its window's kills; a loop and a digest count their kills
    assert form(MESSAGES["digest"])["content"]["nextSteps"][0].startswith("Every kill of this window: https://")
    assert form(MESSAGES["loop"])["metadata"]["summary"] == "OOMWatch OOM loop, 5 kills (critical)"
    assert form(MESSAGES["alarm_ok"])["content"]["title"].startswith(":white_check_mark: ")
    assert form(MESSAGES["coverage"])["metadata"]["summary"] == "OOMWatch Coverage: 2 of 5 hosts silent (warning)"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_chat_markup_in_a_process_or_host_name_stays_text(hostile: str) -> None:
    # GIVEN every kind of message with a mention, a channel ping or a markdown link in every name a log gives
    for name, message in every_kind(hostile).items():
        sent = form(message)
        texts = list(strings(sent))
        # THEN no text of the form has a raw < or > (Slack reads <!channel> and <url|text> only with them)
        assert not [t for t in texts if "<" in t or ">" in t], name
        # AND outside code nothing of it is left: no @here, no [x](...) link, no http:// URL
        free = [outside_code(t) for t in texts]
        assert not [t for t in free if "@here" in t or "](" in t or "http://" in t or "channel" in t], name
    # AND it is shown, as text, where the e-mail shows it
    kill = form(every_kind(hostile)["kill"])
    assert chat.code_text(f"doxy{hostile}gen") in kill["content"]["title"]
    assert chat.code_text(f"doxy{hostile}gen (pid 473206) was killed") in kill["content"]["description"]


def test_a_backtick_in_a_name_cannot_close_the_code() -> None:
    sent = form(every_kind("`*x*` [a](http://evil) `")["kill"])
    description = sent["content"]["description"]
    assert description.count("`") == 6  # the two fences only
    assert sent["content"]["title"].count("`") == 2
    assert all(step.count("`") in (0, 2) for step in sent["content"]["nextSteps"])


def huge() -> Message:
    """A message past every limit: a long subject, a body of 5,000 lines of multi-byte text and one 20,000
    character line, 40 hints of 2,000 characters, 30 instances."""
    base = MESSAGES["kill"]
    text = "\n".join([f"Zeile {n}: Größe ✓ 記憶 🐘" * 6 for n in range(5000)] + ["x" * 20_000])
    doc = {**base.doc, "hint": [f"hint {n} " + "ä" * 2000 for n in range(40)],
           "instances": [f"i-{n:017x}" for n in range(30)],
           "event": {**cast(dict[str, Any], base.doc["event"]), "lines": ["🐘 line " * 50] * 5000}}  # fmt: skip
    return Message("oom_kill", "[OOM critical] " + "y" * 400, text, doc, base.attributes)


def test_a_huge_message_is_cut_cleanly_within_every_limit() -> None:
    message = huge()
    encoded = chat.encode(message)
    sent = json.loads(encoded)
    # THEN the form is valid and small
    assert [e.message for e in VALIDATOR.iter_errors(sent)] == []
    assert len(encoded) <= chat.ENCODED_MAX and encoded.isascii()
    content = sent["content"]
    assert len(content["title"]) <= chat.TITLE_MAX and content["title"].endswith("...`")
    assert len(content["description"]) <= chat.DESCRIPTION_MAX
    # AND the body keeps whole lines, then says how many it left out
    lines = content["description"].split("\n")
    assert lines[0] == lines[-1] == "```"
    assert re.fullmatch(r"\[\.\.\. \d+ more lines: see the e-mail or the JSON form\]", lines[-2])
    kept = lines[1:-2]
    assert kept == message.text.split("\n")[: len(kept)] and len(kept) > 50
    assert int(lines[-2].split()[1]) == len(message.text.split("\n")) - len(kept)
    assert len(content["nextSteps"]) == chat.STEPS_MAX
    assert all(len(s) <= chat.STEP_MAX for s in content["nextSteps"])
    assert [s.endswith("...`") for s in content["nextSteps"][2:]] == [True] * 3
    assert len(sent["metadata"]["relatedResources"]) == chat.RESOURCES_MAX


def test_the_sns_message_keeps_every_form_and_its_size() -> None:
    # GIVEN a kill alert and a message past every limit
    for message in (MESSAGES["kill"], huge()):
        # WHEN the publisher encodes it
        body = envelope.encode(message)
        parts = json.loads(body)
        # THEN e-mail and machine subscribers get what they got before, and HTTPS (Amazon Q) the chat form
        assert set(parts) == {"default", "email", "https"}
        assert len(body.encode()) <= envelope.BUDGET_BYTES < envelope.SNS_MAX_BYTES
        assert json.loads(parts["https"]) == form(message)
        if message is MESSAGES["kill"]:
            assert parts["email"] == message.text
            assert json.loads(parts["default"]) == json.loads(json.dumps(message.doc, default=str))


def test_a_message_the_form_cannot_be_built_for_still_encodes() -> None:
    # GIVEN a message no renderer makes (no text at all)
    broken = Message("oom_kill", "subject", None, {}, {})  # type: ignore[arg-type]
    # WHEN it is encoded THEN the fixed fallback goes out, valid, and the publish can carry the e-mail
    sent = json.loads(chat.encode(broken))
    assert sent == chat.fallback_form(broken)
    assert [e.message for e in VALIDATOR.iter_errors(sent)] == []


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.text(max_size=400), max_size=300),
    limit=st.integers(min_value=200, max_value=chat.DESCRIPTION_MAX),
)
@example(lines=["\x01" * 5] * 60, limit=200)  # each line break is two bytes of JSON: found by hypothesis
def test_block_is_one_closed_code_block_within_its_limit(lines: list[str], limit: int) -> None:
    text = chat.block(lines, limit=limit, budget=4 * limit)
    assert len(text) <= limit and len(json.dumps(text)) - 2 <= 4 * limit
    assert text.startswith("```\n") and text.endswith("```")
    assert text.count("```") == 2 and "<" not in text and ">" not in text


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=40))
@example("\x7f")
@example('a"b\\c\td')
@example("\ud800")
def test_the_json_length_shortcut_is_what_json_dumps_writes(text: str) -> None:
    # THEN a line's length in the encoded form is the length json.dumps gives it, with or without escapes
    assert chat._json_len(text) == len(json.dumps(text)) - 2
