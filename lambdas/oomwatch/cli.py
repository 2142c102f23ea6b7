"""``oomwatch``: find OOM kills in log files, journal dumps or dmesg output, on a laptop or on the host itself."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import IO, TYPE_CHECKING, Any

from oomwatch.parser import OomParser
from oomwatch.render import render_event, render_summary
from oomwatch.sanitise import sanitise_tree
from oomwatch.scanner import scan_binary

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


class _Input:
    def __init__(self, name: str, fh: IO[bytes]) -> None:
        self.name, self.fh = name, fh


def _open_all(paths: Sequence[str]) -> list[_Input]:
    """Open every input before reading any, so an unreadable file fails fast with nothing printed."""
    if not paths:
        paths = ["-"]
    opened: list[_Input] = []
    try:
        for path in paths:
            if path == "-":
                opened.append(_Input("<stdin>", sys.stdin.buffer))
                continue
            fh: IO[bytes] = open(path, "rb")  # noqa: SIM115 — closed in _close_all
            if path.endswith(".gz"):
                import gzip

                fh = gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[assignment]
            opened.append(_Input(path, fh))
    except OSError:
        _close_all(opened)
        raise
    return opened


def _close_all(inputs: list[_Input]) -> None:
    for i in inputs:
        if i.fh is not sys.stdin.buffer:
            with contextlib.suppress(OSError):
                i.fh.close()


def _events(inputs: list[_Input]) -> Iterator[dict[str, Any]]:
    parser = OomParser()
    for i in inputs:
        # One stream per file: dmesg dumps of two machines never mix; kills seen in both syslog and
        # kern.log of one host are still reported once (the parser de-duplicates per host).
        for _ in scan_binary(i.fh, stream=i.name, parser=parser):
            pass
    yield from parser.finish()


def scan(args: argparse.Namespace) -> int:
    try:
        inputs = _open_all(args.files)
    except OSError as exc:
        print(f"oomwatch: cannot read {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        events = list(_events(inputs))
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        print(f"oomwatch: cannot read input: {exc}", file=sys.stderr)
        return 2
    finally:
        _close_all(inputs)
    out = sys.stdout
    if args.json:
        for e in events:
            # The parser sanitised the event; once more at the output, as the text form does (same function).
            out.write(json.dumps(sanitise_tree(e, None), separators=(",", ":"), ensure_ascii=False) + "\n")
        return 0
    for n, e in enumerate(events, 1):
        out.write(render_event(e, n) + "\n\n")
    out.write(render_summary(events) + "\n")
    return 0


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
    return int(demo_main(argv))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oomwatch", description="Find and explain Linux OOM kills in logs.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser(
        "scan",
        help="parse log files, journal dumps or dmesg output and print each OOM kill",
        description="Reads syslog, kern.log, journalctl (short, short-iso, short-precise, short-monotonic, cat, "
        "json), dmesg/dmesg -T and CloudWatch agent journald JSON; .gz files are read transparently.",
    )
    s.add_argument("files", nargs="*", metavar="FILE", help="files to read ('-' or none: standard input)")
    s.add_argument("--json", action="store_true", help="JSON Lines: exactly one event per kill, nothing else")
    s.set_defaults(func=scan)
    d = sub.add_parser("demo", help="run the whole pipeline against a local AWS emulator")
    d.add_argument("--log", action="append", metavar="INSTANCE_ID=FILE", help="play your own log file")
    d.add_argument("--json", action="store_true", help="JSON Lines of every delivery")
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
