"""`oomwatch scan` holds a bounded amount of memory whatever it reads: measured in a real child process.

Each case runs the CLI in a fresh interpreter that reads a stream from a pipe (written by a thread here, never held
whole in memory) and reports its own peak RSS; the same child on an empty input is the baseline. The bound is the
issue's: 64 MiB above the start, whatever the input's size.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.support.corpus import corpus_file, corpus_lines

ROOT = Path(__file__).resolve().parents[3]
MiB = 1 << 20
BOUND = 64 * MiB

# The peak RSS of the child's own address space: VmHWM. (ru_maxrss is no good here: Linux carries the parent's
# peak over fork into the child's, so a child of a big pytest process would report pytest's size.)
PEAK = """
def peak_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
"""
CHILD = (
    PEAK
    + """
import sys
from oomwatch.cli import main
rc = main(["scan", "--json", *sys.argv[1:]])
sys.stdout.flush()
sys.stderr.write("maxrss_kb=%d\\n" % peak_kb())
sys.exit(rc)
"""
)


def run_child(chunks: Iterable[bytes], *args: str) -> tuple[int, bytes, int]:
    """(peak RSS in bytes, stdout, exit status) of ``oomwatch scan --json`` reading ``chunks`` from a pipe."""
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            stdin=subprocess.PIPE,
            stdout=out_f,
            stderr=err_f,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin"},
        )
        assert proc.stdin is not None
        with proc.stdin:
            try:
                for chunk in chunks:
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    lines = [line for line in err.decode().splitlines() if line.startswith("maxrss_kb=")]
    assert lines, err.decode()[-2000:]
    # /proc reports KiB.
    return int(lines[-1].split("=")[1]) * 1024, out, proc.returncode


@pytest.fixture(scope="module")
def baseline() -> int:
    rss, out, rc = run_child([])
    assert rc == 0 and out == b""
    return rss


def repeat(block: bytes, total: int) -> Iterator[bytes]:
    for _ in range(total // len(block)):
        yield block


def gzip_bomb(total: int, chunk: int = 8 * MiB) -> bytes:
    """One gzip member that inflates to ``total`` zero bytes, ~4.5 KB per MiB (made without compressing it all:
    after a full flush the deflate output of the same input repeats)."""
    zeros = bytes(chunk)
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(total // chunk):
        crc = zlib.crc32(zeros, crc)
    body = first + again * (total // chunk - 1) + c.flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff" + body + struct.pack("<II", crc, total & 0xFFFFFFFF)


def test_the_measure_sees_memory_held() -> None:
    # The probe itself: a child that holds 200 MiB reports it, a child that holds nothing does not, whatever this
    # process holds (so a low figure below means low use).
    ballast = bytearray(300 * MiB)
    probe = PEAK + "b = bytearray(int(__import__('sys').argv[1]) << 20); print(peak_kb())"
    held, idle = (
        int(subprocess.run([sys.executable, "-c", probe, n], capture_output=True, check=True).stdout) * 1024
        for n in ("200", "0")
    )
    assert held > 200 * MiB > 150 * MiB > idle
    del ballast


def test_newline_free_512_mib_stream_stays_bounded(baseline: int) -> None:
    rss, out, rc = run_child(repeat(bytes(MiB), 512 * MiB))
    assert rc == 0 and out == b""
    assert rss - baseline < BOUND, f"{(rss - baseline) / MiB:.0f} MiB above the start"


def test_long_lines_with_kill_needles_stay_bounded(baseline: int) -> None:
    # 256 MiB of 4 MiB lines full of the scanner's needles: each line is cut, none is held whole.
    line = b"x Killed process 1 (a) systemd-oomd sending SIGKILL to process 2 " * (4 * MiB // 66) + b"\n"
    rss, _, rc = run_child(repeat(line, 256 * MiB))
    assert rc == 0
    assert rss - baseline < BOUND, f"{(rss - baseline) / MiB:.0f} MiB above the start"


def test_gzip_bomb_stays_bounded(baseline: int) -> None:
    bomb = gzip_bomb(1 << 30)
    assert len(bomb) < 8 * MiB
    rss, out, rc = run_child([bomb])
    assert rc == 0 and out == b""
    assert rss - baseline < BOUND, f"{(rss - baseline) / MiB:.0f} MiB above the start"


def test_many_short_lines_without_kills_stay_bounded(baseline: int) -> None:
    block = b"Nov 26 10:00:00 web-1 sshd[4242]: Connection closed by 10.0.0.1 port 51234\n" * 10_000
    rss, out, rc = run_child(repeat(block, 256 * MiB))
    assert rc == 0 and out == b""
    assert rss - baseline < BOUND, f"{(rss - baseline) / MiB:.0f} MiB above the start"


def test_a_real_kill_after_a_newline_free_stretch_is_found(baseline: int) -> None:
    # 64 MiB without a line end, then a real report: the cut stretch is skipped, the report read.
    report = ("\n" + "\n".join(corpus_lines(corpus_file("04"))) + "\n").encode()
    chunks = [*repeat(b"A" * MiB, 64 * MiB), report]
    rss, out, rc = run_child(chunks)
    assert rc == 0
    (line,) = out.decode().splitlines()
    assert '"comm":"doxygen"' in line
    assert rss - baseline < BOUND


@pytest.mark.parametrize("rows", [20_000, 100_000])
def test_a_huge_task_table_stays_bounded(baseline: int, rows: int) -> None:
    # A real report whose task table has ``rows`` more rows (distinct pids): the kill is still reported.
    lines = corpus_lines(corpus_file("04"))
    at = max(i for i, line in enumerate(lines) if re.match(r"\[\s*\d+\]", line))
    fake = [re.sub(r"^\[\s*\d+\]", f"[{2_000_000 + i:7d}]", lines[at]) for i in range(rows)]
    data = ("\n".join([*lines[: at + 1], *fake, *lines[at + 1 :]]) + "\n").encode()
    rss, out, rc = run_child([data])
    assert rc == 0
    (line,) = out.decode().splitlines()
    event = json.loads(line)
    assert event["victim"]["comm"] == "doxygen"
    if rows == 20_000:  # within reach of the kill's look back for its header (BACK_BYTES): the whole report
        assert event["trigger"]["comm"] == "doxygen" and event["task_count"] > rows
    assert rss - baseline < BOUND, f"{(rss - baseline) / MiB:.0f} MiB above the start"


def test_a_big_mapped_file_stays_bounded(baseline: int, tmp_path: Path) -> None:
    # A regular file is memory-mapped: its pages count in the process's RSS as they are searched, unless let go.
    block = b"Nov 26 10:00:00 web-1 sshd[4242]: Connection closed by 10.0.0.1 port 51234\n" * 10_000
    path = tmp_path / "syslog"
    with path.open("wb") as fh:
        for chunk in repeat(block, 512 * MiB):
            fh.write(chunk)
    rss, out, rc = run_child([], str(path))
    assert rc == 0 and out == b""
    assert rss - baseline < BOUND, f"{(rss - baseline) / MiB:.0f} MiB above the start"
