"""Scan large logs fast: find the regions around kill lines in big byte blocks, parse only those lines.

A 100 MB syslog holds a few OOM reports. Reading it line by line in Python costs more than the whole job should,
so the file is memory-mapped (or read in large blocks when it is a pipe or gzip) and searched with ``find`` (C
speed) for two needles that every kill line carries: `` process `` (the kernel's ``Killed process N`` and
earlyoom's ``sending SIGTERM to process N``) and ``systemd-oomd``. Each hit becomes a region that reaches back to
its report's ``invoked oom-killer`` header (or a few lines when there is none) and forward far enough for
``oom_reaper`` and systemd's unit notes. Only region lines reach the line parser, whose state carries across
regions, so a file gives the same events as feeding every line (tests hold the two paths equal).

Any input costs bounded memory and linear time:

- Line ends are ``\\n``, ``\\r\\n`` or a lone ``\\r`` (old Mac files, some copy-pastes). A lone ``\\r`` is read
  as ``\\r\\n``, whose ``\\r`` the line parser drops: in the blocks read from a pipe or a compressed stream, and
  in the regions of a mapped file (whose lines, found by ``\\n``, are then at most ``LINE_BYTES`` long, or the
  file is read in blocks: a file of lone ``\\r`` line ends is one long line).
- The line contract with :func:`oomwatch.transport.parse_line`: a line reaches the parser whole, or, when it
  is longer than ``CUT = MAX_LINE + 1`` characters, as exactly its first ``CUT`` characters; the rest of it, up to
  the next line end, is skipped and never held in memory. So a line whose text (one trailing ``\\r`` aside) is
  longer than ``MAX_LINE`` still reads as longer than ``MAX_LINE`` there: the parser can tell a cut line.
  Bytes-wise, a line is kept to ``LINE_BYTES`` (4 bytes per character: at least ``CUT`` characters of any UTF-8
  text, or of bytes that are not) while it is read, and cut to characters when decoded.
- Blocks are read ``BLOCK`` bytes at a time (a gzip, xz or bz2 stream decompresses that much at a time, so a
  compression bomb costs no more than a plain file); at most ``BACK_BYTES`` of past input are kept for a
  report's header; regions are decoded ``FEED_PIECE`` bytes at a time; kill positions are handled as they are
  found, never listed for a whole block.
- Each byte is searched a bounded number of times: several kill needles on one line share one line start and one
  tail, and the search for a report's header resumes where the previous one stopped.
"""

from __future__ import annotations

import heapq
import io
import mmap
import os
import stat
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from oomwatch.event import OomEvent

from oomwatch import regions as rule
from oomwatch.parser import OomParser
from oomwatch.regions import BACK_LINES_NO_HEADER, BACK_LINES_USERSPACE, TAIL_LINES
from oomwatch.transport import MAX_LINE

BLOCK = 8 << 20
# The region rule of oomwatch.regions, as bytes: its needles; which hit is a kill line is rule.kill_at's.
PROCESS_NEEDLE = rule.PROCESS.encode()
OOMD_NEEDLE = rule.OOMD.encode()
HEADER = rule.HEADER.encode()
_WORDS = rule.BYTE_WORDS
BACK_BYTES = 2 << 20  # how far back a kill looks for its report's header: a task table of ~20k processes
TAIL_BYTES = 32 << 10
CUT = MAX_LINE + 1  # characters of a longer line handed to the parser (see the module docstring)
LINE_BYTES = 4 * CUT  # bytes of a line kept while reading: at least CUT characters once decoded
FEED_PIECE = 1 << 20  # bytes of a region decoded at a time


