"""The fast paths of the alert texts give exactly what the plain definitions they replace give.

Each reference below is the straightforward version the handler used before it was tuned for a
10,000-line delivery; the tuned code must agree with it on real reports and on generated text.
"""

from __future__ import annotations

import json
import re
import textwrap
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from service.logic import chat, layout, links
from service.logic.layout import noise_line
from service.logic.text import clean, deep_clean

CORPUS = Path(__file__).resolve().parents[3] / "corpus"

# The single pattern noise_line replaces.
REFERENCE_NOISE = re.compile(
    r"\[<[0-9a-f]{8,}>\]|\+0x[0-9a-f]+/0x[0-9a-f]+|(?:^|\s)[0-9a-f]{16}(?:\s+[0-9a-f]{16}){2}|Call Trace:|</?TASK>"
    r"|\b(?:RIP|RSP|RAX|RDX|RBP|R10|R13|FS|CS|CR2):\s|Hardware name:|Node \d+ (?:DMA|DMA32|Normal|Movable|hugepages)"
    r"|lowmem_reserve|hugepages_total|total pagecache pages|pages in swap cache|Swap cache stats|pages RAM"
    r"|pages HighMem|pages reserved|pages hwpoisoned|pages cma reserved"
    r"|Code: (?:[0-9a-f]{2} |Unable to access opcode bytes)"
)

NOISE_PIECES = [
    "RIP: ", "xRIP: ", "FS:\t", "\u00e9FS: ", "_CS: ", "CR2:", " R10: ", "RSP:\u2028",
    " 0123456789abcdef 0123456789abcdef 0123456789abcdef", "0123456789abcdef\x0b0123456789abcdef\t0123456789abcdef",
    "a0123456789abcdef 0123456789abcdef 0123456789abcdef", "0123456789abcdef 0123456789abcde",
    "[<ffffffff81234567>]", "[<ffff>]", "+0x1f/0x30", "+0x/0x1", "Node 0 DMA32", "Node x DMA", "Code: 0f ",
    "Code: 0f", "Code: Unable to access opcode bytes at RIP 0x7f6a3f2d1b4d.", "Code: Unable to", "</TASK>",
    "<TASK>", "pages RAM", "pages ram", "Call Trace:", "Hardware name:", "lowmem_reserve",
]  # fmt: skip
CHARS = "0123456789abcdefABCDEF \t\n:[]<>+/xRIPSFCDNode\u00a0\u2028\x0b-_.wT\u00e9"


def test_noise_line_agrees_with_the_single_pattern_on_every_corpus_line() -> None:
    lines = [line for path in sorted(CORPUS.glob("*.log")) for line in path.read_text(errors="replace").split("\n")]
    assert len(lines) > 1000
    assert [noise_line(x) for x in lines] == [bool(REFERENCE_NOISE.search(x)) for x in lines]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(NOISE_PIECES), st.text(alphabet=CHARS, max_size=20)), max_size=8))
def test_noise_line_agrees_with_the_single_pattern_on_generated_lines(parts: list[str]) -> None:
    line = "".join(parts)
    assert noise_line(line) == bool(REFERENCE_NOISE.search(line))


def reference_logs_insights_url(region: str, log_groups: list[str], query: str, start_ms: int, end_ms: int) -> str:
    """The link encoded in one pass over the whole detail string."""

    def uri(text: str) -> str:
        return quote(text, safe="-_.!~*'()")

    def js_escape(text: str) -> str:
        safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./"
        return "".join(ch if ch in safe else f"%{ord(ch):02X}" for ch in text)

    def value(text: str) -> str:
        return "'" + uri(text).replace("%", "*")

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    sources = "~(" + "".join("~" + value(g) for g in log_groups) + ")"
    detail = (
        f"~(end~{value(iso(end_ms))}~start~{value(iso(start_ms))}~timeType~'ABSOLUTE~tz~'UTC"
        f"~editorString~{value(query)}~source{sources})"
    )
    fragment = uri("?queryDetail=" + js_escape(detail)).replace("%", "$")
    return f"{links.console_host(region)}/cloudwatch/home?region={region}#logsV2:logs-insights{fragment}"


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["eu-west-1", "cn-north-1", "us-gov-west-1"]),
    st.lists(st.text(max_size=30), min_size=1, max_size=3),
    st.text(max_size=80),
    st.integers(min_value=0, max_value=4_000_000_000_000),
    st.integers(min_value=0, max_value=900_000),
)
def test_logs_insights_url_agrees_with_the_one_pass_encoding(
    region: str, groups: list[str], query: str, start_ms: int, span_ms: int
) -> None:
    got = links.logs_insights_url(region, groups, query, start_ms, start_ms + span_ms)
    assert got == reference_logs_insights_url(region, groups, query, start_ms, start_ms + span_ms)


