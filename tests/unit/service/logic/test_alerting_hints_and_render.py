"""Hints (the one table) and alert rendering limits (pure functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oomwatch import parse_lines
from oomwatch.event import OomEvent
from service.dal.state import due_window
from service.logic import hints
from service.logic.alert_text import render_digest, render_kill, render_loop
from service.logic.digest_view import digest_view
from service.logic.hints import HINTS, Hint, advise, hint_lines
from service.models.decisions import Fingerprint, Severity
from service.models.instance import InstanceInfo
from service.models.views import KillView

CORPUS = Path(__file__).resolve().parents[3] / "corpus"
T3_LARGE = InstanceInfo(
    "i-0abc12345def67890", name="web-1", instance_type="t3.large", memory_mib=8192, next_type="t3.xlarge",
    next_memory_mib=16384, asg="web-asg", az="eu-west-1a",
)  # fmt: skip


def table(rows: list[tuple[str, int]]) -> dict[str, Any]:
    """The parser's ``task_table`` for these (comm, MiB) rows: the total and the sums per name."""
    names: dict[str, list[int]] = {}
    for comm, size in rows:
        entry = names.setdefault(comm, [0, 0])
        entry[0] += 1
        entry[1] += size * 1024
    return {
        "rss_kb": sum(size for _c, size in rows) * 1024,
        "names": [{"comm": c, "tasks": n, "rss_kb": kb} for c, (n, kb) in names.items()],
    }


def kill(comm: str, constraint: str, top: list[tuple[str, int]], workload: dict[str, Any] | None = None,
         memcg: dict[str, int] | None = None, rss_mib: int = 500) -> OomEvent:  # fmt: skip
    event: dict[str, Any] = {
        "source": "kernel",
        "constraint": constraint,
        "victim": {"pid": 4242, "comm": comm, "rss_kb": rss_mib * 1024},
        "top_consumers": [{"pid": i, "comm": c, "rss_kb": m * 1024} for i, (c, m) in enumerate(top)],
        "task_table": table(top) if top else None,
        "cgroup": {"oom_memcg": "/kubepods/burstable/pod1/abc", "task_memcg": None, "workload": workload}
        if workload
        else None,
        "memcg": memcg,
    }
    return cast(OomEvent, event)  # a partial event, as the tests need


def test_php_fpm_pool_size_comes_from_ram_others_and_worker_rss() -> None:
    # GIVEN a host-wide kill of a php-fpm worker on 8 GiB, with mysqld using 1000 MiB
    ev = kill("php-fpm8.1", "global", [("php-fpm8.1", 520), ("php-fpm8.1", 500), ("php-fpm8.1", 480), ("mysqld", 1000)])
    # WHEN advice is computed
    used, lines = advise(ev, T3_LARGE)
    # THEN: (8192 - 819 OS - 1000 others) / 500 avg worker = 12 workers fit; plus the instance advice
    assert used == "php-fpm+host-wide"
    assert lines[0].startswith("PHP-FPM: pm.max_children <= 12 fits: (8,192 MiB RAM - 819 MiB OS - 1,000 MiB other")
    assert "memory_limit bounds ONE worker" in lines[1]
    assert lines[2] == "Host-wide OOM: t3.large has 8,192 MiB; next size t3.xlarge has 16,384 MiB."
    assert len(lines) <= hints.MAX_LINES


def test_memcg_java_kill_is_sized_against_the_cgroup_limit_not_the_host() -> None:
    # GIVEN a Kubernetes container limit of 2 GiB hit by java on an 8 GiB host
    workload = {"kind": "kubernetes", "name": "api", "pod_uid": "1234"}
    ev = kill(
        "java", "memcg", [("java", 1900)], workload, memcg={"usage_kb": 2097152, "limit_kb": 2097152}, rss_mib=1900
    )
    # WHEN advice is computed
    _, lines = advise(ev, T3_LARGE)
    # THEN the heap is capped from the 2048 MiB limit, and the limit to raise is named
    assert lines[0].startswith("Java held 1,900 MiB of 2,048 MiB cgroup limit: cap the heap at ~1,536 MiB")
    assert "2,048 MiB (host RAM 8,192 MiB)" in lines[1]
    assert "resources.limits.memory of api" in lines[2]


def test_hints_without_instance_data_say_what_to_size_without_inventing_numbers() -> None:
    # GIVEN a mysqld kill and no instance information (enrichment failed)
    ev = kill("mysqld", "global", [("mysqld", 3000)], rss_mib=3000)
    # WHEN advice is computed
    _, lines = advise(ev, None)
    # THEN no RAM figure is made up
    assert lines[0].startswith("MySQL/MariaDB held 3,000 MiB: keep innodb_buffer_pool_size well under RAM")
    assert "right-size the instance type" in lines[1]


