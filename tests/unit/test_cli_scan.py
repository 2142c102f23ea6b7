"""`oomwatch scan` as a user runs it: real processes, real files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def strip_stream(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    return [{k: v for k, v in json.loads(x).items() if k != "stream"} for x in result.stdout.decode().splitlines()]


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


def test_a_bad_file_never_hides_the_good_ones(tmp_path: Path, logs: dict[str, Path]) -> None:
    # Missing, a directory, corrupt mid-stream (a gzip cut short, a gzip with a flipped byte), a zstd file: one line
    # on stderr each, naming it; the kills of the good files before and after them are reported; exit status 2.
    noise = b"".join(b"Nov 26 10:00:00 web-1 sshd[%d]: Connection closed by 10.0.0.1\n" % i for i in range(50_000))
    packed = gzip.compress(logs["26"].read_bytes() + noise)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    flipped = bytearray(gzip.compress(noise))
    flipped[len(flipped) // 2] ^= 0xFF
    bad = tmp_path / "flipped.log.gz"
    bad.write_bytes(bytes(flipped))
    zst = tmp_path / "x.log.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(100))
    missing, directory = tmp_path / "missing.log", tmp_path / "a-directory"
    directory.mkdir()
    bads = [missing, directory, cut, bad, zst]
    result = run("scan", "--json", str(logs["04"]), *map(str, bads), str(logs["32"]))
    assert result.returncode == 2
    events = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [e["stream"] for e in events] == [str(logs["04"])] + [str(logs["32"])] * len(expected(corpus_file("32")))
    err = result.stderr.decode().splitlines()
    assert len(err) == len(bads), err
    for path, line in zip(bads, err, strict=True):
        assert line.startswith(f"oomwatch: cannot read {path}: "), line
    assert "No such file" in err[0] and "directory" in err[1].lower()
    assert err[4].endswith("zstd-compressed, not supported: decompress with zstd -d first")


def test_the_kills_before_a_gzip_breaks_are_kept(monkeypatch, capsys, tmp_path: Path, logs: dict[str, Path]) -> None:
    # What was read in the blocks before a gzip broke is scanned to its end (small blocks stand in for a big file).
    from oomwatch import cli
    from oomwatch import scanner as sc

    monkeypatch.setattr(sc, "BLOCK", 64 << 10)
    noise = b"".join(b"Nov 26 10:00:00 web-1 sshd[%d]: Connection closed by 10.0.0.1\n" % i for i in range(50_000))
    packed = gzip.compress(logs["26"].read_bytes() + noise)
    cut = tmp_path / "cut.log"
    cut.write_bytes(packed[: len(packed) // 2])
    assert cli.main(["scan", "--json", str(cut)]) == 2
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(expected(corpus_file("26")))
    assert err == f"oomwatch: cannot read {cut}: Compressed file ended before the end-of-stream marker was reached\n"


def test_the_readable_report_still_comes_after_a_bad_file(tmp_path: Path, logs: dict[str, Path]) -> None:
    result = run("scan", str(tmp_path / "missing.log"), str(logs["04"]))
    assert result.returncode == 2
    assert "OOM kill #1: doxygen (pid 473206)" in result.stdout.decode()
    assert result.stdout.decode().rstrip().endswith("1 OOM kill found (1 kernel) on 1 host")
    (err,) = result.stderr.decode().splitlines()
    assert err.startswith(f"oomwatch: cannot read {tmp_path / 'missing.log'}: ")


def test_nothing_readable_exits_2_with_nothing_on_stdout(tmp_path: Path) -> None:
    result = run("scan", str(tmp_path / "missing.log"))
    assert result.returncode == 2 and result.stdout == b""
    assert len(result.stderr.decode().splitlines()) == 1


def test_permission_denied_is_one_line(monkeypatch, capsys, tmp_path: Path, logs: dict[str, Path]) -> None:
    # Simulated in-process (the tests may run as root, who reads any file): open() raising as for mode 000.
    from oomwatch import cli

    locked = tmp_path / "locked.log"
    locked.write_text("x\n")
    real_open = open

    def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(cli, "open", guarded, raising=False)
    assert cli.main(["scan", "--json", str(locked), str(logs["04"])]) == 2
    out, err = capsys.readouterr()
    assert err == f"oomwatch: cannot read {locked}: Permission denied\n"
    assert [json.loads(line)["victim"]["comm"] for line in out.splitlines()] == ["doxygen"]


@pytest.mark.parametrize("kind", ["gz", "xz", "bz2"])
def test_compressed_inputs_are_told_by_their_magic_bytes(tmp_path: Path, logs: dict[str, Path], kind: str) -> None:
    import bz2
    import lzma

    plain = logs["32"].read_bytes()
    packed = {"gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}[kind](plain)
    misnamed = tmp_path / "32.log"  # no suffix says it is compressed
    misnamed.write_bytes(packed)
    want = strip_stream(run("scan", "--json", str(logs["32"])))
    assert want
    for result in (run("scan", "--json", str(misnamed)), run("scan", "--json", "-", stdin=packed)):
        assert result.returncode == 0, result.stderr
        assert strip_stream(result) == want


def test_a_plain_file_named_gz_is_read_as_plain(tmp_path: Path, logs: dict[str, Path]) -> None:
    named = tmp_path / "32.log.gz"
    named.write_bytes(logs["32"].read_bytes())
    result = run("scan", "--json", str(named))
    assert result.returncode == 0 and strip_stream(result) == strip_stream(run("scan", "--json", str(logs["32"])))


def test_a_small_pipe_is_read_whole() -> None:
    # Fewer bytes than the magic-byte probe reads.
    assert run("scan", "-", stdin=b"x\n").stdout.decode().strip() == "no OOM kills found"
    assert run("scan", "-", stdin=b"").returncode == 0


@pytest.mark.parametrize(("module", "kind"), [("lzma", "xz"), ("bz2", "bzip2")])
def test_a_compressor_this_python_lacks_is_one_clear_line(
    monkeypatch, capsys, tmp_path: Path, logs: dict[str, Path], module: str, kind: str
) -> None:
    import bz2
    import lzma

    from oomwatch import cli

    path = tmp_path / "syslog"
    path.write_bytes({"lzma": lzma.compress, "bz2": bz2.compress}[module](b"x\n"))
    monkeypatch.setitem(sys.modules, module, None)  # what a Python built without it does on import
    assert cli.main(["scan", str(path), str(logs["04"])]) == 2
    out, err = capsys.readouterr()
    assert err == (
        f"oomwatch: cannot read {path}: {kind}-compressed, and this Python has no {module} module: decompress it"
        f" first ({kind} -dc {path} | oomwatch scan)\n"
    )
    assert "OOM kill #1: doxygen" in out


def test_zstd_is_read_where_python_has_it(monkeypatch, capsys, tmp_path: Path, logs: dict[str, Path]) -> None:
    # Python 3.14's compression.zstd, stood in for by a module whose ZstdFile "decompresses" by dropping the magic.
    import io
    import types

    from oomwatch import cli

    class ZstdFile(io.BufferedReader):
        def __init__(self, fh: Any) -> None:
            fh.read(4)
            super().__init__(fh)

    zstd = types.ModuleType("compression.zstd")
    zstd.ZstdFile = ZstdFile  # type: ignore[attr-defined]
    zstd.ZstdError = type("ZstdError", (Exception,), {})  # type: ignore[attr-defined]
    compression = types.ModuleType("compression")
    compression.zstd = zstd  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "compression", compression)
    monkeypatch.setitem(sys.modules, "compression.zstd", zstd)
    path = tmp_path / "04.log.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + logs["04"].read_bytes())
    assert cli.main(["scan", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "OOM kill #1: doxygen" in out


def test_userspace_killers_read_as_such(tmp_path: Path) -> None:
    path = tmp_path / "oomd.log"
    path.write_text("\n".join(corpus_lines(corpus_file("47"))) + "\n")
    text = run("scan", str(path)).stdout.decode()
    assert "killer      systemd-oomd (memory pressure for /user.slice/user-1001.slice/user@1001.service" in text
    assert "victim      every process of the cgroup" in text
    assert text.rstrip().endswith("1 OOM kill found (1 systemd-oomd) on 1 host")
