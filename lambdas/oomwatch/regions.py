"""The region rule: which lines of a log can belong to a kill. The parser only needs those.

One rule, two readers: :mod:`oomwatch.scanner` applies it to byte blocks of a file, and :func:`select` to a list
of lines (a CloudWatch Logs subscription delivery, which the Lambda handler reads: 10,000 lines of which a few
dozen are an OOM report). Every kill line (``Killed process``, earlyoom's ``sending SIG... to process``,
``systemd-oomd``) anchors a region that reaches back to its report's ``invoked oom-killer`` header (or a bounded
number of lines when the header is not in the delivery) and forward far enough for ``oom_reaper`` and systemd's
unit notes. Within a region, other programs' syslog lines are skipped.

What is defined once, here, for both readers:

- which needle hit is a kill line: :func:`kill_at`, one function for ``str`` and ``bytes`` (and ``mmap``), given
  the words in that type (``WORDS``, ``BYTE_WORDS``);
- how far a region reaches: ``HEADER``, ``BACK_LINES_NO_HEADER``, ``BACK_LINES_USERSPACE``, ``TAIL_LINES``.

The walk over the extents is written twice, on purpose: :func:`_regions` walks line numbers of a list it holds,
while the scanner walks byte offsets of a block it cannot split into lines without losing its C-speed ``find``
(and caps each reach in bytes too, ``BACK_BYTES``/``TAIL_BYTES``, so a file costs bounded memory). One walk for
both would make the scanner number the lines of every block in Python, the cost its design avoids.
tests/handlers/test_regions.py holds "parse the selection" equal to "parse everything" on every corpus report,
alone and all together, with noise interleaved, and :func:`select` equal to a plain line-by-line definition of
the rule (kept there, in the tests); tests/unit/oomwatch/test_scanner.py holds the scanner's events equal to the
parser's.
"""

import re
from bisect import bisect_left
from collections.abc import Sequence
from itertools import compress
from typing import Generic, NamedTuple, Protocol, TypeVar

PROCESS = " process "  # every kernel and earlyoom kill line holds it ("Killed process N", "... to process N")
OOMD = "systemd-oomd"
HEADER = "invoked oom-killer"  # a kernel report's first line
KERNEL_KILL = "Killed"  # the word before PROCESS on the kernel's kill line
EARLYOOM_TO, EARLYOOM_SENDING, EARLYOOM_REACH = "to", "sending ", 24  # earlyoom: "sending SIGTERM to process N"
EARLYOOM_OLD = ("Killing", "killing")  # earlyoom before v1.3: "Killing process N", "killing process N"
BACK_LINES_NO_HEADER = 64  # a report excerpt without its header: the task row and "Kill process" before the kill
BACK_LINES_USERSPACE = 4
TAIL_LINES = 50  # oom_reaper, group kills and systemd's "Failed with result 'oom-kill'" come soon after


_T = TypeVar("_T", str, bytes)


class Words(NamedTuple, Generic[_T]):
    """The words of the kill-line rule in one text type."""

    kernel_kill: _T
    earlyoom_to: _T
    earlyoom_sending: _T
    illing: _T  # the tail both old earlyoom words share
    illing_first: tuple[_T, ...]  # their first letters


class Text(Protocol[_T]):
    """What :func:`kill_at` reads: ``str``, ``bytes`` or a memory map."""

    def __getitem__(self, s: slice, /) -> _T: ...
    def rfind(self, sub: _T, start: int = ..., end: int = ..., /) -> int: ...


WORDS = Words(KERNEL_KILL, EARLYOOM_TO, EARLYOOM_SENDING, EARLYOOM_OLD[0][1:], tuple(w[:1] for w in EARLYOOM_OLD))
BYTE_WORDS = Words(
    KERNEL_KILL.encode(),
    EARLYOOM_TO.encode(),
    EARLYOOM_SENDING.encode(),
    WORDS.illing.encode(),
    tuple(w.encode() for w in WORDS.illing_first),
)
_SPAN = len(KERNEL_KILL)  # "Killed" and "illing" are as long: one slice before the needle tests both
assert all(w[1:] == WORDS.illing and len(w) == _SPAN + 1 for w in EARLYOOM_OLD)


def kill_at(buf: Text[_T], i: int, words: Words[_T]) -> bool | None:
    """What the ``PROCESS`` needle at ``i`` of ``buf`` says: True on a kernel kill line (``Killed process``),
    False on a userspace killer's (earlyoom's ``... to process``, ``Killing process``), None on neither."""
    before = buf[i - _SPAN : i]
    if before == words.kernel_kill:
        return True
    if buf[i - 2 : i] == words.earlyoom_to and buf.rfind(words.earlyoom_sending, max(i - EARLYOOM_REACH, 0), i) >= 0:
        return False
    if before == words.illing and buf[i - _SPAN - 1 : i - _SPAN] in words.illing_first:  # earlyoom before v1.3
        return False
    return None


