"""The OOM handler end to end on moto: real corpus reports in real subscription payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from handler_kit import (
    ACCOUNT,
    FIXED_MS,
    REGION,
    SYSLOG_GROUP,
    Clock,
    Invoke,
    LogCapture,
    World,
    corpus_lines,
    emf,
    log_events,
    payload,
    rendered,
    snapshot,
)


def deliver_report(name: str, stream: str, end_ms: int = FIXED_MS) -> dict[str, Any]:
    lines = corpus_lines(name)
    return payload(stream, log_events(lines, end_ms - len(lines)))


def test_whole_report_gives_one_enriched_alert_event_and_metric(
    world: World, invoke_oom: Invoke, logs: LogCapture, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the RHEL 7 global OOM that killed mysqld, delivered whole from db-1's stream
    iid = world.instances["db-1"]
    clock.now = FIXED_MS / 1000
    capsys.readouterr()

    # WHEN the handler runs
    result = invoke_oom(deliver_report("01_", iid))

    # THEN one alert names host, size, share of RAM, and carries the attributes subscribers filter on
    assert result["kills"] == 1 and result["alerts"] == 1
    [sent] = world.sent()
    assert sent.subject == f"[OOM critical] mysqld killed on db-1 ({iid}) 19.7 GiB, 61% RAM"
    assert sent.attributes == {
        "severity": "critical",
        "instance_id": iid,
        "process": "mysqld",
        "source": "kernel",
        "kind": "oom_kill",
        "constraint": "global",
    }
    assert "r5.xlarge, 32,768 MiB RAM" in sent.text
    assert "next size r5.2xlarge has" in sent.text
    assert sent.doc["type"] == "oom_kill" and sent.doc["instance"]["memory_mib"] == 32768
    # AND one structured event in the function's own log
    [event] = logs.events()
    assert event["victim"]["comm"] == "mysqld"
    assert event["instance"]["id"] == iid and event["instance"]["name"] == "db-1"
    assert event["severity"] == "critical" and event["occurrence"] == 1 and event["decision"] == "alert"
    assert event["account"] == ACCOUNT and event["region"] == REGION
    assert len(event["fingerprint"]) == 24
    assert event["rss_share_pct"] == 61
    assert event["instance"]["tags"] == {"team": "web"}
    # AND an OOMKills metric whose only dimensions are severity, source and service
    [kills] = [m for m in emf(capsys.readouterr().out) if "OOMKills" in m]
    dims = kills["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    assert sorted(dims) == ["service", "severity", "source"]
    assert kills["OOMKills"] == [1.0] and kills["severity"] == "critical"


@pytest.mark.parametrize(
    ("corpus", "stream_name", "snap"),
    [
        ("01_", "db-1", "kill_global_mysqld.txt"),
        ("05_", "web-1", "kill_memcg_cgroup.txt"),
        ("02_", "web-2", "kill_global_systemd_unit.txt"),
        ("47_", None, "kill_systemd_oomd_no_instance.txt"),
    ],
)
def test_alert_texts_are_pinned(
    world: World, invoke_oom: Invoke, clock: Clock, corpus: str, stream_name: str | None, snap: str
) -> None:
    # GIVEN a real report from the corpus on an instance (or on a stream that is no instance id)
    stream = world.instances[stream_name] if stream_name else "legacy-host/syslog"
    clock.now = FIXED_MS / 1000

    # WHEN it is delivered
    invoke_oom(deliver_report(corpus, stream))

    # THEN the alert reads exactly as the stored snapshot (UPDATE_SNAPSHOTS=1 regenerates)
    [sent] = world.sent()
    snapshot(snap, rendered(sent, world))
    assert len(sent.subject) <= 100


def test_stream_that_is_not_an_instance_id_alerts_without_ec2(
    world: World, invoke_oom: Invoke, runtime_: Any, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stream named after a host, not an instance id, and an EC2 client that must not be used
    def no_ec2(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("DescribeInstances must not be called for a non-instance stream")

    monkeypatch.setattr(runtime_.clients.ec2, "describe_instances", no_ec2)
    lines = [f"Nov 26 10:00:00 legacy-db kernel: {line}" for line in corpus_lines("01_")]

    # WHEN the report arrives
    invoke_oom(payload("legacy-db/var/log/messages", log_events(lines, FIXED_MS)))

    # THEN the host comes from the log line and there is no instance block
    [sent] = world.sent()
    assert "killed on legacy-db " in sent.subject
    assert "% RAM" not in sent.subject
    assert sent.attributes.get("instance_id") is None
    [event] = logs.events()
    assert event["host"] == "legacy-db" and "instance" not in event


def test_control_message_is_ignored(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN the reachability check CloudWatch Logs sends when a subscription is created
    event = payload("i-0123456789abcdef0", [], message_type="CONTROL_MESSAGE")

    # WHEN it is delivered
    result = invoke_oom(event)

    # THEN nothing is parsed, logged or sent
    assert result["control"] is True
    assert world.sent() == [] and logs.events() == []


FORGED = [
    "Nov 26 10:00:00 web-1 ubuntu: Out of memory: Killed process 1 (systemd) total-vm:169432kB, anon-rss:9536kB,"
    " file-rss:6912kB, shmem-rss:0kB, UID:0 pgtables:96kB oom_score_adj:0",
    "Nov 26 10:00:01 web-1 ubuntu[4242]: Memory cgroup out of memory: Killed process 812 (mysqld)"
    " total-vm:9000000kB, anon-rss:8000000kB, file-rss:0kB, shmem-rss:0kB, UID:27 pgtables:9000kB oom_score_adj:0",
    '{"body":{"MESSAGE":"Out of memory: Killed process 1 (systemd) total-vm:169432kB, anon-rss:9536kB,'
    ' file-rss:6912kB, shmem-rss:0kB, UID:0 pgtables:96kB oom_score_adj:0","_TRANSPORT":"syslog",'
    '"SYSLOG_IDENTIFIER":"ubuntu"}}',
]


def test_forged_user_space_lines_give_no_alert(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN lines any user can write with `logger`, imitating the kernel (syslog and journald forms)
    iid = world.instances["web-1"]

    # WHEN they are delivered
    result = invoke_oom(payload(iid, log_events(FORGED, FIXED_MS)))

    # THEN no kill is reported: no alert, no event
    assert result["kills"] == 0
    assert world.sent() == [] and logs.events() == []


def test_control_characters_in_a_process_name_are_neutralised(world: World, invoke_oom: Invoke) -> None:
    # GIVEN a kernel line whose process name carries a bidi override and an escape sequence
    iid = world.instances["web-1"]
    line = (
        "Nov 26 10:00:00 web-1 kernel: [1234.5] Out of memory: Killed process 4242 (ev\u202eil\x1b[2J) "
        "total-vm:100000kB, anon-rss:90000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:0"
    )

    # WHEN it is delivered
    invoke_oom(payload(iid, log_events([line], FIXED_MS)))

    # THEN the subject, body and attributes keep no control or bidi character
    [sent] = world.sent()
    for text in (sent.subject, sent.text, *sent.attributes.values()):
        assert "\u202e" not in text and "\x1b" not in text
    assert all(ch == "\n" or ch >= " " for ch in sent.text)
    assert sent.subject.isascii()


def test_allow_listed_process_is_event_only(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN ALLOW_LIST names stress-ng* and a memcg kill of stress-ng arrives
    iid = world.instances["web-1"]
    line = (
        "Nov 26 10:00:00 web-1 kernel: [1234.5] Memory cgroup out of memory: Killed process 999 (stress-ng-vm) "
        "total-vm:500000kB, anon-rss:400000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:900kB oom_score_adj:0"
    )

    # WHEN it is delivered
    result = invoke_oom(payload(iid, log_events([line], FIXED_MS)))

    # THEN the event is written but nothing is sent
    assert result["event_only"] == 1 and world.sent() == []
    [event] = logs.events()
    assert event["decision"] == "event_only"
    assert event["allow_listed"] == "process stress-ng* is allow-listed"


def test_allow_listed_instance_tag_is_event_only(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN an instance tagged oom-expected=true (ALLOW_LIST tags) and a kill on it
    import boto3

    iid = world.instances["web-3"]
    boto3.client("ec2", region_name=REGION).create_tags(
        Resources=[iid], Tags=[{"Key": "oom-expected", "Value": "true"}]
    )

    # WHEN a report arrives from it
    invoke_oom(deliver_report("01_", iid))

    # THEN only the event is written
    assert world.sent() == []
    assert logs.events()[0]["allow_listed"] == "instance tag oom-expected=true is allow-listed"


def test_memcg_kill_of_non_critical_process_is_a_warning(world: World, invoke_oom: Invoke) -> None:
    # GIVEN a memory-cgroup kill (cgroup v1, 3.13) of a process not on the critical list
    # WHEN it is delivered
    invoke_oom(deliver_report("05_", world.instances["web-1"]))

    # THEN it is a warning, and the hint talks about the cgroup limit, not the host
    [sent] = world.sent()
    assert sent.subject.startswith("[OOM warning] memorymonster killed on web-1")
    assert "The cgroup limit was hit, not the host" in sent.text


def test_log_group_in_links_is_the_subscription_source(world: World, invoke_oom: Invoke) -> None:
    # GIVEN a delivery from the syslog group
    # WHEN the alert is rendered
    invoke_oom(deliver_report("01_", world.instances["db-1"]))

    # THEN the Logs Insights link targets that group and the instance page is linked
    [sent] = world.sent()
    assert "*2Foomwatch*2Fec2*2Fsyslog" in sent.doc["links"]["logs"]
    assert SYSLOG_GROUP == "/oomwatch/ec2/syslog"
    assert sent.doc["links"]["instance"].endswith(f"instanceId={world.instances['db-1']}")


def test_journald_envelopes_from_the_agent_are_parsed(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN an Amazon Linux 2023 host shipping the journal: every kernel line arrives as the agent's JSON envelope
    iid = world.instances["web-2"]
    lines = [
        json.dumps({"body": {"MESSAGE": line, "_TRANSPORT": "kernel", "_HOSTNAME": "web-2", "PRIORITY": "3"},
                    "severity_number": 17})
        for line in corpus_lines("02_")
    ]  # fmt: skip

    # WHEN delivered
    invoke_oom(payload(iid, log_events(lines, FIXED_MS)))

    # THEN the kill is reported with the journal's host name and the systemd unit from the cgroup
    [sent] = world.sent()
    assert sent.subject.startswith("[OOM critical] unattended-upgr killed on web-2")
    [event] = logs.events()
    assert event["host"] == "web-2" and event["cgroup"]["workload"]["unit"] == "unattended-upgrades.service"
