"""The demo's own emulation pieces, without an emulator: filter patterns, event patterns, log replay and
subscription payloads, the CLI's argument checks."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from demo import cli, fleet, inputs, logplay
from demo.eventpattern import matches as event_matches
from demo.filterpattern import compile_pattern

SAMPLES = Path(__file__).resolve().parents[2] / "demo" / "samples"
KILL = "Nov 26 10:15:01 web-1 kernel: [123456.789279] Out of memory: Killed process 48213 (php-fpm) total-vm:1kB"


# --- CloudWatch Logs filter patterns -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ('"Killed process"', KILL, True),
        ('"Killed process"', "killed process 1 (x)", False),  # case-sensitive
        ('"Killed process"', "Killed  process", False),  # an exact phrase
        ("ERROR Exception", "ERROR: NullPointerException", True),  # all terms, as substrings
        ("ERROR Exception", "ERROR only", False),
        ('?"invoked oom-killer" ?"Killed process"', "php-fpm invoked oom-killer: gfp_mask=0x0", True),
        ('?"invoked oom-killer" ?"Killed process"', "oom_reaper: reaped process 1", False),
        ("ERROR -DEBUG", "ERROR here", True),
        ("ERROR -DEBUG", "ERROR DEBUG here", False),
        ("%Killed process [0-9]+%", KILL, True),
        ("%Killed process [a-z]+%", KILL, False),
    ],
)
def test_term_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


def test_a_quoted_term_matches_inside_the_agents_journald_json() -> None:
    line = json.dumps({"body": {"MESSAGE": "Memory cgroup out of memory: Killed process 1 (java)"}})
    assert compile_pattern('?"oom-kill:" ?"Killed process"')(line)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.body.MESSAGE = "*Killed process*" }', True),
        ('{ $.body.MESSAGE = "Killed process*" }', False),
        ('{ $.body.PRIORITY = "3" && $.body._TRANSPORT = "kernel" }', True),
        ('{ $.body.PRIORITY = "4" || $.body._TRANSPORT = "kernel" }', True),
        ('{ ($.body.PRIORITY = "4" || $.body._TRANSPORT = "stdout") && $.severity_number = 17 }', False),
        ("{ $.severity_number >= 17 }", True),
        ("{ $.severity_number < 17 }", False),
        ("{ $.body.MESSAGE = %Killed process [0-9]+% }", True),
        ("{ $.body.missing NOT EXISTS }", True),
        ("{ $.body.MESSAGE EXISTS }", True),
        ("{ $.flag IS TRUE }", True),
        ("{ $.list[1] = 20 }", True),
    ],
)
def test_json_patterns(pattern: str, expected: bool) -> None:
    event = {
        "body": {"MESSAGE": "Out of memory: Killed process 9 (x)", "PRIORITY": "3", "_TRANSPORT": "kernel"},
        "severity_number": 17,
        "flag": True,
        "list": [10, 20],
    }
    assert compile_pattern(pattern)(json.dumps(event)) is expected


def test_json_patterns_do_not_match_text_lines() -> None:
    assert not compile_pattern('{ $.a = "b" }')(KILL)


def test_space_delimited_patterns_are_refused_not_guessed() -> None:
    with pytest.raises(NotImplementedError):
        compile_pattern("[ip, user, ...]")


# --- EventBridge patterns ------------------------------------------------------------------------------------

ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mem"


def _event(detail_type: str, arn: str = ALARM_ARN) -> dict[str, object]:
    return {
        "source": "aws.cloudwatch",
        "detail-type": detail_type,
        "resources": [arn],
        "detail": {"state": {"value": "ALARM"}},
    }


def test_event_patterns_match_values_lists_and_nested_fields() -> None:
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"],
        "resources": [ALARM_ARN],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    assert event_matches(pattern, _event("CloudWatch Alarm Contributor State Change"))
    assert not event_matches(pattern, _event("CloudWatch Alarm Configuration Change"))
    assert not event_matches(pattern, _event("CloudWatch Alarm State Change", arn=ALARM_ARN + "-other"))
    assert event_matches({"detail-type": [{"prefix": "CloudWatch Alarm"}]}, _event("CloudWatch Alarm State Change"))
    assert event_matches({"detail": {"nope": [{"exists": False}]}}, _event("x"))
    assert not event_matches({"source": [{"anything-but": ["aws.cloudwatch"]}]}, _event("x"))


# --- log replay and CloudWatch Logs payloads ----------------------------------------------------------------


def test_line_timestamps_in_every_transport() -> None:
    assert logplay.line_timestamp_ms("Nov 26 10:15:01 web-1 kernel: x", 2025) == 1764152101000
    assert logplay.line_timestamp_ms("Nov  6 10:15:01.250000 web-1 kernel: x", 2025) == 1762424101250
    assert logplay.line_timestamp_ms("2025-11-26T10:15:01.500000+01:00 web-1 kernel: x", 2025) == 1764148501500
    agent = '{"body":{"MESSAGE":"x","__REALTIME_TIMESTAMP":"1764151200123456"},"severity_number":9}'
    assert logplay.line_timestamp_ms(agent, 2025) == 1764151200123
    assert logplay.line_timestamp_ms("[12345.678] no wall clock", 2025) is None


def test_replay_keeps_spacing_ends_now_and_cuts_five_second_batches() -> None:
    text = (SAMPLES / "worker-1.al2.oom-loop.messages").read_text()
    now = 1_800_000_000_000
    batches = logplay.schedule("g", "i-0abc", logplay.read_lines(text), now)
    events = [e for b in batches for e in b.events]
    assert len(events) == len(text.splitlines())
    assert events[-1].timestamp == now
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    # The first and last kill of the loop are 3 min 19 s apart in the file, and in the replay.
    kills = [e.timestamp for e in events if "Killed process" in e.message]
    assert kills[-1] - kills[0] == 199_000
    assert all(b.events[-1].timestamp - b.events[0].timestamp < 5000 for b in batches)  # the agent's flush
    assert len({b.events[0].timestamp for b in batches}) == len(batches) >= 12
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids) and all(len(i) == 56 and i.isdigit() for i in ids)


def test_subscription_payload_is_gzip_base64_json_as_cloudwatch_logs_sends_it() -> None:
    text = (SAMPLES / "web-1.ubuntu-22.04.syslog").read_text()
    batches = logplay.schedule("grp", "i-0abc", logplay.read_lines(text), 1_800_000_000_000)
    (payload,) = logplay.deliveries("123456789012", "grp", "flt", compile_pattern('"Killed process"'), batches)
    event = logplay.lambda_event(payload)
    decoded = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert decoded["messageType"] == "DATA_MESSAGE"
    assert decoded["owner"] == "123456789012" and decoded["logGroup"] == "grp" and decoded["logStream"] == "i-0abc"
    assert decoded["subscriptionFilters"] == ["flt"]
    (log_event,) = decoded["logEvents"]
    assert set(log_event) == {"id", "timestamp", "message"}
    assert "Killed process 48213 (php-fpm)" in log_event["message"]
    control = logplay.control_payload(1)
    assert control["messageType"] == "CONTROL_MESSAGE" and control["logEvents"][0]["message"].startswith("CWL")


# --- the samples are real kernel output ----------------------------------------------------------------------


def test_each_sample_is_one_report_per_kill_as_the_parser_reads_it() -> None:
    from oomwatch import parse_lines

    manifest = json.loads((SAMPLES / "fleet.json").read_text())
    kills = {}
    for host in manifest["hosts"]:
        events = parse_lines((SAMPLES / host["file"]).read_text().splitlines(), stream=host["instance_id"])
        kills[host["name"]] = sorted((e["victim"]["comm"], e["constraint"], e["complete"]) for e in events)
    assert kills["web-1"] == [("php-fpm", "global", True)]
    assert kills["api-1"] == [("java", "memcg", True)]
    assert kills["worker-1"] == [("celery", "global", True)] * 6


# --- the command line ----------------------------------------------------------------------------------------


def test_log_arguments_are_checked_before_anything_starts(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text(KILL + "\n")
    plays, alarm = cli.load_plays([f"i-0123456789abcdef0={log}"])
    assert [p.host.instance_id for p in plays] == ["i-0123456789abcdef0"] and alarm == "i-0123456789abcdef0"
    assert plays[0].host.name == "web-1"  # the host name in the log becomes the Name tag
    for bad in ("i-0123456789abcdef0", f"web-1={log}", f"i-0123456789abcdef0={tmp_path / 'missing'}"):
        with pytest.raises(inputs.InputError):
            cli.load_plays([bad])
    with pytest.raises(inputs.InputError):
        cli.load_plays([f"i-0123456789abcdef0={log}", f"i-0123456789abcdef0={log}"])


def test_the_bundled_fleet_is_seeded_with_valid_ids() -> None:
    plays, alarm = cli.load_plays([])
    assert len(plays) == 3 and all(fleet.INSTANCE_ID.match(p.host.instance_id) for p in plays)
    assert alarm in {p.host.instance_id for p in plays}


def test_the_demo_filters_exactly_like_the_stack_tests_model_the_deployed_pattern() -> None:
    """The stack's tests (tests/infra/filter_pattern.py) and the demo implement the same documented
    semantics; on the pattern app.py deploys and every line of the samples and the corpus they agree."""
    stack_model = pytest.importorskip("tests.infra.filter_pattern")
    from infra.syslog import OOM_SUBSCRIPTION_TERMS

    pattern = " ".join('?"' + term.replace('"', '\\"') + '"' for term in OOM_SUBSCRIPTION_TERMS)
    ours, theirs = compile_pattern(pattern), stack_model.compile_pattern(pattern)
    files = sorted(SAMPLES.glob("*.*")) + sorted((SAMPLES.parents[1] / "tests" / "corpus").glob("*.log"))
    lines = [line for f in files for line in f.read_text(errors="replace").splitlines()]
    assert len(lines) > 500
    passed = [line for line in lines if ours(line)]
    assert passed == [line for line in lines if theirs(line)]
    assert 50 < len(passed) < len(lines) // 2
