"""Noise control and idempotency: duplicates, OOM loops, storms, windows, concurrent invocations."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from handler_kit import (
    FIXED_MS,
    Clock,
    Invoke,
    LogCapture,
    World,
    client,
    corpus_lines,
    kills,
    log_events,
    payload,
    rendered,
    serialise,
    snapshot,
)

from demo.memory_history import put_history

WINDOW_S = 15 * 60


def test_duplicate_delivery_sends_one_alert_and_one_event(world: World, invoke_oom: Invoke, logs: LogCapture) -> None:
    # GIVEN one delivery of the mysqld report
    iid = world.instances["db-1"]
    lines = corpus_lines("01_")
    event = payload(iid, log_events(lines, FIXED_MS - len(lines)))

    # WHEN it is delivered twice (a retried async invocation, or a duplicate delivery)
    first = invoke_oom(event)
    second = invoke_oom(event)

    # THEN one alert, one event; the second run recognises the kill by its log event id
    assert first["alerts"] == 1 and second["duplicates"] == 1 and second["alerts"] == 0
    assert len(world.sent()) == 1
    assert len(logs.events()) == 1


def test_copies_of_a_kill_from_syslog_kern_log_and_the_journal_alert_once(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN an Ubuntu host whose agent ships /var/log/syslog, /var/log/kern.log and the journal: the same
    # kernel report arrives three times, with different log event ids, in separate deliveries
    iid = world.instances["db-1"]
    lines = corpus_lines("26_")
    journal = [
        json.dumps(
            {
                "body": {
                    "MESSAGE": line.split("] ", 1)[-1],
                    "_TRANSPORT": "kernel",
                    "_HOSTNAME": "db-1",
                    "SYSLOG_IDENTIFIER": "kernel",
                }
            }
        )
        for line in lines
    ]
    deliveries = [
        payload(iid, log_events(lines, FIXED_MS, seq0=0)),
        payload(iid, log_events(lines, FIXED_MS + 5, seq0=1000)),
        payload(iid, log_events(journal, FIXED_MS + 9, seq0=2000)),
    ]

    # WHEN all three are delivered
    results = [invoke_oom(d) for d in deliveries]

    # THEN one alert and one event: the copies are recognised as the same kill, not counted as repeats
    assert [r["alerts"] for r in results] == [1, 0, 0]
    assert [r["duplicates"] for r in results] == [0, 1, 1]
    assert len(world.sent()) == 1
    assert len(logs.events()) == 1


def test_storm_of_500_kills_ends_in_a_handful_of_messages(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, clock: Clock, logs: LogCapture
) -> None:
    # GIVEN php-fpm killed 500 times across the 3 instances of web-asg within 10 minutes,
    # delivered as 25 subscription batches of 20 kills (CloudWatch Logs batches a stream's events)
    hosts = ["web-1", "web-2", "web-3"]
    start = clock.now
    for batch in range(25):
        host = hosts[batch % 3]
        clock.now = start + batch * 24
        events = kills(host, 10_000 + batch * 1000, 20, int(clock.now * 1000), rss_kb=500_000 + batch * 1000)
        invoke_oom(payload(world.instances[host], events))

    # WHEN the digest schedule runs after the window has ended
    clock.now = start + WINDOW_S + 60
    digest = invoke_digest({"account": "123456789012"})

    # THEN all 500 events are written, but only 3 messages are sent: first kill, OOM loop, digest
    assert len(logs.events()) == 500
    assert digest == {"due": 1, "sent": 1}
    subjects = [s.subject for s in world.sent()]
    assert len(subjects) == 3, subjects
    assert subjects[0].startswith("[OOM critical] php-fpm8.1 killed on web-1")
    # (the loop and the digest name a host as the kill alert does, and say how long the kills took)
    assert subjects[1] == f"[OOM loop] php8.1-fpm.service: 5 kills in 4 s on web-1 ({world.instances['web-1']})"
    assert subjects[2].startswith("[OOM digest] php8.1-fpm.service: 500 kills in 9 min ")
    assert subjects[2].endswith(" +2 more")
    digest_doc = world.sent()[2].doc
    assert digest_doc["count"] == 500 and digest_doc["folded"] == 499
    assert sorted(digest_doc["instances"]) == sorted(world.instances[h] for h in hosts)
    sizes = [v["rss_kb"] for v in digest_doc["largest_victims"]]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 500_000 + 24 * 1000 + 19 * 1000
    decisions = [e["decision"] for e in logs.events()]
    assert decisions.count("alert") == 1 and decisions.count("loop") == 1 and decisions.count("folded") == 498
    assert [e["occurrence"] for e in logs.events()] == list(range(1, 501))

    # AND a second digest run sends nothing more
    assert invoke_digest({"account": "123456789012"}) == {"due": 0, "sent": 0}
    assert len(world.sent()) == 3


def test_loop_and_digest_texts_are_pinned(
    world: World, invoke_oom: Invoke, invoke_digest: Invoke, clock: Clock
) -> None:
    # GIVEN 6 kills of php-fpm on web-1 at a fixed time, after an hour of memory climbing (the agent's metrics)
    put_history(client("cloudwatch"), world.instances["web-1"], FIXED_MS)
    clock.now = FIXED_MS / 1000
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 4000, 6, FIXED_MS)))

    # WHEN the window ends and the digest runs
    clock.now = FIXED_MS / 1000 + WINDOW_S + 60
    invoke_digest({"account": "123456789012"})

    # THEN first alert, loop escalation and digest read as pinned
    first, loop, digest = world.sent()
    snapshot("kill_php_fpm_global.txt", rendered(first, world))
    snapshot("loop_php_fpm.txt", rendered(loop, world))
    snapshot("digest_php_fpm.txt", rendered(digest, world))


def test_a_kill_after_the_window_opens_a_new_one_and_says_the_loop_goes_on(
    world: World, invoke_oom: Invoke, clock: Clock
) -> None:
    # GIVEN 3 kills in one window
    iid = world.instances["web-2"]
    start = clock.now
    invoke_oom(payload(iid, kills("web-2", 5000, 3, int(start * 1000))))

    # WHEN another kill arrives 16 minutes later
    clock.now = start + 16 * 60
    invoke_oom(payload(iid, kills("web-2", 6000, 1, int(clock.now * 1000))))

    # THEN it alerts again at once, and says the previous window had 3 kills
    _first, second = world.sent()
    assert "Occurrence: 1st kill" in second.text
    assert "The previous window had 3 kills: this is still going on." in second.text


@pytest.fixture
def one_metrics_store_per_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Serialise Powertools' EMF provider between test threads.

    Lambda runs one invocation per process at a time, so the module-level ``Metrics`` store is never
    shared by threads there. Threads in one test process do share it, and a flush iterating the
    store while another thread adds a metric raises "dictionary changed size during iteration".
    """
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    names = ("add_metric", "add_dimension", "add_metadata", "serialize_metric_set", "flush_metrics", "clear_metrics")
    serialise(monkeypatch, AmazonCloudWatchEMFProvider, names, threading.RLock())
    yield


