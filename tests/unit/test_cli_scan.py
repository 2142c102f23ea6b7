"""`oomwatch scan` as a user runs it: real processes, real files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import assert_valid, corpus_file, corpus_lines, expected

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "oomwatch", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for number in ("04", "26", "32", "11"):
        path = tmp_path / f"{number}.log"
        path.write_text("\n".join(corpus_lines(corpus_file(number))) + "\n")
        out[number] = path
    gz = tmp_path / "32.log.gz"
    gz.write_bytes(gzip.compress(out["32"].read_bytes()))
    out["gz"] = gz
    return out


def test_readable_report(logs: dict[str, Path]) -> None:
    result = run("scan", str(logs["04"]))
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "OOM kill #1: doxygen (pid 473206)" in text
    assert "trigger     doxygen (pid 473206)" in text
    assert "RSS 8.8 GiB" in text and "host-wide (global) OOM" in text
    assert "workload    user session session-2.scope" in text
    assert "top memory  doxygen 473206 8.8 GiB · java 331049 2.0 GiB" in text
    assert text.rstrip().endswith("1 OOM kill found (1 kernel) on 1 host")


def test_json_lines_one_event_per_kill_and_nothing_else(logs: dict[str, Path]) -> None:
    result = run("scan", "--json", str(logs["32"]), str(logs["26"]))
    assert result.returncode == 0 and result.stderr == b""
    events = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(events) == len(expected(corpus_file("32"))) + len(expected(corpus_file("26")))
    for e in events:
        assert_valid(e)
    assert {e["stream"] for e in events} == {str(logs["32"]), str(logs["26"])}


def test_gzip_and_stdin(logs: dict[str, Path]) -> None:
    gz = run("scan", "--json", str(logs["gz"]))
    piped = run("scan", "--json", "-", stdin=logs["32"].read_bytes())
    plain = run("scan", "--json", str(logs["32"]))
    strip = [{k: v for k, v in json.loads(x).items() if k != "stream"} for x in plain.stdout.decode().splitlines()]
    for other in (gz, piped):
        assert other.returncode == 0
        assert [
            {k: v for k, v in json.loads(x).items() if k != "stream"} for x in other.stdout.decode().splitlines()
        ] == strip


def test_no_kills(logs: dict[str, Path]) -> None:
    result = run("scan", str(logs["11"]))
    assert result.returncode == 0
    assert result.stdout.decode().strip() == "no OOM kills found"
    assert run("scan", "--json", str(logs["11"])).stdout == b""


def test_unreadable_file_exits_2_with_one_line(tmp_path: Path, logs: dict[str, Path]) -> None:
    result = run("scan", str(logs["04"]), str(tmp_path / "missing.log"))
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "missing.log" in err[0] and err[0].startswith("oomwatch: cannot read")


def test_corrupt_gzip_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.log.gz"
    bad.write_bytes(b"this is not gzip")
    result = run("scan", str(bad))
    assert result.returncode == 2 and len(result.stderr.decode().strip().splitlines()) == 1


def test_userspace_killers_read_as_such(tmp_path: Path) -> None:
    path = tmp_path / "oomd.log"
    path.write_text("\n".join(corpus_lines(corpus_file("47"))) + "\n")
    text = run("scan", str(path)).stdout.decode()
    assert "killer      systemd-oomd (memory pressure for /user.slice/user-1001.slice/user@1001.service" in text
    assert "victim      every process of the cgroup" in text
    assert text.rstrip().endswith("1 OOM kill found (1 systemd-oomd) on 1 host")
