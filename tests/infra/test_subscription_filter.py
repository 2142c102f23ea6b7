"""The subscription filter pattern, evaluated as CloudWatch Logs evaluates it (tests/infra/filter_pattern.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from filter_pattern import UnsupportedPattern, compile_pattern, matches, parse
from stack_corpus import NOISE, SUPPLEMENT, all_corpus_lines, journal_body, journald_event, kernel_text
from template_kit import resources

from infra.syslog import OOM_SUBSCRIPTION_PATTERN, OOM_SUBSCRIPTION_TERMS

PATTERN = OOM_SUBSCRIPTION_PATTERN.log_pattern_string


# --- the evaluator, on the documentation's own examples ---------------------------------------------------------


def test_evaluator_single_term_matches_anywhere() -> None:
    assert matches("ERROR", "[ERROR] A fatal exception has occurred")
    assert matches("ERROR", "Exiting with ERRORCODE: -1")


def test_evaluator_or_and_and() -> None:
    events = ["ERROR WARN message", "ERROR message", "WARN message"]
    assert [matches("?ERROR ?WARN", e) for e in events] == [True, True, True]
    assert [matches("ERROR WARN", e) for e in events] == [True, False, False]
    assert [matches("ERROR", e) for e in events] == [True, True, False]


def test_evaluator_is_case_sensitive_and_quotes_phrases() -> None:
    assert not matches("ERROR", "error: disk full")
    assert matches('"Killed process"', "Out of memory: Killed process 1 (a)")
    assert not matches('"Killed process"', "Killed  process")  # an exact phrase
    assert not matches('"Killed process"', "killed process")
    assert matches('"say \\"hi\\""', 'they say "hi"')


def test_evaluator_empty_pattern_matches_everything() -> None:
    assert matches("", "anything")


@pytest.mark.parametrize("pattern", ['-"DEBUG"', '?"a" b', "%Kill(ed)?%", "{ $.a = 1 }", "[ip, user]", "a.b"])
def test_evaluator_refuses_what_it_does_not_model(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        parse(pattern)


# --- the pattern ------------------------------------------------------------------------------------------------


def test_pattern_is_or_of_quoted_terms_within_limits() -> None:
    assert " ".join(f'?"{term}"' for term in OOM_SUBSCRIPTION_TERMS) == PATTERN
    assert [term.text for term in parse(PATTERN)] == list(OOM_SUBSCRIPTION_TERMS)
    assert len(PATTERN) <= 1024  # FilterPattern's maximum length
    assert PATTERN.count("%") == 0  # no regex terms, so the 2-per-pattern regex quota is not touched


def test_every_group_is_subscribed_with_the_pattern_but_the_agents_own_group_in_oom_mode(
    cli_templates: dict[str, dict[str, Any]], variant_template: dict[str, Any]
) -> None:
    # In oom mode the agent filters on the host, so its group passes every line (whole reports reach
    # the Lambda, which never reads the group back); existing groups and the other modes keep the pattern.
    for mode, template in [*cli_templates.items(), ("oom", variant_template)]:
        filters = list(resources(template, "AWS::Logs::SubscriptionFilter").values())
        assert filters
        own = [f for f in filters if f["Properties"]["LogGroupName"] == {"Ref": "SyslogLogGroup"}]
        others = [f for f in filters if f not in own]
        assert len(own) == 1
        assert own[0]["Properties"]["FilterPattern"] == ("" if mode == "oom" else PATTERN)
        assert {f["Properties"]["FilterPattern"] for f in others} <= {PATTERN}
    assert len(resources(variant_template, "AWS::Logs::SubscriptionFilter")) == 3  # two existing groups


#: Lines the Lambda must receive: every kernel line that starts, identifies or ends an OOM report, and the
#: userspace kill lines (written here from issue 3, independently of the pattern's terms).
TRIGGERS: dict[str, Callable[[str], bool]] = {
    "trigger": lambda line: " invoked oom-killer: " in line,
    "summary": lambda line: "oom-kill:constraint=" in line,
    "Task in": lambda line: bool(re.search(r"Task in \S+ killed as a result of limit", line)),
    "Killed process": lambda line: bool(re.search(r"Killed process \d+", line)),
    "oom_reaper": lambda line: "oom_reaper: " in line,
    "no killable processes": lambda line: "Out of memory and no killable processes" in line,
    "systemd-oomd kill": lambda line: (
        "systemd-oomd" in line and bool(re.search(r"Killed /|for killing|attempting", line))
    ),
    "systemd-oomd unit note": lambda line: "systemd-oomd killed" in line,
    "earlyoom kill": lambda line: "earlyoom" in line and bool(re.search(r"sending SIG(TERM|KILL) to process", line)),
}


def trigger_lines() -> list[tuple[str, str, str]]:
    found = []
    for name, line in [*all_corpus_lines(), *(("supplement", line) for line in SUPPLEMENT)]:
        for kind, is_kind in TRIGGERS.items():
            if is_kind(line):
                found.append((name, kind, line))
    return found


def test_every_trigger_kind_occurs_in_the_test_lines() -> None:
    assert {kind for _, kind, _ in trigger_lines()} == set(TRIGGERS)


def test_every_oom_trigger_line_reaches_the_lambda() -> None:
    passes = compile_pattern(PATTERN)
    missed = [(name, kind, line) for name, kind, line in trigger_lines() if not passes(line)]
    assert not missed, missed[:10]


def test_journald_json_events_reach_the_lambda() -> None:
    """What the agent's journald path writes: ``{"body":{"MESSAGE":"...","_TRANSPORT":"kernel",...},...}``."""
    passes = compile_pattern(PATTERN)
    event = journald_event(
        journal_body(
            "Out of memory: Killed process 3470 (mount-s3) total-vm:925588kB, anon-rss:282932kB, file-rss:0kB, "
            "shmem-rss:0kB, UID:33 pgtables:752kB oom_score_adj:0"
        )
    )
    assert event.startswith('{"attributes":{},"body":{"MESSAGE":"Out of memory: Killed process 3470')
    assert '"_TRANSPORT":"kernel"' in event
    assert passes(event)
    for name, kind, line in trigger_lines():
        body = journal_body(kernel_text(line), transport="kernel" if "oom" not in kind else "journal")
        assert passes(journald_event(body)), (name, kind, line)


def test_ordinary_syslog_never_reaches_the_lambda() -> None:
    passes = compile_pattern(PATTERN)
    assert [line for line in NOISE if passes(line)] == []
    for line in NOISE:
        kernel = " kernel: " in line
        event = journald_event(journal_body(kernel_text(line), transport="kernel" if kernel else "journal"))
        assert not passes(event), line


def test_only_report_boundaries_reach_the_lambda_in_kernel_and_full_mode() -> None:
    """In ``kernel``/``full`` mode every line reaches the group; the pattern must still only pass triggers."""
    passes = compile_pattern(PATTERN)
    passed = [(name, line) for name, line in all_corpus_lines() if passes(line)]
    assert passed
    unexpected = [(name, line) for name, line in passed if not any(is_kind(line) for is_kind in TRIGGERS.values())]
    assert not unexpected, unexpected[:10]
