"""``oomwatch``: find OOM kills in log files, journal dumps or dmesg output, on a laptop or on the host itself."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import IO, TYPE_CHECKING, Any

from oomwatch.parser import OomParser
from oomwatch.render import render_event, render_summary
from oomwatch.sanitise import sanitise_tree
from oomwatch.scanner import scan_binary

if TYPE_CHECKING:
    from collections.abc import Sequence


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


def _events(paths: Sequence[str]) -> tuple[list[dict[str, Any]], int, int]:
    """The events of every readable input, how many inputs were read and how many could not be (each of those
    said on stderr).

    Inputs are opened one at a time: a missing, unreadable or corrupt file costs one line on stderr and never
    hides the others. The kills read from a file before it turned out corrupt are kept.
    """
    parser = OomParser()
    read = failed = 0
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
    return parser.finish(), read, failed


def scan(args: argparse.Namespace) -> int:
    events, read, failed = _events(args.files)
    status = 2 if failed else 0
    out = sys.stdout
    if args.json:
        for e in events:
            # The parser sanitised the event; once more at the output, as the text form does (same function).
            out.write(json.dumps(sanitise_tree(e, None), separators=(",", ":"), ensure_ascii=False) + "\n")
        return status
    for n, e in enumerate(events, 1):
        out.write(render_event(e, n) + "\n\n")
    if read or events:  # nothing read at all: no summary of nothing, only the errors
        out.write(render_summary(events) + "\n")
    return status


def demo(args: argparse.Namespace) -> int:
    """The whole pipeline on a local AWS emulator (needs the repository checkout and `make demo`'s setup)."""
    from pathlib import Path

    # The demo lives in the repository (infra/demo), next to the editable install of this package.
    repo = Path(__file__).resolve().parents[2]
    if (repo / "infra" / "demo").is_dir() and str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        from infra.demo import main as demo_main  # type: ignore[attr-defined,unused-ignore]
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oomwatch", description="Find and explain Linux OOM kills in logs.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser(
        "scan",
        help="parse log files, journal dumps or dmesg output and print each OOM kill",
        description="Reads syslog, kern.log, journalctl (short, short-iso, short-precise, short-monotonic, cat, "
        "json), dmesg/dmesg -T and CloudWatch agent journald JSON; gzip, xz and bzip2 files (told by their first "
        "bytes, whatever their name) are read transparently. Exit status 2 when some file could not be read.",
    )
    s.add_argument("files", nargs="*", metavar="FILE", help="files to read ('-' or none: standard input)")
    s.add_argument("--json", action="store_true", help="JSON Lines: exactly one event per kill, nothing else")
    s.set_defaults(func=scan)
    d = sub.add_parser("demo", help="run the whole pipeline against a local AWS emulator")
    d.add_argument(
        "--log", action="append", metavar="INSTANCE_ID=FILE[:TYPE]", help="play your own log file (compressed or not)"
    )
    d.add_argument("--json", action="store_true", help="JSON Lines of every delivery")
    d.add_argument("--verbose", action="store_true", help="also the deployed resources, invocations and timings")
    d.set_defaults(func=demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
