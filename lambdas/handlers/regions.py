"""Which lines of a delivery can belong to a kill: the parser only needs those.

A subscription delivery can hold 10,000 lines of which a few dozen are an OOM report. Feeding
every line through the parser costs far more than decoding the payload, so the handler applies
the region rule of ``oomwatch.scanner`` (the parser's own fast path for files) to the line list:
every kill line (``Killed process``, earlyoom's ``sending SIG... to process``, ``systemd-oomd``)
anchors a region that reaches back to its report's ``invoked oom-killer`` header (or a bounded
number of lines when the header is not in the delivery) and forward far enough for
``oom_reaper`` and systemd's unit notes. Within a region, other programs' syslog lines are
skipped. tests/handlers/test_regions.py holds "parse the selection" equal to "parse everything"
on every corpus report, alone and all together, with noise interleaved.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from itertools import compress

from oomwatch.scanner import BACK_LINES_NO_HEADER, BACK_LINES_USERSPACE, TAIL_LINES

HEADER = "invoked oom-killer"
OOMD = "systemd-oomd"


def _anchor(line: str) -> bool | None:
    """True for a kernel kill line, False for a userspace killer's line, None otherwise."""
    i = line.find(" process ")
    while i >= 0:
        if line.endswith("Killed", 0, i):
            return True
        if line.endswith("to", 0, i) and line.rfind("sending ", max(i - 24, 0), i) >= 0:
            return False
        if line.endswith(("Killing", "killing"), 0, i):  # earlyoom before v1.3
            return False
        i = line.find(" process ", i + 1)
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
# "kernel"), or a journald envelope of a non-kernel entry. The parser ignores those unless they
# are OOM-related, which _OOM_WORDS keeps.
_USERLAND = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) \S+ "
    r"(?!kernel[:\[])[^\s:\[]+(?:\[\d+\])?: "
)


_INDENT = (" ", "\t")


def _oom_words(line: str) -> bool:
    return "oom" in line or "OOM" in line or "emory" in line or "illed" in line


def _feedable(line: str) -> bool:
    """False only for a line the parser would certainly ignore (a user-space program's own line)."""
    if "kernel" in line:
        return True
    if line.startswith("{"):
        return _oom_words(line)
    return _USERLAND.match(line) is None or _oom_words(line)


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
    kill_at = _positions(text, " process ") + _positions(text, OOMD)
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
        # (_feedable and _oom_words, inlined: a big delivery has thousands of lines in regions)
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