def test_kill_context_url_agrees_with_the_one_pass_encoding() -> None:
    stream, group, ms = "i-0abc12345def67890", "/oomwatch/ec2/syslog", 1_795_169_700_000
    got = links.kill_context_url("eu-west-1", group, stream, ms)
    want = reference_logs_insights_url(
        "eu-west-1", [group], links.stream_query(stream), ms - 10 * 60_000, ms + 5 * 60_000
    )
    assert got == want


def reference_char(ch: str) -> str:
    """The sanitiser's rule for one character, written out plainly."""
    code = ord(ch)
    if 0x20 <= code <= 0x7E:
        return ch
    category = unicodedata.category(ch)
    if ch == "\t" or category == "Zs":
        return " "
    invisible = code in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0) or any(
        lo <= code <= hi for lo, hi in ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
    )
    if code < 0x80 or category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or invisible:
        return f"<U+{code:04X}>"
    return ch


def reference_cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 3:
        return text[:limit]
    head = text[: limit - 3].rstrip()
    start = head.rfind("<U+")
    if start >= 0 and ">" not in head[start:]:
        head = head[:start]
    return head + "..."


def reference_clean(value: object, limit: int = 200) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = "".join(reference_char(ch) for ch in text).strip()
    text = re.sub(" {2,}", " ", text)
    return reference_cut(text, limit)


def reference_deep_clean(value: Any, limit: int = 500, max_items: int = 60) -> Any:
    if isinstance(value, str):
        return reference_cut("".join(reference_char(ch) for ch in value), limit)
    if isinstance(value, dict):
        return {
            reference_cut("".join(reference_char(ch) for ch in str(k)), 64): reference_deep_clean(v, limit, max_items)
            for k, v in list(value.items())[:max_items]
        }
    if isinstance(value, list | tuple):
        return [reference_deep_clean(v, limit, max_items) for v in list(value)[:max_items]]
    return value


TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=" a\t\x1b\u202e\u00a0\u2028b<U+>\ufe0f\U000e0041\ud800\ue000\u0378", max_size=12),
    st.sampled_from(["", " ", "a", " a", "a ", "a  b", "php-fpm", "x" * 64, "x" * 65, "y" * 200, "y" * 201]),
)
JSON_LIKE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.tuples(inner, inner), st.dictionaries(TEXT, inner, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=2000, deadline=None)
@given(TEXT, st.integers(min_value=0, max_value=210))
def test_clean_agrees_with_the_plain_definition(text: str, limit: int) -> None:
    assert clean(text, limit) == reference_clean(text, limit)


@settings(max_examples=1000, deadline=None)
@given(JSON_LIKE, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=5))
def test_deep_clean_agrees_with_the_plain_definition(value: Any, limit: int, max_items: int) -> None:
    assert deep_clean(value, limit, max_items) == reference_deep_clean(value, limit, max_items)


def reference_block(lines: list[str], *, limit: int, budget: int) -> str:
    """The chat block built line by line, as it was before its whole-text shortcut."""
    fence, nl_json = "```", 2
    body = list(lines)
    while body and not body[-1].strip():
        body.pop()
    kept: list[str] = []
    chars = len(fence) * 2 + 2
    nbytes = len(fence) * 2 + 2 * nl_json
    for index, raw in enumerate(body):
        line = chat.code_text(raw)
        after = len(body) - index - 1
        reserve = len(chat._left_out(after)) + nl_json if after else 0
        size = len(json.dumps(line)) - 2
        if chars + len(line) + 1 + reserve <= limit and nbytes + size + nl_json + reserve <= budget:
            kept.append(line)
            chars += len(line) + 1
            nbytes += size + nl_json
            continue
        room = limit - chars - 1 - reserve
        part = chat._cut(line, room) if room >= 40 else ""
        if part and nbytes + len(json.dumps(part)) - 2 + nl_json + reserve <= budget:
            kept.append(part)
            if after:
                kept.append(chat._left_out(after))
        else:
            kept.append(chat._left_out(after + 1))
        break
    return "\n".join([fence, *kept, fence])


