"""``oomwatch``: find OOM kills in log files, journal dumps or dmesg output, on a laptop or on the host itself."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import stat
import sys
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from oomwatch.filters import Filters, Summary, kill_time, parse_when
from oomwatch.parser import OomParser
from oomwatch.render import render_event, render_summary, render_table
from oomwatch.sanitise import sanitise_tree
from oomwatch.scanner import scan_binary

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from oomwatch.event import OomEvent


class _Input:
    def __init__(self, name: str, raw: IO[bytes], fh: IO[bytes], errors: tuple[type[BaseException], ...]) -> None:
        self.name, self.raw, self.fh, self.errors = name, raw, fh, errors

    def close(self) -> None:
        """Close what was opened (a decompressor leaves the file it reads open); never standard input."""
        if self.raw is not sys.stdin.buffer:
            for fh in (self.fh, self.raw):
                with contextlib.suppress(*_READ_ERRORS):
                    fh.close()


class _Unreadable(Exception):
    """An input this Python cannot read: the message says why, in one line."""


# Magic bytes: xz (tukaani.org xz-file-format, "Stream Header"), zstd (RFC 8878, section 3.1.1).
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, ValueError)


class _Prefixed(io.RawIOBase):
    """A pipe whose first bytes were read to tell its format, with those bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _head(fh: IO[bytes], n: int = 6) -> tuple[IO[bytes], bytes]:
    """The first ``n`` bytes of a stream and a stream that still starts with them."""
    if fh.seekable():
        head = fh.read(n)
        fh.seek(0)
        return fh, head
    head = b""
    while len(head) < n:  # a pipe may deliver its first bytes in pieces
        part = fh.read(n - len(head))
        if not part:
            break
        head += part
    return io.BufferedReader(_Prefixed(head, fh), buffer_size=1 << 20), head


def _lacking(kind: str, module: str, command: str) -> str:
    return f"{kind}-compressed, and this Python has no {module} module: decompress it first ({command} | oomwatch scan)"


def _decompressed(name: str, raw: IO[bytes]) -> tuple[IO[bytes], tuple[type[BaseException], ...]]:
    """The stream decompressed by what its magic bytes say (whatever its name), and the errors reading it raises.

    gzip, xz and bz2 are read incrementally (a compression bomb costs a block at a time); a compressor this
    Python lacks, or zstd before Python 3.14's ``compression.zstd``, raises :class:`_Unreadable`.
    """
    fh, head = _head(raw)
    if head[:2] == b"\x1f\x8b":
        import gzip
        import zlib

        return gzip.GzipFile(fileobj=fh, mode="rb"), (*_READ_ERRORS, zlib.error)  # type: ignore[return-value]
    if head[:6] == _XZ_MAGIC:
        try:
            import lzma
        except ImportError:
            raise _Unreadable(_lacking("xz", "lzma", f"xz -dc {name}")) from None
        return lzma.LZMAFile(fh), (*_READ_ERRORS, lzma.LZMAError)
    if head[:3] == b"BZh" and head[3:4].isdigit():
        try:
            import bz2
        except ImportError:
            raise _Unreadable(_lacking("bzip2", "bz2", f"bzip2 -dc {name}")) from None
        return bz2.BZ2File(fh), _READ_ERRORS
    if head[:4] == _ZSTD_MAGIC:
        try:
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]  # Python 3.14+
        except ImportError:
            raise _Unreadable("zstd-compressed, not supported: decompress with zstd -d first") from None
        return zstd.ZstdFile(fh), (*_READ_ERRORS, zstd.ZstdError)  # type: ignore[no-any-return,unused-ignore]
    return fh, _READ_ERRORS


def _open(path: str) -> _Input:
    """One input, opened and its format told by its first bytes; raises OSError or :class:`_Unreadable`."""
    if path == "-":
        name, raw = "<stdin>", sys.stdin.buffer
    else:
        name, raw = path, open(path, "rb")  # noqa: SIM115 — closed by _Input.close
    try:
        fh, errors = _decompressed(name, raw)
    except BaseException:
        if raw is not sys.stdin.buffer:
            raw.close()
        raise
    return _Input(name, raw, fh, errors)


def _cannot_read(name: str, why: object) -> None:
    print(f"oomwatch: cannot read {name}: {why}", file=sys.stderr)


