"""The mute model (oomwatch.mutes): durations, targets, when a mute is active, and its stored form read back."""

from __future__ import annotations

import pytest
from oomwatch.mutes import (
    KEEP_ENDED_S,
    MAX_ACTIVE,
    MAX_BY,
    MAX_REASON,
    MAX_VALUE,
    Mute,
    MuteError,
    from_fields,
    from_index,
    human_span,
    keep,
    parse_duration,
    parse_target,
)

from demo import aws_rules

NOW = 1_795_169_700


@pytest.mark.parametrize(
    ("text", "seconds"), [("90m", 5400), ("4h", 14400), ("2d", 172800), (" 1H ", 3600), ("72h", 72 * 3600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, 72) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "--for 0: a mute must last more than 0 minutes"),
        ("0h", "--for 0h: a mute must last more than 0 minutes"),
        ("73h", "--for 73h: longer than the maximum of 72h (setting mute_max_hours)"),
        ("4d", "--for 4d: longer than the maximum of 72h"),
        ("4", "--for '4': expected a number and m, h or d"),
        ("-4h", "--for '-4h': expected"),
        ("4w", "--for '4w': expected"),
        ("", "--for '': expected"),
    ],
)
def test_bad_durations_say_why_in_one_line(text: str, message: str) -> None:
    with pytest.raises(MuteError) as caught:
        parse_duration(text, 72)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("host", "web-1", "unknown mute target 'host'"),
        ("instance", "web-1", "--instance web-1: expected an instance id"),
        ("tag", "team", "--tag team: expected KEY=VALUE"),
        ("tag", "=web", "--tag =web: expected KEY=VALUE"),
        ("process", "", "--process: expected 1-255 printable characters"),
        ("process", "a\nb", "--process: expected"),
        ("unit", "x" * 256, "--unit: expected"),
    ],
)
def test_bad_targets(kind: str, value: str, message: str) -> None:
    with pytest.raises(MuteError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_target(kind, value)


def test_good_targets() -> None:
    assert parse_target("instance", "i-0abc12345def67890") == ("instance", "i-0abc12345def67890")
    assert parse_target("tag", " team=web ") == ("tag", "team=web")


def mute(**changes: object) -> Mute:
    fields: dict[str, object] = dict(id="m-0a1b2c3d", kind="process", value="php-fpm*", start=NOW, end=NOW + 3600,
                                     reason="deploy", by="alice")  # fmt: skip
    fields.update(changes)
    return Mute(**fields)  # type: ignore[arg-type]


def test_a_mute_is_active_from_its_start_to_its_end() -> None:
    m = mute()
    assert m.active(NOW) and m.active(NOW + 3599)
    assert not m.active(NOW + 3600) and m.ended(NOW + 3600)
    # a clock a little behind the CLI's still sees it; one far behind does not
    assert m.active(NOW - 60) and not m.active(NOW - 3600)


def test_the_maximum_ends_a_longer_mute_and_a_removal_ends_it_at_once() -> None:
    m = mute(end=NOW + 100 * 3600)
    assert m.active(NOW + 80 * 3600) and not m.active(NOW + 80 * 3600, max_hours=72)
    removed = m.removed_at(NOW + 60)
    assert not removed.active(NOW + 61) and removed.was_removed() and not mute(removed=NOW + 3600).was_removed()


def test_the_stored_form_reads_back_and_broken_entries_mute_nothing() -> None:
    m = mute(removed=NOW + 5)
    assert from_fields(m.id, m.fields()) == m
    item = {"pk": "mutes#index", "ver": 3, "mutes": {m.id: m.fields(), "m-bad": {"kind": "host", "value": "x"},
            "m-nostart": {"kind": "process", "value": "x", "end": NOW}, "m-str": "nope"}}  # fmt: skip
    assert from_index(item) == [m]
    assert from_index({}) == [] and from_index({"mutes": "x"}) == []


def test_a_write_keeps_ended_mutes_for_an_hour_so_their_end_is_announced() -> None:
    ended = mute(end=NOW + 60)
    assert keep([ended], NOW + 60 + KEEP_ENDED_S - 1) == [ended]
    assert keep([ended], NOW + 60 + KEEP_ENDED_S) == []


def test_the_index_of_100_mutes_at_their_longest_fits_in_a_dynamodb_item() -> None:
    # GIVEN the most mutes there may be, every field at its longest (multi-byte characters)
    def big(n: int) -> dict[str, object]:
        m = mute(id=f"m-{n:08x}", value="é" * MAX_VALUE, reason="é" * MAX_REASON, by="é" * MAX_BY, removed=NOW)
        return m.fields()

    from oomwatch.mute_store import attr

    item = attr({"pk": "mutes#index", "ver": 10**9, "mutes": {f"m-{n:08x}": big(n) for n in range(MAX_ACTIVE)}})["M"]
    # THEN DynamoDB's 400 KB item limit (ddb-2, as the emulator sizes items) holds it
    assert aws_rules.check_item(item) is None
    assert aws_rules.item_size(item) < 400 * 1024


@pytest.mark.parametrize(("seconds", "text"), [(0, "0m"), (30, "1m"), (5400, "1h 30m"), (7200, "2h"),
                                                (90000, "1d 1h"), (172800, "2d")])  # fmt: skip
def test_human_spans(seconds: int, text: str) -> None:
    assert human_span(seconds) == text
