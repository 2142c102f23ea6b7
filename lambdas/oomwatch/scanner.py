"""Scan large logs fast: find the regions around kill lines in big byte blocks, parse only those lines.

A 100 MB syslog holds a few OOM reports. Reading it line by line in Python costs more than the whole job should,
so the file is memory-mapped (or read in large blocks when it is a pipe or gzip) and searched with ``find`` (C
speed) for two needles that every kill line carries: `` process `` (the kernel's ``Killed process N`` and
earlyoom's ``sending SIGTERM to process N``) and ``systemd-oomd``. Each hit becomes a region that reaches back to
its report's ``invoked oom-killer`` header (or a few lines when there is none) and forward far enough for
``oom_reaper`` and systemd's unit notes. Only region lines reach the line parser, whose state carries across
regions, so a file gives the same events as feeding every line (tests hold the two paths equal).
"""

from __future__ import annotations

import io
import mmap
import os
import stat
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

from oomwatch.parser import OomParser

BLOCK = 8 << 20
PROCESS_NEEDLE = b" process "
OOMD_NEEDLE = b"systemd-oomd"
HEADER = b"invoked oom-killer"
BACK_BYTES = 2 << 20  # how far back a kill looks for its report's header: a task table of ~20k processes
BACK_LINES_NO_HEADER = 64  # a report excerpt without its header: the task row and "Kill process" before the kill
BACK_LINES_USERSPACE = 4
TAIL_LINES = 50  # oom_reaper, group kills and systemd's "Failed with result 'oom-kill'" come soon after
TAIL_BYTES = 32 << 10


class _Buffer(Protocol):
    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def rfind(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def __getitem__(self, s: slice) -> bytes: ...


def _line_start(buf: _Buffer, pos: int, lo: int) -> int:
    return max(buf.rfind(b"\n", lo, pos) + 1, lo)


def _back_lines(buf: _Buffer, start: int, n: int, lo: int) -> int:
    pos = start
    for _ in range(n):
        if pos <= lo:
            return lo
        nl = buf.rfind(b"\n", lo, pos - 1)
        if nl < 0:
            return lo
        pos = nl + 1
    return max(pos, lo)


def _tail(buf: _Buffer, pos: int, limit: int) -> int:
    end = buf.find(b"\n", pos, limit)
    if end < 0:
        return limit
    cap = min(limit, pos + TAIL_BYTES)
    for _ in range(TAIL_LINES):
        nxt = buf.find(b"\n", end + 1, cap)
        if nxt < 0:
            break
        end = nxt
    return end + 1


def _anchors(buf: _Buffer, lo: int, hi: int) -> list[tuple[int, bool]]:
    """Kill-line positions in [lo, hi): (position, is a kernel kill)."""
    hits: list[tuple[int, bool]] = []
    stop = hi + len(PROCESS_NEEDLE) - 1  # a needle that starts before hi and ends after it counts here
    i = buf.find(PROCESS_NEEDLE, lo, stop)
    while i >= 0:
        if buf[i - 6 : i] == b"Killed":
            hits.append((i, True))
        elif buf[i - 2 : i] == b"to" and buf.rfind(b"sending ", max(i - 24, 0), i) >= 0:
            hits.append((i, False))  # earlyoom
        elif buf[i - 6 : i] == b"illing" and buf[i - 7 : i - 6] in (b"K", b"k"):
            hits.append((i, False))  # earlyoom before v1.3: "Killing process 123 ...", "killing process 123 ..."
        i = buf.find(PROCESS_NEEDLE, i + 1, stop)
    stop = hi + len(OOMD_NEEDLE) - 1
    i = buf.find(OOMD_NEEDLE, lo, stop)
    while i >= 0:
        hits.append((i, False))
        i = buf.find(OOMD_NEEDLE, i + 1, stop)
    hits.sort()
    return hits


def _regions(buf: _Buffer, lo: int, hi: int, limit: int, done: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) to feed for the anchors in buf[lo:hi]; nothing before ``done`` again."""
    regions: list[tuple[int, int]] = []
    for pos, is_kernel in _anchors(buf, lo, hi):
        ls = _line_start(buf, pos, done)
        end = _tail(buf, pos, limit)
        if regions and ls < regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
            continue
        floor = max(done, regions[-1][1] if regions else 0)
        if is_kernel:
            h = buf.rfind(HEADER, max(0, ls - BACK_BYTES), ls)
            if h < 0:
                start = _back_lines(buf, ls, BACK_LINES_NO_HEADER, floor)
            else:
                # A header already fed means the report is open in the parser: feed everything since.
                start = _line_start(buf, h, floor) if h >= floor else floor
        else:
            start = _back_lines(buf, ls, BACK_LINES_USERSPACE, floor)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
        else:
            regions.append((start, end))
    return regions


def _feed(p: OomParser, buf: _Buffer, start: int, end: int, stream: str) -> None:
    for line in buf[start:end].decode("utf-8", "replace").split("\n"):
        if line:
            p.feed(line, stream=stream)


def _mapped(fileobj: IO[bytes]) -> mmap.mmap | None:
    """A read-only map of a regular file read from its start; None for pipes, gzip streams and the like."""
    if not isinstance(fileobj, io.BufferedReader | io.FileIO):
        return None
    try:
        if fileobj.tell() != 0:
            return None
        fd = fileobj.fileno()
        st = os.fstat(fd)
        if not st.st_size or not stat.S_ISREG(st.st_mode):
            return None
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def scan_binary(fileobj: IO[bytes], *, stream: str = "", parser: OomParser | None = None) -> Iterator[dict[str, Any]]:
    """Events of every kill in a binary stream (a file, ``gzip.open(...)``, ``sys.stdin.buffer``).

    With ``parser`` given, lines are fed to it and nothing is yielded: the caller calls ``finish()``.
    """
    own = parser is None
    p = parser or OomParser()
    mm = _mapped(fileobj)
    if mm is not None:
        with mm:
            size = len(mm)
            for start, end in _regions(mm, 0, size, size, 0):
                _feed(p, mm, start, end, stream)
    else:
        _scan_blocks(fileobj, p, stream)
    if own:
        yield from p.finish()


def _scan_blocks(fileobj: IO[bytes], p: OomParser, stream: str) -> None:
    buf = b""
    done = 0  # bytes of buf already fed (or skipped for good)
    searched = 0  # anchors before this offset have been handled
    eof = False
    while not eof:
        data = fileobj.read(BLOCK)
        eof = not data
        buf += data
        # Only whole lines are searched; near the end, leave room for a region's tail unless the input ended.
        limit = len(buf) if eof else buf.rfind(b"\n") + 1
        hi = limit if eof else max(limit - TAIL_BYTES, searched)
        for start, end in _regions(buf, searched, hi, limit, done):
            start = max(start, done)
            if end > start:
                _feed(p, buf, start, end, stream)
                done = end
        searched = max(hi, searched)
        # Keep what a later kill may need to look back at, drop the rest.
        keep = max(0, min(searched, len(buf)) - BACK_BYTES)
        if keep:
            buf = buf[keep:]
            done = max(done - keep, 0)
            searched -= keep