BLOCK_TEXT = st.one_of(
    st.text(alphabet='ab <>&`"\\\x01\u00e9\U0001f600\n', max_size=60),
    st.sampled_from(["", " ", "x" * 40, "y" * 77, "z" * 200]),
)


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(BLOCK_TEXT, max_size=40),
    st.integers(min_value=8, max_value=1500),
    st.integers(min_value=8, max_value=3000),
)
def test_block_agrees_with_the_line_by_line_definition(lines: list[str], limit: int, budget: int) -> None:
    # Limits around the text's own size, where the whole-text shortcut hands over to the loop, are where they differ.
    assert chat.block(lines, limit=limit, budget=budget) == reference_block(lines, limit=limit, budget=budget)


def test_block_agrees_with_the_line_by_line_definition_on_every_corpus_report() -> None:
    reports = [path.read_text(errors="replace").split("\n") for path in sorted(CORPUS.glob("*.log"))]
    assert len(reports) > 20
    for lines in reports:
        for limit in (300, 2000, chat.DESCRIPTION_MAX):
            for budget in (400, 3000, chat.ENCODED_MAX // 2):
                assert chat.block(lines, limit=limit, budget=budget) == reference_block(
                    lines, limit=limit, budget=budget
                )


def reference_fit(lines: list[str], width: int = layout.WIDTH) -> list[str]:
    """fit() with every wide line through textwrap, as it was before its own wrapping of printable ASCII (with
    its indents a column short of the width: textwrap loops for ever on a line with no room)."""
    out: list[str] = []
    for line in lines:
        body = line.lstrip(" ")
        if len(line) <= width or body.startswith("https://"):
            out.append(line)
            continue
        label = layout._KV_LABEL.match(line)
        lead = len(line) - len(body)
        cont = " " * min(len(label.group(1)) if label else min(lead + 2, 20), width - 1)
        wrapped = textwrap.wrap(
            line[lead:],
            width=width,
            initial_indent=" " * min(lead, width - 1),
            subsequent_indent=cont,
            break_long_words=True,
            break_on_hyphens=False,
            drop_whitespace=True,
        )
        out.extend(wrapped or [line[:width]])
    return out


# Words, runs of spaces, hyphens, a "Label:" start, and (for the fallback) a tab, a no-break space, a control.
WRAP_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [" ", "  ", " " * 5, " " * 45, "a", "ab", "abc-def", "x" * 9, "y" * 30, "  Killed:   ", "\t", "\u00a0"]
        ),
        st.text(alphabet="ab -:\x1f\u00e9", max_size=6),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(st.lists(WRAP_TEXT, max_size=4), st.integers(min_value=1, max_value=40))
def test_fit_agrees_with_textwrap(lines: list[str], width: int) -> None:
    assert layout.fit(lines, width) == reference_fit(lines, width)


@settings(max_examples=3000, deadline=None)
@given(
    st.text(alphabet="ab -", min_size=1, max_size=80).filter(lambda t: not t.startswith(" ")),
    st.integers(min_value=2, max_value=30),
    st.data(),
)
def test_wrap_agrees_with_textwrap_on_printable_ascii(text: str, width: int, data: st.DataObject) -> None:
    first = " " * data.draw(st.integers(min_value=0, max_value=width - 1))
    rest = " " * data.draw(st.integers(min_value=0, max_value=width - 1))
    want = textwrap.wrap(
        text, width=width, initial_indent=first, subsequent_indent=rest, break_long_words=True, break_on_hyphens=False
    )
    assert layout._wrap(text, width, first, rest) == want


def test_fit_agrees_with_textwrap_on_every_corpus_line() -> None:
    lines = [line for path in sorted(CORPUS.glob("*.log")) for line in path.read_text(errors="replace").split("\n")]
    wide = [f"  {line}" for line in lines if len(line) > 76]
    assert len(wide) > 100
    for width in (40, layout.WIDTH):
        assert layout.fit(wide, width) == reference_fit(wide, width)


def test_fit_ends_on_indents_as_wide_as_the_line() -> None:
    # GIVEN lines whose indent leaves no room (textwrap itself loops for ever on the third)
    lines = [" " * 200 + "a b", "  Process:" + " " * 100 + "x" * 90, " " * 90 + "\t\u00a0 \u00a0  K:   \t:" + "y" * 90]
    # WHEN they are fitted THEN every piece of text is kept, each line within the width
    out = layout.fit(lines, layout.WIDTH)
    assert all(len(line) <= layout.WIDTH for line in out)
    assert "".join(out).replace(" ", "").count("y") == 90 and "".join(out).count("x") == 90


@given(st.text(alphabet="&<>`a;lt\u00e9\n", max_size=60) | st.text(max_size=60))
def test_code_text_is_the_per_character_escape(text: str) -> None:
    table = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "'"})
    assert chat.code_text(text) == text.translate(table)