def _reference(raw: IO[bytes]) -> datetime:
    """What supplies a year the log lacks: a regular file's modification time (every line in it was written by
    then), else now (a pipe is being written as it is read)."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        st = os.fstat(raw.fileno())
        if stat.S_ISREG(st.st_mode):
            return datetime.fromtimestamp(st.st_mtime).astimezone()
    return datetime.now().astimezone()


def _events(paths: Sequence[str]) -> tuple[list[OomEvent], dict[str, datetime], int, int]:
    """The events of every readable input, each input's reference time (by its name, the events' ``stream``), how
    many inputs were read and how many could not be (each of those said on stderr).

    Inputs are opened one at a time: a missing, unreadable or corrupt file costs one line on stderr and never
    hides the others. The kills read from a file before it turned out corrupt are kept.
    """
    parser = OomParser()
    read = failed = 0
    references: dict[str, datetime] = {}
    for path in paths or ["-"]:
        try:
            i = _open(path)
        except _Unreadable as exc:
            _cannot_read("<stdin>" if path == "-" else path, exc)
            failed += 1
            continue
        except OSError as exc:
            _cannot_read(path, exc.strerror or exc)
            failed += 1
            continue
        references[i.name] = _reference(i.raw)
        try:
            # One stream per file: dmesg dumps of two machines never mix; kills seen in both syslog and
            # kern.log of one host are still reported once (the parser de-duplicates per host).
            for _ in scan_binary(i.fh, stream=i.name, parser=parser):
                pass
            read += 1
        except i.errors as exc:  # gzip.BadGzipFile is an OSError; a truncated stream raises EOFError
            _cannot_read(i.name, getattr(exc, "strerror", None) or exc)
            failed += 1
        finally:
            i.close()
    return parser.finish(), references, read, failed


# SGR codes (ECMA-48): bold, yellow, reset. Added after sanitising, at places the renderer chose, so a log line can
# never bring its own escape sequence.
_BOLD, _YELLOW, _RESET = "\x1b[1m", "\x1b[33m", "\x1b[0m"
_WARNING_LINES = ("  note ", "  complete    no", "  sender      not verified")


def colour_wanted(mode: str, stream: IO[str], environ: Mapping[str, str]) -> bool:
    """``--color``: ``always``, ``never``, or ``auto`` (the default): only on a terminal, and not when ``NO_COLOR``
    is set to anything but the empty string (https://no-color.org) or ``TERM`` is ``dumb``. A command-line
    ``always`` wins over ``NO_COLOR``, as no-color.org asks."""
    if mode != "auto":
        return mode == "always"
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _paint_event(text: str) -> str:
    lines = text.split("\n")
    lines[0] = _BOLD + lines[0] + _RESET
    return "\n".join(_YELLOW + x + _RESET if x.startswith(_WARNING_LINES) else x for x in lines)


def _paint_table(text: str) -> str:
    head, sep, rest = text.partition("\n")
    return _BOLD + head + _RESET + sep + rest


def scan(args: argparse.Namespace) -> int:
    """Exit status: ``-q`` and ``--count`` as grep's (0 kills shown, 1 none, 2 an input could not be read; ``-q``
    with a kill found is 0 even then, as ``grep -q``: GNU grep manual, "Exit Status"); otherwise 0, or 2 when an
    input could not be read."""
    events, references, read, failed = _events(args.files)
    filters = Filters(since=args.since, until=args.until, host=args.host, process=args.process)
    summary = Summary() if args.summary else None
    keep_events = not (summary is not None or args.quiet or args.count)  # else counters only
    total = len(events)
    shown, kept = _select(events, references, filters, summary, keep_events)
    left_out = total - kept
    if filters.undated:
        n = filters.undated
        print(
            f"oomwatch: note: {n} {'kill' if n == 1 else 'kills'} without a calendar time (dmesg without -T, a stamp"
            " in another language) kept by --since/--until",
            file=sys.stderr,
        )
    status = 2 if failed else 0
    if args.quiet:
        return 0 if kept else status or 1
    if args.count:
        sys.stdout.write(f"{kept}\n")
        return status or (0 if kept else 1)
    _write(args, shown, summary, kept=kept, left_out=left_out, read=read)
    return status


def _select(
    events: list[OomEvent], references: dict[str, datetime], filters: Filters, summary: Summary | None, keep: bool
) -> tuple[list[OomEvent], int]:
    """The kills the filters keep (listed only when ``keep``; a summary counts them) and how many they kept.

    Each event is let go once handled: a summary holds its counters, not the kills.
    """
    now = datetime.now().astimezone()
    shown: list[OomEvent] = []
    kept = 0
    events.reverse()
    while events:
        e = events.pop()
        when = kill_time(e, references.get(str(e.get("stream")), now)) if filters.timed or summary else None
        if filters.keep(e, when):
            kept += 1
            if summary is not None:
                summary.add(e, when)
            if keep:
                shown.append(e)
    return shown, kept


def _write(
    args: argparse.Namespace, shown: list[OomEvent], summary: Summary | None, *, kept: int, left_out: int, read: int
) -> None:
    """The kills as JSON lines, as a summary table, or as text with a closing summary line."""
    out = sys.stdout
    if args.json:
        for e in shown:
            # The parser sanitised the event; once more at the output, as the text form does (same function).
            out.write(json.dumps(sanitise_tree(e, None), separators=(",", ":"), ensure_ascii=False) + "\n")
        return
    colour = colour_wanted(args.color, out, os.environ)
    if summary is not None:
        if read or kept:
            table = render_table(summary.sorted_rows())
            if left_out:
                table += f"\n{left_out} more {'kill' if left_out == 1 else 'kills'} left out by the filters"
            out.write((_paint_table(table) if colour and kept else table) + "\n")
        return
    for n, e in enumerate(shown, 1):
        text = render_event(e, n)
        out.write((_paint_event(text) if colour else text) + "\n\n")
    if read or shown:  # nothing read at all: no summary of nothing, only the errors
        out.write(render_summary(shown, left_out=left_out) + "\n")


def demo(args: argparse.Namespace) -> int:
    """The whole pipeline on a local AWS emulator (needs the repository checkout and `make demo`'s setup)."""
    # The demo is the checkout's top-level ``demo`` package, importable from the editable install
    # (pyproject.toml) or with ``python -m demo`` from the repository.
    try:
        from demo import main as demo_main  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        print(f"oomwatch: demo needs the oomwatch repository checkout and its .venv ({exc})", file=sys.stderr)
        return 2
    argv: list[str] = []
    for spec in args.log or []:
        argv += ["--log", spec]
    if args.json:
        argv.append("--json")
    if getattr(args, "verbose", False):
        argv.append("--verbose")
    return int(demo_main(argv))


def version() -> str:
    """The installed package's version; from the checkout's pyproject.toml when it is not installed (run with
    ``PYTHONPATH=lambdas``); ``unknown`` when neither says."""
    from importlib import metadata

    try:
        return metadata.version("oomwatch")
    except metadata.PackageNotFoundError:
        pass
    from pathlib import Path

    try:
        import tomllib

        with (Path(__file__).resolve().parents[2] / "pyproject.toml").open("rb") as fh:
            project = tomllib.load(fh).get("project") or {}
        if project.get("name") == "oomwatch" and isinstance(project.get("version"), str):
            return str(project["version"])
    except (OSError, ValueError):
        pass
    return "unknown"


def _when(text: str) -> datetime:
    try:
        return parse_when(text, datetime.now().astimezone())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oomwatch", description="Find and explain Linux OOM kills in logs.")
    p.add_argument("--version", action="version", version=f"oomwatch {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser(
        "scan",
        help="parse log files, journal dumps or dmesg output and print each OOM kill",
        description="Reads syslog, kern.log, journalctl (short, short-iso, short-precise, short-monotonic, cat, "
        "json), dmesg/dmesg -T and CloudWatch agent journald JSON; gzip, xz and bzip2 files (told by their first "
        "bytes, whatever their name) are read transparently. Exit status 2 when some file could not be read; "
        "with -q or --count, as grep's: 0 kills found, 1 none, 2 an error.",
    )
    s.add_argument("--version", action="version", version=f"oomwatch {version()}")
    s.add_argument("files", nargs="*", metavar="FILE", help="files to read ('-' or none: standard input)")
    out = s.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="JSON Lines: exactly one event per kill, nothing else")
    out.add_argument("--summary", action="store_true", help="a table by host and process instead of each kill")
    out.add_argument("--count", action="store_true", help="print the number of kills; exit 0 if any, 1 if none")
    out.add_argument("-q", "--quiet", action="store_true", help="print nothing; exit 0 if any kill, 1 if none")
    f = s.add_argument_group("filters (a kill shown passes them all)")
    f.add_argument(
        "--since",
        type=_when,
        metavar="TIME",
        help="kills at or after TIME: 2025-11-26, 2025-11-26T10:15 (local time unless an offset is given), "
        "or a time ago: 30m, 2h, 7d",
    )
    f.add_argument("--until", type=_when, metavar="TIME", help="kills before TIME (same forms)")
    f.add_argument("--host", metavar="GLOB", help="host name, exact or a glob ('web-*'); never a kill with no host")
    f.add_argument("--process", metavar="GLOB", help="the killed process's name, exact or a glob ('php-fpm*')")
    s.add_argument(
        "--color",
        "--colour",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text: auto (default) on a terminal unless NO_COLOR is set",
    )
    s.set_defaults(func=scan)
    d = sub.add_parser("demo", help="run the whole pipeline against a local AWS emulator")
    d.add_argument(
        "--log", action="append", metavar="INSTANCE_ID=FILE[:TYPE]", help="play your own log file (compressed or not)"
    )
    d.add_argument("--json", action="store_true", help="JSON Lines of every delivery")
    d.add_argument("--verbose", action="store_true", help="also the deployed resources, invocations and timings")
    d.set_defaults(func=demo)
    from oomwatch.mutes_cli import add_commands

    add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Bare ``oomwatch`` prints the help on stdout and exits 0: nothing was asked, nothing failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
