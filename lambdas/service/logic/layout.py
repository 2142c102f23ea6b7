"""How every message is laid out for a phone: 78 columns (URLs exempt), label/value rows, the raw kernel lines
with noise left out, times and host names; and the SNS subject and message attributes' limits. Shared by the kill,
loop and digest texts (:mod:`service.logic.alert_text`) and the notices (alarm_text, rollout_text).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime

from service.logic.text import (
    clean,
    clean_raw_line,
)

SUBJECT_MAX = 99  # SNS: "less than 100 characters"


ATTRIBUTE_MAX = 256


RAW_LINES_HEAD = 8


RAW_LINES_TAIL = 16


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M")


def host_text(name: object, instance_id: str | None, host: object = None) -> str:
    """How every message names a host: the Name tag and the instance id, else whichever is known."""
    label = clean(name, 40) if name else ""
    if label and instance_id and label != instance_id:
        return f"{label} ({instance_id})"
    return label or instance_id or clean(host, 40) or "unknown host"


WIDTH = 78  # columns a phone shows without scrolling sideways; URLs are exempt


_KV_LABEL = re.compile(r"( {2}[A-Za-z][A-Za-z ]{0,10}: +)\S")


def fit(lines: Sequence[str], width: int = WIDTH) -> list[str]:
    """Wrap every line wider than ``width`` (a URL line aside): continuation lines line up under the value of
    a ``Label:`` line, else two columns in. Words longer than a line (paths) break hard;
    nothing inside them is changed."""
    out: list[str] = []
    for line in lines:
        body = line.lstrip(" ")
        if len(line) <= width or body.startswith("https://"):
            out.append(line)
            continue
        label = _KV_LABEL.match(line)
        lead = len(line) - len(body)
        # Indents stop a column short of the width: textwrap never ends on a line with no room left.
        first = " " * min(lead, width - 1)
        cont = " " * min(len(label.group(1)) if label else min(lead + 2, 20), width - 1)
        text = line[lead:]
        if text.isascii() and text.isprintable():  # the usual line: printable ASCII
            wrapped = _wrap(text, width, first, cont)
        else:
            wrapped = textwrap.wrap(
                text,
                width=width,
                initial_indent=first,
                subsequent_indent=cont,
                break_long_words=True,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
        out.extend(wrapped or [line[:width]])
    return out


_NOT_SPACE = re.compile("[^ ]")


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """What :func:`fit`'s ``textwrap.wrap`` call gives for printable ASCII ``text`` that starts with a word (so
    " " is its only white space), with a search per line where textwrap takes a step per word.

    Greedy, as textwrap is: a line takes the words that fit; a word longer than a whole line breaks hard where
    the line is full; the spaces a line breaks at end neither it nor the next one.
    """
    lines: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        indent = rest if lines else first
        room = width - len(indent)
        end, hard = n, False
        if n - pos > room:
            edge = pos + room  # the first character that does not fit
            space = text.rfind(" ", pos, edge)
            if text[edge] == " ":
                end = edge  # at a word's end: the spaces that follow end no line
            elif space < 0:
                end, hard = edge, True  # in a word longer than the line
            else:  # in a word that starts after ``space``: it moves down whole, unless longer than this line
                word_end = text.find(" ", edge)
                hard = (n if word_end < 0 else word_end) - space - 1 > room
                end = edge if hard else space + 1
        piece = text[pos:end]
        # A hard break keeps the spaces before it: textwrap drops only the empty piece it cut at a full line.
        lines.append(indent + (piece if hard else piece.rstrip(" ")))
        more = _NOT_SPACE.search(text, end)
        if more is None:
            break
        pos = more.start()
    return lines


def attributes(**values: object) -> dict[str, str]:
    """SNS message attributes: cleaned, capped, and never empty (SNS rejects empty strings)."""
    out = {}
    for key, value in values.items():
        text = clean(value, ATTRIBUTE_MAX)
        if text:
            out[key] = text
    return out


# Report lines that say nothing to a reader on a phone: stack frames, register and hex dumps,
# per-zone page statistics. They stay in the JSON form and behind the Logs Insights link.
# Three patterns rather than one alternation: each starts with a literal or a narrow class, so the
# regex engine skips ahead at C speed instead of trying every alternative at every position
# (tests/unit/alerting holds them equal to the single pattern they replace).
_NOISE_WORDS = re.compile(
    r"\[<[0-9a-f]{8,}>\]|\+0x[0-9a-f]+/0x[0-9a-f]+|Call Trace:|</?TASK>|Hardware name:"
    r"|Node \d+ (?:DMA|DMA32|Normal|Movable|hugepages)|lowmem_reserve|hugepages_total|total pagecache pages"
    r"|pages in swap cache|Swap cache stats|pages RAM|pages HighMem|pages reserved|pages hwpoisoned"
    r"|pages cma reserved|Code: (?:[0-9a-f]{2} |Unable to access opcode bytes)"
)


# "RIP: " and the other registers at a word start, found from the colon.
_NOISE_REGISTER = re.compile(r":(?:(?<=(?<!\w)(?:RIP|RSP|RAX|RDX|RBP|R10|R13|CR2):)|(?<=(?<!\w)[FC]S:))\s")


# Three 16-digit hex words (a stack or register dump), at the line start or after white space.
_NOISE_HEX = re.compile(r"[0-9a-f]{16}(?:\s+[0-9a-f]{16}){2}")


_NOISE_HEX_INSIDE = re.compile(r"\s[0-9a-f]{16}(?:\s+[0-9a-f]{16}){2}")


def noise_line(line: str) -> bool:
    """A report line that says nothing to a reader (stack frame, register or hex dump, page statistics)."""
    return bool(
        _NOISE_WORDS.search(line)
        or _NOISE_REGISTER.search(line)
        or _NOISE_HEX_INSIDE.search(line)
        or _NOISE_HEX.match(line)
    )


_LEFT_OUT = "[... "


def raw_lines(lines: Sequence[object], head: int = RAW_LINES_HEAD, tail: int = RAW_LINES_TAIL) -> list[str]:
    cleaned: list[str] = []
    for line in lines:
        if isinstance(line, str) and not noise_line(line):
            text = clean_raw_line(line, 240)
            if not cleaned or cleaned[-1] != text:  # a multi-line record may repeat its prefix line
                cleaned.append(text)
    if len(cleaned) <= head + tail + 1:
        return cleaned
    left_out = len(cleaned) - head - tail
    return [*cleaned[:head], f"{_LEFT_OUT}{left_out} lines left out: see the stream link ...]", *cleaned[-tail:]]


# The syslog/journal prefix a phone need not read on every line: "Nov 26 10:00:00 web-1 kernel: ". Anchored,
# one bounded token per part: linear on any line.
_SYSLOG_PREFIX = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?|\d{4}-\d\d-\d\dT[\d:.+-]{8,32}Z?) [^ ]{1,64} kernel: "
)


def squeeze(line: str) -> str:
    return _RUNS.sub(" ", line) if len(line) > WIDTH - 2 else line


_RUNS = re.compile(" {2,}")


def strip_prefix(lines: list[str]) -> tuple[str, list[str]]:
    """(the prefix, the lines without it) when every line starts with the same syslog prefix, else ("", lines)."""
    first = _SYSLOG_PREFIX.match(lines[0]) if lines else None
    if first is None:
        return "", lines
    prefix = first.group(0)
    if not all(line.startswith((prefix, _LEFT_OUT)) for line in lines):
        return "", lines
    return prefix, [line.removeprefix(prefix) for line in lines]


def kv(label: str, value: str, width: int = 11) -> str:
    return f"  {label + ':' if label else '':<{width}} {value}"