def test_the_table_is_extended_by_adding_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a new row for Elasticsearch appended to the one table
    row = Hint(
        "elasticsearch", lambda h: [f"Elasticsearch: heap <= 50% of {h.budget_mib} MiB."], processes=("elasticsearch",)
    )
    monkeypatch.setattr(hints, "HINTS", (row, *HINTS))
    # WHEN a kill of that process is advised
    used, lines = advise(kill("elasticsearch", "memcg", []), T3_LARGE)
    # THEN the new row is used, followed by the memcg row
    assert used == "elasticsearch+memcg" and lines[0] == "Elasticsearch: heap <= 50% of 8192 MiB."


def view(ev: OomEvent, instance: InstanceInfo | None = T3_LARGE, occurrence: int = 1) -> KillView:
    fp = Fingerprint("0" * 24, "asg:web-asg", "kernel", str(ev["victim"]["comm"]), "x")
    return KillView(
        event=ev, kill_time_ms=1_795_169_700_000, instance_id="i-0abc12345def67890", instance=instance,
        severity=Severity("critical", "host-wide out of memory"), fingerprint=fp, occurrence=occurrence,
        window_minutes=15, loop_threshold=5, region="eu-west-1", account="123456789012",
        log_group="/oomwatch/ec2/syslog", stream="i-0abc12345def67890",
        hint=hint_lines(ev, instance),  # as the kill's use case computes it
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(comm=st.text(max_size=300), host=st.text(max_size=300), rss=st.integers(min_value=0, max_value=2**40))
def test_subject_and_attributes_stay_within_sns_limits(comm: str, host: str, rss: int) -> None:
    # GIVEN any process name, host name and size (all come from the log line)
    ev = kill(comm, "global", [])
    ev["victim"]["rss_kb"] = rss
    ev["host"] = host
    # WHEN the alert is rendered, with and without instance data
    for instance in (T3_LARGE, None):
        message = render_kill(view(ev, instance))
        # THEN the subject is short, single-line ASCII, and attributes are non-empty and clean
        assert len(message.subject) < 100 and message.subject.isascii()
        assert all(" " <= ch <= "~" for ch in message.subject)
        assert all(v and len(v) <= 256 and v.isprintable() for v in message.attributes.values())
        assert all(line.isprintable() for line in message.text.splitlines())


def test_subject_reads_like_the_issue_example() -> None:
    # GIVEN a host-wide kill of a 1946 MiB php-fpm on an 8 GiB web-1
    ev = kill("php-fpm", "global", [("php-fpm", 1946)], rss_mib=1946)
    # WHEN rendered
    subject = render_kill(view(ev)).subject
    # THEN the subject says what, where, how big and what share of RAM
    assert subject == "[OOM critical] php-fpm killed on web-1 (i-0abc12345def67890) 1.9 GiB, 24% RAM"


def test_rendering_a_real_report_keeps_the_kernel_lines_that_matter() -> None:
    # GIVEN the RHEL 7 mysqld report, parsed by the shared parser
    path = next(CORPUS.glob("01_*.log"))
    lines = [line for line in path.read_text().splitlines() if not line.startswith("# ")]
    [ev] = parse_lines(lines, stream="i-0abc12345def67890")
    # WHEN rendered
    text = render_kill(view(ev)).text
    # THEN header and kill lines are quoted, stack frames and zone statistics are not
    assert "  sed invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0" in text
    assert "  Killed process 6576 (mysqld)" in text
    assert "dump_stack+0x19/0x1b" not in text and "lowmem_reserve" not in text


def test_loop_and_digest_messages_carry_their_kind() -> None:
    # GIVEN a fifth kill, and a stored window of 40 kills on two instances
    ev = kill("php-fpm", "global", [("php-fpm", 600)])
    item = {
        "fingerprint": "f" * 24, "scope": "asg:web-asg", "source": "kernel", "subject": "php-fpm", "count": 40,
        "window_start": 1_795_169_700_000, "window_end": 1_795_170_600_000, "instances": ["i-2", "i-1"],
        "top": {"k1": {"comm": "php-fpm", "pid": 1, "rss_kb": 100, "where": "i-1", "time_ms": 1},
                "k2": {"comm": "php-fpm", "pid": 2, "rss_kb": 900, "where": "i-2", "time_ms": 2}},
        "critical": 3, "events_group": "/aws/lambda/oom",
        "first_ms": 1_795_169_700_000, "last_ms": 1_795_169_860_000,
    }  # fmt: skip
    # WHEN the loop escalation and the digest are rendered
    loop = render_loop(view(ev, occurrence=5), ["i-1", "i-2"])
    window = digest_view(due_window(item), loop_threshold=5, region="eu-west-1", account="1", names={"i-2": "web-2"})
    digest = render_digest(window)
    # THEN each says what it is, and the digest lists the largest victim first, by name
    assert loop.attributes["kind"] == "oom_loop" and loop.doc["count"] == 5
    # (the span is first to last kill; the host is named as kill alerts name it, the largest victim's first)
    assert digest.subject == "[OOM digest] php-fpm: 40 kills in 2 min 40 s on web-2 (i-2) +1 more"
    assert digest.doc["largest_victims"][0]["pid"] == 2 and digest.doc["escalated"] is True
    assert "on web-2" in digest.text and digest.attributes["severity"] == "critical"
