"""Every renderer of an alert (kill, OOM loop, digest, alarm notice) on real reports and EC2 tags that carry
each character the sanitiser replaces: no subject, body, JSON form or message attribute keeps one."""

from __future__ import annotations

from typing import cast

import pytest
from oomwatch import parse_lines
from oomwatch.event import OomEvent
from service.logic.alarm_text import AlarmChange, HostRow, render_alarm_notice
from service.logic.alert_text import render_digest, render_kill, render_loop
from service.logic.hints import hint_lines
from service.logic.severity import fingerprint, severity
from service.models.instance import InstanceInfo, parse_instances
from service.models.views import DigestVictim, DigestView, KillView, Message

from tests.support.poison import CASE_IDS, CASES, found, global_report, mark, memcg_report, strings

IID = "i-0abc12345def67890"
MS = 1_795_169_700_000


def _instance(ch: str) -> InstanceInfo:
    """What the EC2 lookup makes of an instance whose Name, ASG and a user tag carry ``ch``."""
    tags = [
        {"Key": "Name", "Value": f"web{ch}1"},
        {"Key": "aws:autoscaling:groupName", "Value": f"web{ch}asg"},
        {"Key": f"te{ch}am", "Value": f"w{ch}eb"},
    ]
    reservation = {"Instances": [{"InstanceId": IID, "InstanceType": "t3.large", "Tags": tags}]}
    return parse_instances([reservation])[IID]._replace(memory_mib=8192)


def _view(event: OomEvent, info: InstanceInfo) -> KillView:
    return KillView(
        event=event, kill_time_ms=MS, instance_id=IID, instance=info, severity=severity(event, ["mysqld"]),
        fingerprint=fingerprint(event, IID, info), occurrence=1, window_minutes=15, loop_threshold=5,
        region="eu-west-1", account="123456789012", log_group="/oomwatch/ec2/syslog", stream=IID,
        hint=hint_lines(event, info),  # as the kill's use case computes it
    )  # fmt: skip


def _dirty(message: Message) -> list[str]:
    """The strings of a message that keep a character no output may carry (the body may break lines)."""
    parts = [message.subject, *strings(message.doc), *strings(message.attributes)]
    bad = [p for p in parts if found(p)]
    if found(message.text, allowed="\n"):
        bad.append(message.text)
    if not message.subject.isascii():
        bad.append(message.subject)
    return bad


@pytest.mark.parametrize(("kind", "ch"), CASES, ids=CASE_IDS)
def test_every_renderer_shows_the_character_by_its_code_point_and_never_as_itself(kind: str, ch: str) -> None:
    # GIVEN the two real reports and the instance, with the character in every field they have
    glob, memcg = parse_lines(global_report(ch) + memcg_report(ch, start_us=1_795_169_700_000_000))
    info = _instance(ch)
    m = mark(ch)
    assert info.name == f"web{m}1" and info.asg == f"web{m}asg"  # sanitised where the tags enter

    # WHEN every message about them is rendered
    kill, memcg_kill = render_kill(_view(glob, info)), render_kill(_view(memcg, info))
    loop = render_loop(_view(glob, info), [IID])
    digest = render_digest(
        DigestView(
            fingerprint=fingerprint(glob, IID, info), total=3, window_start_ms=MS, window_end_ms=MS + 900_000,
            first_ms=MS, last_ms=MS + 60_000, instances=[IID],
            victims=[DigestVictim(str(glob["victim"]["comm"]), 473206, 9_234_324, IID, MS)], severity="critical",
            escalated=False, region="eu-west-1", account="123456789012", events_log_group="/aws/lambda/oomwatch-oom",
            names={IID: str(info.name)},
        )
    )  # fmt: skip
    alarm = render_alarm_notice(
        AlarmChange(f"fleet{ch}memory", "memory", "ALARM", "OK", f"Threshold{ch}crossed", MS, (IID,), None, None,
                    "eu-west-1", "123456789012"),
        [HostRow(IID, info, 97.0, 1.0, {"comm": glob["victim"]["comm"], "pid": 473206, "time_ms": MS})],
        [f"note{ch}"],
    )  # fmt: skip

    # THEN none keeps the character itself
    for message in (kill, memcg_kill, loop, digest, alarm):
        assert _dirty(message) == [], message.kind
    # AND each shows where it was
    assert f"doxy{m}gen" in kill.subject and f"doxy{m}gen (pid 473206) was killed" in kill.text
    assert f"Host:       web{m}1 ({IID})" in kill.text and f"ASG web{m}asg" in kill.text
    assert f"te{m}am=w{m}eb" in kill.text and kill.doc["instance"]["tags"] == {f"te{m}am": f"w{m}eb"}
    assert f"session-2{m}.scope" in kill.text
    assert f"chr{m}ome" in kill.text
    assert kill.attributes["process"] == f"doxy{m}gen"
    assert f"mem{m}monster" in memcg_kill.subject
    if not ch.isspace():  # "Task in A killed as a result of limit of B" is split at white space
        [limit_hint] = [h for h in cast(list[str], memcg_kill.doc["hint"]) if "cgroup limit was hit" in h]
        assert f"/mem{m}2 reached" in limit_hint and " ".join(limit_hint.split()) in " ".join(memcg_kill.text.split())
    assert f"web{m}1" in loop.subject and f"web{m}1" in digest.text and f"web{m}1" in alarm.subject
    assert f"Threshold{m}crossed" in alarm.text