class _Buffer(Protocol):
    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def rfind(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def __getitem__(self, s: slice) -> bytes: ...


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


def _tail(buf: _Buffer, pos: int, line_end: int, limit: int) -> int:
    """Where the region of a kill at ``pos`` (its line ending at ``line_end``) stops."""
    if line_end >= limit:
        return limit
    end = line_end
    cap = min(limit, pos + TAIL_BYTES)
    for _ in range(TAIL_LINES):
        nxt = buf.find(b"\n", end + 1, cap)
        if nxt < 0:
            break
        end = nxt
    return end + 1


def _needles(buf: _Buffer, needle: bytes, lo: int, hi: int) -> Iterator[int]:
    stop = hi + len(needle) - 1  # a needle that starts before hi and ends after it counts here
    i = buf.find(needle, lo, stop)
    while i >= 0:
        yield i
        i = buf.find(needle, i + 1, stop)


def _anchors(buf: _Buffer, lo: int, hi: int) -> Iterator[tuple[int, bool]]:
    """Kill-line positions in [lo, hi), ascending: (position, is a kernel kill)."""
    kill_at = rule.kill_at
    kills: Iterator[tuple[int, bool]] = (
        (i, kind) for i in _needles(buf, PROCESS_NEEDLE, lo, hi) if (kind := kill_at(buf, i, _WORDS)) is not None
    )
    oomd = ((i, False) for i in _needles(buf, OOMD_NEEDLE, lo, hi))
    return heapq.merge(kills, oomd)


def _kill_lines(buf: _Buffer, lo: int, hi: int, limit: int, done: int) -> Iterator[tuple[int, int, int, bool]]:
    """The lines of the anchors in buf[lo:hi], ascending: (line start, line end, last anchor's position, whether
    the first anchor is a kernel kill). Several anchors on one line cost one line start and one line end."""
    line: list[Any] | None = None  # [line start, line end, last position, first is kernel]
    for pos, is_kernel in _anchors(buf, lo, hi):
        if line is not None:
            if pos < line[1]:
                line[2] = pos
                continue
            yield line[0], line[1], line[2], line[3]
        nl = buf.rfind(b"\n", max(done, line[1] if line is not None else 0), pos)
        end = buf.find(b"\n", pos, limit)
        line = [max(nl + 1, done), limit if end < 0 else end, pos, is_kernel]
    if line is not None:
        yield line[0], line[1], line[2], line[3]


def _regions(buf: _Buffer, lo: int, hi: int, limit: int, done: int) -> Iterator[tuple[int, int]]:
    """Byte ranges [start, end) to feed for the anchors in buf[lo:hi], ascending; nothing before ``done`` again."""
    region: tuple[int, int] | None = None
    searched = 0  # the header search has covered [.., searched)
    header = -1  # the last header found before ``searched``
    for ls, line_end, pos, is_kernel in _kill_lines(buf, lo, hi, limit, done):
        # The last anchor of the line reaches furthest: its tail is the line's.
        end = _tail(buf, pos, line_end, limit)
        if region is not None and ls < region[1]:
            region = (region[0], max(region[1], end))
            continue
        floor = max(done, region[1] if region is not None else 0)
        if is_kernel:
            back = max(0, ls - BACK_BYTES)
            h = buf.rfind(HEADER, max(back, searched), ls)
            if h < 0 and header >= back:
                h = header
            header, searched = h, ls
            if h < 0:
                start = _back_lines(buf, ls, BACK_LINES_NO_HEADER, floor)
            else:
                # A header already fed means the report is open in the parser: feed everything since.
                start = max(buf.rfind(b"\n", floor, h) + 1, floor) if h >= floor else floor
        else:
            start = _back_lines(buf, ls, BACK_LINES_USERSPACE, floor)
        if region is not None and start <= region[1]:
            region = (region[0], max(region[1], end))
        else:
            if region is not None:
                yield region
            region = (start, end)
    if region is not None:
        yield region


def _feed(p: OomParser, buf: _Buffer, start: int, end: int, stream: str) -> None:
    feed = p.feed
    while start < end:
        stop = end
        if end - start > FEED_PIECE:
            nl = buf.rfind(b"\n", start, start + FEED_PIECE)
            stop = nl + 1 if nl >= 0 else start + FEED_PIECE
        text = buf[start:stop].decode("utf-8", "replace")
        if "\r" in text:  # a lone \r ends a line too: make it \r\n, as the block path does
            text = text.replace("\r", "\r\n").replace("\r\n\n", "\r\n")
        for line in text.split("\n"):
            if line:
                feed(line if len(line) <= CUT else line[:CUT], stream=stream)
        start = stop


def _long_line(buf: _Buffer, size: int, release: Callable[[int], None] | None = None) -> bool:
    """True when some line of buf[:size] is longer than ``LINE_BYTES``: one short ``rfind`` per ``LINE_BYTES``.

    ``release(pos)`` is called every ``BLOCK`` bytes: a map lets go of the pages the check has looked at.
    """
    pos = 0
    mark = BLOCK
    while size - pos > LINE_BYTES:
        nl = buf.rfind(b"\n", pos, pos + LINE_BYTES + 1)
        if nl < 0:
            return True
        pos = nl + 1
        if release is not None and pos > mark:
            release(pos)
            mark = pos + BLOCK
    return False


#: What the scanner reads: an open binary file, ``gzip.open(...)``, ``io.BytesIO`` or ``sys.stdin.buffer``.
Binary: TypeAlias = IO[bytes] | io.BufferedIOBase


def _mapped(fileobj: Binary) -> mmap.mmap | None:
    """A read-only map of a regular file read from its start; None for pipes, gzip streams and the like, and for
    a file with a line longer than ``LINE_BYTES`` (a file of lone ``\\r`` line ends is one, unless it is small),
    which the block path cuts."""
    if not isinstance(fileobj, io.BufferedReader | io.FileIO):
        return None
    try:
        if fileobj.tell() != 0:
            return None
        fd = fileobj.fileno()
        st = os.fstat(fd)
        if not st.st_size or not stat.S_ISREG(st.st_mode):
            return None
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    size = len(mm)
    dontneed = getattr(mmap, "MADV_DONTNEED", None)

    def release(pos: int) -> None:
        # The pages the check mapped in (the kernel maps 64 KiB around each one touched) go again as it goes.
        if dontneed is not None:
            mm.madvise(dontneed, 0, pos // mmap.PAGESIZE * mmap.PAGESIZE)

    if _long_line(mm, size, release):
        mm.close()
        return None
    release(size)
    return mm


def scan_binary(fileobj: Binary, *, stream: str = "", parser: OomParser | None = None) -> Iterator[OomEvent]:
    """Events of every kill in a binary stream (a file, ``gzip.open(...)``, ``sys.stdin.buffer``).

    With ``parser`` given, lines are fed to it and nothing is yielded: the caller calls ``finish()``.
    """
    own = parser is None
    p = parser or OomParser()
    mm = _mapped(fileobj)
    if mm is not None:
        with mm:
            size = len(mm)
            # Windows of BLOCK bytes, so that the kill positions of one window are all that is held at a time.
            done = dropped = 0
            dontneed = getattr(mmap, "MADV_DONTNEED", None)
            for lo in range(0, size, BLOCK):
                for start, end in _regions(mm, lo, min(lo + BLOCK, size), size, done):
                    start = max(start, done)
                    if end > start:
                        _feed(p, mm, start, end, stream)
                        done = end
                # Pages far behind are seldom looked at again (a kill looks back BACK_BYTES for its header): let
                # them go, so that a big file keeps no more of itself resident than a pipe does. A page looked at
                # again is read back from the page cache.
                drop = (lo - BACK_BYTES) // mmap.PAGESIZE * mmap.PAGESIZE
                if dontneed is not None and drop > dropped:
                    mm.madvise(dontneed, dropped, drop - dropped)
                    dropped = drop
    else:
        _scan_blocks(_cut_lines(_blocks(fileobj)), p, stream)
    if own:
        yield from p.finish()


def _read_block(fileobj: Binary) -> bytes:
    """``BLOCK`` bytes, or fewer at the end. A stream that breaks (a truncated or corrupt gzip) raises
    :class:`_Broken`, after which the blocks read before it are still scanned to their end.

    A pipe is read in ``read1`` pieces joined (faster there than one ``read(BLOCK)``); a decompressing stream
    with one ``read``, which is faster for it.
    """
    if not isinstance(fileobj, io.BufferedReader):
        try:
            return fileobj.read(BLOCK)
        except Exception as exc:
            raise _Broken(b"", exc) from exc
    parts: list[bytes] = []
    size = 0
    while size < BLOCK:
        try:
            part = fileobj.read1(BLOCK - size)
        except Exception as exc:
            raise _Broken(b"".join(parts), exc) from exc
        if not part:
            break
        parts.append(part)
        size += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Broken(Exception):
    """A stream that broke after ``data``; ``error`` is what it raised."""

    def __init__(self, data: bytes, error: Exception) -> None:
        super().__init__(data, error)
        self.data, self.error = data, error


def _blocks(fileobj: Binary) -> Iterator[bytes]:
    """The stream in blocks of about ``BLOCK`` bytes, each lone ``\\r`` made ``\\r\\n``.

    A ``\\r`` that ends a block waits for the next one, which may start with its ``\\n``. A stream that breaks
    gives what it held before the break, then raises :class:`_Broken`.
    """
    carry = b""
    broken: _Broken | None = None
    while broken is None:
        try:
            data = _read_block(fileobj)
        except _Broken as exc:
            data, broken = exc.data, exc
        if not data:
            if carry:
                yield carry + b"\n"
            break
        if carry:
            data, carry = carry + data, b""
        if b"\r" in data:
            if data[-1:] == b"\r" and broken is None:
                data, carry = data[:-1], b"\r"
            # Every \r becomes \r\n, then a \r\n that was there (now \r\n\n) is itself again.
            data = data.replace(b"\r", b"\r\n").replace(b"\r\n\n", b"\r\n")
        yield data
    if broken is not None:
        raise _Broken(b"", broken.error)


def _cut_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:  # noqa: C901 - the block reader of the scan path (bench_scan measures it), kept as one loop
    """The same blocks with every line kept to its first ``LINE_BYTES`` bytes; the rest of a longer line, up to
    its line end, is dropped as it is read."""
    run = 0  # bytes of the unfinished line that ended the previous block
    skip = False  # inside a cut line: drop everything up to the next line end
    for data in blocks:
        n = len(data)
        keep = 0  # data[keep:] is still to be passed on
        ls = -run  # where the current line starts (before this block when it continues one)
        if skip:
            nl = data.find(b"\n")
            if nl < 0:
                continue
            skip, keep, ls = False, nl, nl + 1  # the "\n" ends the cut line
        pieces: list[bytes] = []
        while n - ls > LINE_BYTES:
            nl = data.rfind(b"\n", max(ls, keep), ls + LINE_BYTES + 1)
            if nl >= 0:
                ls = nl + 1  # every line up to the last line end in reach is short enough
                continue
            cut = ls + LINE_BYTES
            pieces.append(data[keep:cut])
            nl = data.find(b"\n", cut)
            if nl < 0:
                skip, keep = True, n
                break
            keep = ls = nl
            ls += 1
        if not skip:
            nl = data.rfind(b"\n", max(ls, keep))  # the last line end: a short search back
            if nl >= 0:
                ls = nl + 1
        run = 0 if skip else n - ls
        if not pieces:
            if keep < n:
                yield data if keep == 0 else data[keep:]
            continue
        if not skip:
            pieces.append(data[keep:])
        out = b"".join(pieces)
        if out:
            yield out


def _scan_blocks(blocks: Iterable[bytes], p: OomParser, stream: str) -> None:  # noqa: C901 - the block reader of the scan path (bench_scan measures it), kept as one loop
    buf = b""
    done = 0  # bytes of buf already fed (or skipped for good)
    searched = 0  # anchors before this offset have been handled
    broken: _Broken | None = None
    it = iter(blocks)
    while True:
        try:
            data = next(it)
        except StopIteration:
            data = None
        except _Broken as exc:  # what came before the break is read to its end, then the error is raised
            data, broken = None, exc
        eof = data is None
        if data:
            buf += data
        elif not eof:
            continue
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
        if eof:
            break
        if keep:
            buf = buf[keep:]
            done = max(done - keep, 0)
            searched -= keep
    if broken is not None:
        raise broken.error
