"""Text hygiene, formatting and console links (pure functions)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st
from service.logic import links
from service.logic.text import ascii_only, clean, deep_clean, duration, mib, ordinal, pct, size, truncate_utf8

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


@given(st.text(), st.integers(min_value=4, max_value=300))
def test_clean_never_returns_control_characters_or_exceeds_the_limit(text: str, limit: int) -> None:
    # GIVEN any text (what a forged log line may carry) and a limit
    # WHEN it is cleaned
    out = clean(text, limit)
    # THEN it is one printable line within the limit
    assert len(out) <= limit
    assert not CONTROL.search(out)


def test_clean_neutralises_terminal_escapes_bidi_and_newlines() -> None:
    # GIVEN a process name crafted to fake a new paragraph and reverse the text
    text = "php-fpm\nSeverity: none\u202etxet\x1b[31m"
    # WHEN cleaned
    out = clean(text, 100)
    # THEN the payload is visible but harmless: each such character shown as its code point
    assert out == "php-fpm<U+000A>Severity: none<U+202E>txet<U+001B>[31m"


def test_clean_caps_with_an_ellipsis() -> None:
    # GIVEN a long value
    # WHEN cleaned to 10 characters
    # THEN it ends with an ellipsis
    assert clean("x" * 50, 10) == "xxxxxxx..."


def test_deep_clean_sanitises_nested_strings_and_bounds_lists() -> None:
    # GIVEN a nested structure with a control character and a long list
    doc = {"a\x00": ["ok\x07", *range(100)], "n": 5}
    # WHEN deep-cleaned
    out = deep_clean(doc, limit=10, max_items=3)
    # THEN keys and values are clean and lists are capped
    assert out == {"a<U+0000>": ["ok<U+0007>", 0, 1], "n": 5}


def test_ascii_only_and_utf8_truncation() -> None:
    # GIVEN non-ASCII text
    # WHEN made ASCII for a subject, or cut to a byte budget
    # THEN nothing outside ASCII remains, and the cut respects UTF-8 boundaries
    assert ascii_only("naïve ✓") == "na?ve ?"
    assert len(truncate_utf8("é" * 100, 21).encode()) <= 21


def test_number_formats() -> None:
    # GIVEN sizes, shares, counts and durations
    # WHEN formatted
    # THEN they read as people write them
    assert mib(2048) == "2 MiB" and mib(None) == "?"
    assert size(1_992_294) == "1.9 GiB" and size(734 * 1024) == "734 MiB"
    assert pct(1, 3) == 33 and pct(None, 3) is None and pct(1, 0) is None
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
    ]  # fmt: skip
    assert duration(3 * 86400 + 4 * 3600 + 59) == "3d 4h" and duration(42) == "42s" and duration(None) == "?"


def _decode_insights(url: str) -> str:
    """Undo the console's encoding: $ -> %, decode, then the inner * -> % for values."""
    fragment = url.split("#logsV2:logs-insights", 1)[1]
    outer = unquote(fragment.replace("$", "%"))
    assert outer.startswith("?queryDetail=")
    return unquote(outer.removeprefix("?queryDetail=")).replace("*", "%")


def test_logs_insights_url_round_trips_query_group_and_times() -> None:
    # GIVEN a kill at 2026-11-20 10:15:00 UTC on a stream of a log group with slashes
    url = links.kill_context_url("eu-west-1", "/oomwatch/ec2/syslog", "i-0abc12345def67890", 1_795_169_700_000)
    # WHEN the fragment is decoded the way the console does
    detail = unquote(_decode_insights(url))
    # THEN it holds the absolute window, the query for the stream, and the log group
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:")
    assert detail.startswith("~(end~'2026-11-20T10:20:00.000Z~start~'2026-11-20T10:05:00.000Z~timeType~'ABSOLUTE")
    assert 'filter @logStream = "i-0abc12345def67890"' in detail
    assert "~source~(~'/oomwatch/ec2/syslog)" in detail
    assert "$257E$2528" in url  # "~(" twice-encoded, as the console writes it


def test_console_hosts_follow_the_partition() -> None:
    # GIVEN regions of the three partitions
    # WHEN instance links are made
    # THEN each uses its partition's console host
    assert links.instance_url("cn-north-1", "i-1").startswith("https://cn-north-1.console.amazonaws.cn/ec2/")
    assert links.instance_url("us-gov-west-1", "i-1").startswith("https://us-gov-west-1.console.amazonaws-us-gov.com")
    assert links.instance_url("eu-west-1", "i-1").endswith("#InstanceDetails:instanceId=i-1")
