"""service.logic.rollout_text without AWS: classification on hostile output, quoting, coverage sets."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from service.logic.rollout_text import (
    AssociationChange,
    CoverageChange,
    Expected,
    StepOutput,
    classify_failure,
    coverage_change,
    excerpt,
    render_coverage_notice,
    render_failure_notice,
    render_fixed_notice,
    silent_instances,
)

CHANGE = AssociationChange(
    "e87ad4f2-3ba1-5ca2-b4b0-8881f530f5c4", "i-0123456789abcdef0", "Failed", "Failed", "", "", "doc", "", "eu-west-1",
    "123456789012",
)  # fmt: skip
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "hostile",
    [
        "Different values are specified for " * 2000,
        "a" * 50_000 + "Failed to merge",
        ("Package " + "x" * 79 + " ") * 500,
        "\u2028" * 30_000,
    ],
)
def test_classification_of_hostile_output_is_fast_and_bounded(hostile: str) -> None:
    # GIVEN output a host controls, up to and past what AWS returns
    started = time.process_time()
    # WHEN it is classified and quoted
    failure = classify_failure(CHANGE, [StepOutput("configureAgent", "Failed", hostile, hostile)])
    # THEN in well under a second, with a capped, line-safe quote
    assert time.process_time() - started < 0.5
    assert len(failure.error) <= 1500
    assert "\u2028" not in failure.error


def test_a_timed_out_run_without_output_gets_the_timeout_fix() -> None:
    failure = classify_failure(CHANGE._replace(status="TimedOut", detailed_status="TimedOut"), [])
    assert (failure.kind, failure.step) == ("timed_out", "")
    assert "SSM agent" in failure.fix


def test_excerpt_keeps_lines_but_marks_other_breaks() -> None:
    assert excerpt("one\r\ntwo\u0085three\n\n") == "one<U+000D>\ntwo<U+0085>three"


def test_coverage_sets_new_silent_back_and_gone() -> None:
    # GIVEN a, b, c expected; b launched 5 minutes ago; only a reports; before, c and d were silent
    expected = [
        Expected("i-a", "a", NOW - timedelta(days=1)),
        Expected("i-b", "b", NOW - timedelta(minutes=5)),
        Expected("i-c", None, None),
    ]
    silent = silent_instances(expected, {"i-a"}, now=NOW, grace_s=900)
    change = coverage_change({"i-c", "i-d", "i-e"}, silent, ["i-a", "i-b", "i-c", "i-e"])
    # THEN b is not silent yet, c stays silent, d is gone, e (expected, now not silent) is back
    assert silent == {"i-c"}
    assert (change.new_silent, change.back, change.gone) == ((), ("i-e",), ("i-d",))
    notice = render_coverage_notice(
        change, names={"i-e": "web-e"}, expected_count=4, lookback_minutes=15, target="t", region="r", account="1"
    )
    assert notice.subject == "[OOMWatch coverage] 1 back: 1 of 4 hosts silent"
    assert "web-e (i-e)" in notice.text and "No longer expected (stopped, untagged or gone): 1" in notice.text


def _too_wide(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) > 78 and not line.lstrip().startswith("https://")]


@pytest.mark.parametrize("stderr", ["Different values are specified for mem " * 40, "x" * 400, "ok"])
def test_rollout_and_coverage_notices_fit_a_phone(stderr: str) -> None:
    # GIVEN a failure notice with long host output, its "fixed" notice and a coverage notice
    failure = classify_failure(CHANGE, [StepOutput("configureAgent", "Failed", "", stderr)])
    notices = [
        render_failure_notice(CHANGE, failure, name="reports-1", notes=["a note " * 30]),
        render_fixed_notice(CHANGE, [failure.kind], name="reports-1"),
        render_coverage_notice(
            CoverageChange(frozenset({"i-a", "i-b"}), ("i-a", "i-b"), ("i-c",), ()),
            names={"i-a": "a" * 60, "i-b": None, "i-c": "c"},
            expected_count=5,
            lookback_minutes=15,
            target="instances tagged oomwatch:enabled=true",
            region="eu-west-1",
            account="123456789012",
        ),
    ]
    # THEN every line but a URL fits 78 columns, as the kill alerts do
    for notice in notices:
        assert _too_wide(notice.text) == [], notice.kind