def _anchor(line: str) -> bool | None:
    """True for a kernel kill line, False for a userspace killer's line, None otherwise."""
    i = line.find(PROCESS)
    while i >= 0:
        kind = kill_at(line, i, WORDS)
        if kind is not None:
            return kind
        i = line.find(PROCESS, i + 1)
    if OOMD in line:
        return False
    return None


def _positions(text: str, needle: str) -> list[int]:
    """Offsets in ``text`` of the first ``needle`` on each line that holds one (C-speed ``find``)."""
    out: list[int] = []
    i = text.find(needle)
    while i >= 0:
        out.append(i)
        end = text.find("\n", i)
        if end < 0:
            break
        i = text.find(needle, end)
    return out


def _line_numbers(text: str, offsets: list[int]) -> list[int]:
    """The line number of each offset (ascending), by counting newlines between them: one pass over the text."""
    out: list[int] = []
    line = pos = 0
    for i in offsets:
        line += text.count("\n", pos, i)
        pos = i
        out.append(line)
    return out


# A line that is certainly a user-space program's syslog line (classic or RFC 3339 prefix, tag not
# "kernel"). Within a region the parser ignores those, and journald envelopes, unless they hold "kernel" or
# an OOM word ("oom", "OOM", "emory", "illed"): select() keeps those.
_USERLAND = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) \S+ "
    r"(?!kernel[:\[])[^\s:\[]+(?:\[\d+\])?: "
)


_INDENT = (" ", "\t")


def _regions(anchors: list[tuple[int, bool]], headers: list[int], count: int) -> list[tuple[int, int, int]]:
    """[start, end) of each region and the last kill line in it, from the kill lines (True: the kernel's)
    and the header lines, both ascending, of ``count`` lines."""
    regions: list[tuple[int, int, int]] = []
    previous_kill = -1
    for pos, is_kernel in anchors:
        end = min(count, pos + TAIL_LINES + 1)
        done = regions[-1][1] if regions else 0
        if is_kernel:
            h = bisect_left(headers, pos + 1) - 1  # the last header at or before the kill line
            if h >= 0 and headers[h] > previous_kill:
                start = max(headers[h], done)
            else:
                start = max(pos - BACK_LINES_NO_HEADER, done)
            previous_kill = pos
        else:
            start = max(pos - BACK_LINES_USERSPACE, done)
        if regions and start <= done:
            regions[-1] = (regions[-1][0], max(done, end), pos)
        else:
            regions.append((start, end, pos))
    return regions


def select(lines: Sequence[str], text: str | None = None) -> list[int]:
    """Indices of the lines to feed, in order. ``text``: the lines joined by newlines, when the caller has it.

    Regions: a kernel kill reaches back to its own report's header (a header seen after the
    previous kill), or ``BACK_LINES_NO_HEADER`` lines when the report's header is not in the
    delivery; every kill reaches ``TAIL_LINES`` forward, where only OOM-related lines are kept.
    Within regions, other programs' syslog lines are skipped.
    """
    # Search the joined text at C speed; only lines holding a needle are looked at in Python.
    if text is None:
        text = "\n".join(lines)
    kill_at = _positions(text, PROCESS) + _positions(text, OOMD)
    if not kill_at:
        return []
    tagged = sorted([(i, 0) for i in kill_at] + [(i, 1) for i in _positions(text, HEADER)])
    numbers = _line_numbers(text, [i for i, _ in tagged])
    candidates = sorted({n for n, (_, tag) in zip(numbers, tagged, strict=True) if tag == 0})
    anchors = [(i, kind) for i in candidates if (kind := _anchor(lines[i])) is not None]
    if not anchors:
        return []
    headers = sorted({n for n, (_, tag) in zip(numbers, tagged, strict=True) if tag == 1})
    regions = _regions(anchors, headers, len(lines))
    last = len(lines) - 1
    picked: list[int] = []
    for start, end, kill in regions:
        # After a region's last kill only OOM-related lines matter (oom_reaper, systemd's unit notes,
        # a next report's header); before it, every line but other programs' own. A skipped line must not
        # leave an indented continuation line to be read as part of the record before it.
        # (One list comprehension per part: a big delivery has thousands of lines in regions.)
        keep = [
            "kernel" in line
            or "oom" in line
            or "OOM" in line
            or "emory" in line
            or "illed" in line
            or (not line.startswith("{") and _USERLAND.match(line) is None)
            for line in lines[start : kill + 1]
        ]
        keep += ["oom" in line or "OOM" in line or "emory" in line or "illed" in line for line in lines[kill + 1 : end]]
        picked.extend(
            compress(
                range(start, end),
                [k or (i < last and lines[i + 1].startswith(_INDENT)) for i, k in enumerate(keep, start)],
            )
        )
    return picked
