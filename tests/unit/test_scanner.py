"""The fast scanner gives exactly the events of feeding every line, whatever the block boundaries."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import pytest
from corpus import corpus_files, corpus_lines
from oomwatch import parse_lines, scan_binary
from oomwatch import scanner as sc

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


@pytest.fixture(scope="module")
def log() -> tuple[list[str], bytes, list[dict]]:
    lines = mixed_log()
    data = ("\n".join(lines) + "\n").encode()
    events = parse_lines(lines)
    assert len(events) >= 30
    return lines, data, events


@pytest.mark.parametrize(
    ("block", "tail", "back"),
    [(8 << 20, 32 << 10, 2 << 20), (4096, 2048, 300_000), (777, 600, 500_000), (65536, 4096, 100_000)],
)
def test_block_reading_equals_line_by_line(monkeypatch, log, block: int, tail: int, back: int) -> None:
    _, data, events = log
    monkeypatch.setattr(sc, "BLOCK", block)
    monkeypatch.setattr(sc, "TAIL_BYTES", tail)
    monkeypatch.setattr(sc, "BACK_BYTES", back)
    # A BytesIO is not a file: this takes the block path.
    assert list(scan_binary(io.BytesIO(data))) == events


def test_memory_mapped_file_equals_line_by_line(tmp_path: Path, log) -> None:
    _, data, events = log
    path = tmp_path / "syslog"
    path.write_bytes(data)
    with path.open("rb") as fh:
        assert list(scan_binary(fh)) == events


def test_gzip_stream_equals_line_by_line(tmp_path: Path, log) -> None:
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
