"""The fast scanner gives exactly the events of feeding every line, whatever the block boundaries."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path
from typing import Any

import pytest
from oomwatch import OomParser, parse_lines, scan_binary
from oomwatch import scanner as sc
from oomwatch.event import OomEvent

from tests.support.corpus import corpus_files, corpus_lines

NOISE = [
    "Nov 26 10:00:{s:02d} web-1 sshd[{p}]: Accepted publickey for ubuntu from 10.0.0.{p} port 51234 ssh2",
    "Nov 26 10:00:{s:02d} web-1 CRON[{p}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "Nov 26 10:00:{s:02d} web-1 systemd[1]: Main process exited, code=exited, status=0/SUCCESS",
    "Nov 26 10:00:{s:02d} web-1 kernel: [{p}.000000] EXT4-fs (nvme0n1p1): mounted filesystem",
]


def mixed_log(seed: int = 5) -> list[str]:
    """Every corpus excerpt, each after a stretch of ordinary noise."""
    rnd = random.Random(seed)
    lines: list[str] = []
    for path in corpus_files():
        for _ in range(rnd.randint(50, 400)):
            lines.append(rnd.choice(NOISE).format(s=rnd.randint(0, 59), p=rnd.randint(100, 250)))
        lines.extend(line for line in corpus_lines(path) if line.strip())
    return lines


Log = tuple[list[str], bytes, list[OomEvent]]


@pytest.fixture(scope="module")
def log() -> Log:
    lines = mixed_log()
    data = ("\n".join(lines) + "\n").encode()
    events = parse_lines(lines)
    assert len(events) >= 30
    return lines, data, events


@pytest.mark.parametrize(
    ("block", "tail", "back"),
    [(8 << 20, 32 << 10, 2 << 20), (4096, 2048, 300_000), (777, 600, 500_000), (65536, 4096, 100_000)],
)
def test_block_reading_equals_line_by_line(
    monkeypatch: pytest.MonkeyPatch, log: Log, block: int, tail: int, back: int
) -> None:
    _, data, events = log
    monkeypatch.setattr(sc, "BLOCK", block)
    monkeypatch.setattr(sc, "TAIL_BYTES", tail)
    monkeypatch.setattr(sc, "BACK_BYTES", back)
    # A BytesIO is not a file: this takes the block path.
    assert list(scan_binary(io.BytesIO(data))) == events


def test_memory_mapped_file_equals_line_by_line(tmp_path: Path, log: Log) -> None:
    _, data, events = log
    path = tmp_path / "syslog"
    path.write_bytes(data)
    with path.open("rb") as fh:
        assert list(scan_binary(fh)) == events


def test_gzip_stream_equals_line_by_line(tmp_path: Path, log: Log) -> None:
    _, data, events = log
    path = tmp_path / "syslog.gz"
    path.write_bytes(gzip.compress(data))
    with gzip.open(path, "rb") as fh:
        assert list(scan_binary(fh)) == events


def test_a_header_far_before_its_kill_is_still_found() -> None:
    # 20,000 noise lines (about 1.8 MB) between the header and the kill of corpus 26's next report
    lines = corpus_lines(next(p for p in corpus_files() if p.name.startswith("04_")))
    head, rest = lines[:1], lines[1:]
    noise = [f"Nov 26 10:00:00 other-host sshd[{i}]: Connection closed by 10.0.0.1 port {i}" for i in range(20_000)]
    data = "\n".join(head + noise + rest).encode()
    (event,) = scan_binary(io.BytesIO(data))
    assert event["trigger"] is not None and event["trigger"]["comm"] == "doxygen"


def test_empty_input() -> None:
    assert list(scan_binary(io.BytesIO(b""))) == []


# -- line ends and long lines ------------------------------------------------------------------------------------


def cr_log() -> tuple[list[str], list[OomEvent]]:
    """More than 64 KiB of noise, then every corpus excerpt after more noise: the lines and their events."""
    lines = mixed_log(seed=11)
    events = parse_lines(lines)
    assert len("\n".join(lines[:1000])) > 64 << 10 and len(events) >= 30
    return lines, events


@pytest.mark.parametrize("end", ["\r", "\r\n"])
def test_cr_line_ends_lose_no_kill(tmp_path: Path, end: str) -> None:
    # Old Mac files and some copy-pastes end lines with a lone CR: once, every kill after the first 64 KiB was lost.
    lines, events = cr_log()
    data = (end.join(lines) + end).encode()
    path = tmp_path / "syslog"
    path.write_bytes(data)
    with path.open("rb") as fh:
        assert list(scan_binary(fh)) == events  # a regular file
    assert list(scan_binary(io.BytesIO(data))) == events  # a pipe
    with gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data))) as gz:
        assert list(scan_binary(gz)) == events


def test_mixed_line_ends_and_cr_at_block_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    lines, events = cr_log()
    rnd = random.Random(3)
    data = "".join(line + rnd.choice(["\n", "\r", "\r\n"]) for line in lines).encode()
    for block in (777, 4096, 4097):  # blocks end between the \r and the \n of some CRLF
        monkeypatch.setattr(sc, "BLOCK", block)
        assert list(scan_binary(io.BytesIO(data))) == events


def reference_cut(data: bytes, limit: int) -> bytes:
    """Each line kept to its first ``limit`` bytes: what _cut_lines must give, whatever the blocks."""
    return b"\n".join(line[:limit] for line in data.split(b"\n"))


def test_cut_lines_keeps_each_line_to_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "LINE_BYTES", 10)
    rnd = random.Random(9)
    for _ in range(300):
        data = b"".join(rnd.choice([b"\n", b"a", b"bcdefg", b"\n\n", b"x" * rnd.randint(0, 40)]) for _ in range(30))
        cuts = sorted(rnd.sample(range(1, len(data)), min(5, len(data) - 1))) if len(data) > 1 else []
        blocks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert b"".join(sc._cut_lines(blocks)) == reference_cut(data, 10), (data, cuts)


def test_a_long_line_is_cut_and_the_next_line_read(tmp_path: Path) -> None:
    # A 3 MiB kernel line with a kill needle (the kernel prints at most 1 KiB: this is an attack or garbage) right
    # before a real report: the parser gets the first MAX_LINE + 1 characters of it (so it can tell that the line
    # was cut), then the report's lines whole, from a pipe and from a file alike.
    report = corpus_lines(next(p for p in corpus_files() if p.name.startswith("04_")))
    long_line = "Nov 26 10:00:00 web-1 kernel: Killed process 1 (x) " + "é" * (3 << 20)
    data = ("\n".join([long_line, *report]) + "\n").encode()
    fed: list[str] = []

    class Recorder(OomParser):
        def feed(self, line: str, **kw: Any) -> None:
            fed.append(line)
            super().feed(line, **kw)

    path = tmp_path / "syslog"
    path.write_bytes(data)
    for reader in (io.BytesIO(data), gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data))), path.open("rb")):
        fed.clear()
        p = Recorder()
        list(scan_binary(reader, parser=p))
        assert len(fed[0]) == sc.CUT and long_line.startswith(fed[0])
        assert fed[1:] == [line for line in report if line]
        assert "doxygen" in [e["victim"]["comm"] for e in p.finish()]
        reader.close()


def test_needle_dense_lines_cost_linear_time() -> None:
    # Lines packed with the scanner's needles: the line start, tail and header search are done once per line, not
    # once per needle (which cost time quadratic in the line's length).
    import time

    def per_byte(size: int) -> float:
        line = (b"x Killed process 1 (a) systemd-oomd sending SIGKILL to process 2 " * (size // 66))[:size]
        data = (line + b"\n") * max(2, (8 << 20) // size)
        t0 = time.perf_counter()
        list(scan_binary(io.BytesIO(data)))
        return (time.perf_counter() - t0) / len(data)

    small, large = per_byte(2 << 10), per_byte(4 << 20)
    assert large < 4 * small, (small, large)