@pytest.mark.usefixtures("one_metrics_store_per_process")
def test_concurrent_invocations_agree_on_the_first_kill(
    world: World, invoke_oom: Invoke, runtime_: Any, clock: Clock, logs: LogCapture
) -> None:
    # GIVEN 8 deliveries of distinct kills of the same fingerprint, processed at the same moment
    # by 8 threads (as 8 concurrent Lambda invocations would); conftest gives moto DynamoDB's atomicity
    events = [payload(world.instances["web-3"], kills("web-3", 20_000 + 100 * n, 1, int(clock.now * 1000))) for n in
              range(8)]  # fmt: skip
    barrier = threading.Barrier(8)
    errors: list[str] = []

    def run(event: dict[str, Any]) -> None:
        barrier.wait()
        try:
            invoke_oom(event)
        except BaseException:  # pragma: no cover - surfaced below, with where it came from
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(e,)) for e in events]

    # WHEN they run
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # THEN the atomic counter numbers them 1..8: exactly one kill alert (the 1st) and one loop alert (the 5th)
    # are sent, in whichever order their two invocations publish them
    assert errors == []
    assert sorted(e["occurrence"] for e in logs.events()) == list(range(1, 9))
    assert sorted(s.doc["type"] for s in world.sent()) == ["oom_kill", "oom_loop"]


def test_state_items_expire_by_ttl(world: World, invoke_oom: Invoke, clock: Clock) -> None:
    # GIVEN one kill processed
    invoke_oom(payload(world.instances["web-1"], kills("web-1", 7000, 1, int(clock.now * 1000))))

    # WHEN the table is read back
    items = client("dynamodb").scan(TableName="oomwatch-state")["Items"]

    # THEN every item carries the TTL attribute, in the future
    kinds = sorted(item["pk"]["S"].split("#", 1)[0] for item in items)
    assert kinds == ["fp", "kill", "last", "win"]
    assert all(int(item["expires_at"]["N"]) > clock.now for item in items)


def test_one_kill_through_several_streams_of_one_instance_is_one_kill(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN an existing setup with a stream per file (and one per instance): the same kernel report
    # reaches CloudWatch through five streams of one instance, each copy with its own event ids
    iid = world.instances["db-1"]
    lines = corpus_lines("26_")
    streams = [f"{iid}/var/log/syslog", f"{iid}/var/log/kern.log", f"{iid}/var/log/messages", iid, f"{iid}-journal"]

    # WHEN the five deliveries arrive
    results = [invoke_oom(payload(s, log_events(lines, FIXED_MS + n, seq0=1000 * n))) for n, s in enumerate(streams)]

    # THEN one kill: one alert, one event, no "[OOM loop] ... killed 5x" (on main: 5 kills and a loop alert)
    assert [r["alerts"] for r in results] == [1, 0, 0, 0, 0]
    assert not [s for s in world.sent() if s.subject.startswith("[OOM loop]")]
    assert len(world.sent()) == 1
    assert len(logs.events()) == 1


def test_corpus_32_pod_kills_are_grouped_by_the_pod_not_the_process_name(
    world: World, invoke_oom: Invoke, logs: LogCapture
) -> None:
    # GIVEN corpus 32: 14 kills in one Kubernetes pod's memory cgroup on an EKS node (mount, python3,
    # openssl); only one report carries the "Memory cgroup stats for /kubepods.slice/...pod..." line
    iid = world.instances["db-1"]
    lines = corpus_lines("32_")

    # WHEN the excerpt is delivered
    result = invoke_oom(payload(iid, log_events(lines, FIXED_MS - len(lines))))

    # THEN every kill is recorded, all in the pod's fingerprint: one alert and one loop alert (it
    # reached 5), the rest folded into the digest - not one alert per process name (5 e-mails on main)
    assert result["kills"] == 14
    events = logs.events()
    assert len(events) == 14
    assert {e["fingerprint_label"] for e in events} == {
        "pod 06d44939-d15e-491f-84a3-2dbba9fc0440 on instance " + iid + " (kernel)"
    }
    assert [s.subject.split("]")[0] + "]" for s in world.sent()] == ["[OOM warning]", "[OOM loop]"]
