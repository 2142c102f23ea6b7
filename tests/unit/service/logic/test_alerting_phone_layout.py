"""The phone layout's pieces: wrapping to 78 columns, spans, host names, shortened ids, and the short console
links (the Logs Insights query stays in the JSON form)."""

from __future__ import annotations

import time
from urllib.parse import unquote

from service.logic.layout import fit, host_text, strip_prefix
from service.logic.links import events_search_url, kill_context_url, kill_stream_url
from service.logic.text import short_ids, span

KILL_MS = 1_795_169_700_000


def test_fit_wraps_long_lines_under_their_value_and_leaves_urls_alone() -> None:
    url = "  https://example.invalid/" + "x" * 200
    label = "  Trigger:    php-fpm8.1 (pid 4000) asked for memory: order 0, gfp_mask 0x140cca(GFP_HIGHUSER_MOVABLE)"
    out = fit([url, label, "short"])
    assert out[0] == url and out[-1] == "short"
    wrapped = out[1:-1]
    assert len(wrapped) == 2 and all(len(line) <= 78 for line in wrapped)
    assert wrapped[1].startswith(" " * 14) and not wrapped[1].startswith(" " * 15)  # under the value
    assert " ".join(" ".join(wrapped).split()) == " ".join(label.split())  # nothing lost


def test_fit_breaks_a_path_longer_than_a_line_without_changing_it() -> None:
    path = "/lxc.payload.c1/system.slice/docker-" + "ab" * 32 + ".scope"
    out = fit([f"  Victim in:  {path}"])
    assert all(len(line) <= 78 for line in out)
    joined = "".join(line.strip() for line in out)
    assert joined.startswith("Victim in:") and joined.removeprefix("Victim in:").strip() == path


def test_fit_is_linear_on_hostile_lines() -> None:
    # GIVEN 200 lines of 600 characters with no space, and 200 of single letters between spaces
    lines = ["  " + "x" * 600] * 200 + ["  " + "a " * 300] * 200
    started = time.process_time()
    out = fit(lines)
    # THEN every line fits, and it took well under a second
    assert all(len(line) <= 78 for line in out)
    assert time.process_time() - started < 1.0


def test_span_says_what_happened() -> None:
    assert span(4_000) == "4 s"
    assert span(160_000) == "2 min 40 s"
    assert span(15 * 60_000) == "15 min"
    assert span(3_900_000) == "1 h 5 min"
    assert span(-5) == "0 s"


def test_hosts_are_named_by_name_tag_then_instance_id() -> None:
    assert host_text("web-1", "i-0abc") == "web-1 (i-0abc)"
    assert host_text(None, "i-0abc") == "i-0abc"
    assert host_text("i-0abc", "i-0abc") == "i-0abc"
    assert host_text(None, None, "legacy-db") == "legacy-db"
    assert host_text(None, None) == "unknown host"


def test_long_hex_ids_are_cut_to_twelve_digits() -> None:
    full = "58f8a9bf6a469f0c94d42be34ad1bdff84fad63f236baedde981139a15aa5287"
    assert short_ids(f"/docker/{full}") == "/docker/58f8a9bf6a46..."
    assert short_ids("pod6687d6d7-fcae-11e8") == "pod6687d6d7-fcae-11e8"  # dashed uuids stay


def test_the_shared_syslog_prefix_is_said_once() -> None:
    lines = [
        "Nov 20 10:15:00 web-1 kernel: [5000.1] a",
        "[... 3 lines left out ...]",
        "Nov 20 10:15:00 web-1 kernel: b",
    ]
    assert strip_prefix(lines) == ("Nov 20 10:15:00 web-1 kernel: ", ["[5000.1] a", "[... 3 lines left out ...]", "b"])
    mixed = ["Nov 20 10:15:00 web-1 kernel: a", "Nov 20 10:15:01 web-1 kernel: b"]
    assert strip_prefix(mixed) == ("", mixed)


def test_stream_link_is_short_and_names_group_stream_and_range() -> None:
    # GIVEN a kill on an instance's stream of the syslog group
    url = kill_stream_url("eu-west-1", "/oomwatch/ec2/syslog", "i-0abc12345def67890", KILL_MS)
    insights = kill_context_url("eu-west-1", "/oomwatch/ec2/syslog", "i-0abc12345def67890", KILL_MS)
    # THEN it is less than half the Insights link, and decodes (twice, $ for %) to group, stream and range
    assert len(url) * 2 < len(insights)
    fragment = unquote(unquote(url.split("#", 1)[1].replace("$", "%")))
    start, end = KILL_MS - 600_000, KILL_MS + 300_000
    assert (
        fragment
        == f"logsV2:log-groups/log-group//oomwatch/ec2/syslog/log-events/i-0abc12345def67890?start={start}&end={end}"
    )


def test_events_search_link_filters_on_the_fingerprint() -> None:
    url = events_search_url("eu-west-1", "/aws/lambda/oomwatch-oom", "a253e656ec7399dae114eb22", 1, 2)
    fragment = unquote(unquote(url.split("#", 1)[1].replace("$", "%")))
    assert fragment == (
        'logsV2:log-groups/log-group//aws/lambda/oomwatch-oom/log-events?filterPattern="a253e656ec7399dae114eb22"'
        "&start=1&end=2"
    )
    assert len(url) < 260
