"""`oomwatch scan` as a user runs it: real processes, real files."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from tests.support.corpus import assert_valid, corpus_file, corpus_lines, expected

ROOT = Path(__file__).resolve().parents[3]


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
    # journalctl -o cat names no host: "host unknown", and the file is shown as the input, apart
    assert text.startswith("OOM kill #1: doxygen (pid 473206) on host unknown, time unknown\n")
    assert f"\n  input       {logs['04']}\n" in text
    assert text.rstrip().endswith("1 OOM kill found (1 kernel), host unknown")


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


def test_the_kills_before_a_gzip_breaks_are_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
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
    assert result.stdout.decode().rstrip().endswith("1 OOM kill found (1 kernel), host unknown")
    (err,) = result.stderr.decode().splitlines()
    assert err.startswith(f"oomwatch: cannot read {tmp_path / 'missing.log'}: ")


def test_nothing_readable_exits_2_with_nothing_on_stdout(tmp_path: Path) -> None:
    result = run("scan", str(tmp_path / "missing.log"))
    assert result.returncode == 2 and result.stdout == b""
    assert len(result.stderr.decode().splitlines()) == 1


def test_permission_denied_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
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
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    logs: dict[str, Path],
    module: str,
    kind: str,
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


def test_zstd_is_read_where_python_has_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
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


# --------------------------------------------------------------------------- daily use (issue 11)

SAMPLES = ROOT / "demo" / "samples"
WRITTEN = datetime(2025, 11, 27, 0, 0, tzinfo=UTC).timestamp()  # the samples' day, as if the logs were written then


def scan_cli(*args: str, stdin: bytes | None = None, cwd: Path = ROOT, **env: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``oomwatch ...`` in a child, in UTC unless ``TZ`` is given."""
    r = subprocess.run(
        [sys.executable, "-m", "oomwatch", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin", "TZ": "UTC", **env},
        timeout=60,
    )
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A copy of demo/samples (as demo/samples under the returned directory), last written on the samples' day."""
    root = tmp_path / "checkout"
    (root / "demo" / "samples").mkdir(parents=True)
    for f in SAMPLES.iterdir():
        copy = root / "demo" / "samples" / f.name
        copy.write_bytes(f.read_bytes())
        os.utime(copy, (WRITTEN, WRITTEN))
    return root


def pyproject_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_version_on_stdout_from_both_levels() -> None:
    for args in (["--version"], ["scan", "--version"]):
        rc, out, err = scan_cli(*args)
        assert (rc, out, err) == (0, f"oomwatch {pyproject_version()}\n", ""), args


def test_version_without_the_package_installed_comes_from_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no installed distribution (PYTHONPATH=lambdas on a checkout, as the Makefile and the Lambda run it)
    from importlib import metadata

    from oomwatch import cli

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    # THEN the version is still the project's, from pyproject.toml
    assert cli.version() == pyproject_version()


def test_bare_oomwatch_prints_help_on_stdout_and_exits_0() -> None:
    rc, out, err = scan_cli()
    assert rc == 0 and err == ""
    assert out.startswith("usage: oomwatch ") and "\n    scan " in out and "\n    demo " in out


def test_since_and_until_on_full_timestamps(samples: Path) -> None:
    # The agent's journald JSON carries the kill's time with its zone: 2025-11-26T10:00:00.123892+00:00.
    f = str(samples / "demo/samples/api-1.al2023.agent-journald.jsonl")
    assert scan_cli("scan", "--count", "--since", "2025-11-26T10:00Z", f)[:2] == (0, "1\n")
    assert scan_cli("scan", "--count", "--since", "2025-11-26T10:00:01+00:00", f)[:2] == (1, "0\n")
    assert scan_cli("scan", "--count", "--until", "2025-11-26T10:00:00Z", f)[:2] == (1, "0\n")  # until: before it
    assert scan_cli("scan", "--count", "--until", "2025-11-27", f)[:2] == (0, "1\n")
    # A time without an offset is local time: 11:00 in Paris is 10:00 UTC.
    assert scan_cli("scan", "--count", "--since", "2025-11-26T11:00", f, TZ="Europe/Paris")[:2] == (0, "1\n")
    assert scan_cli("scan", "--count", "--since", "2025-11-26T11:01", f, TZ="Europe/Paris")[:2] == (1, "0\n")
    # The text form says how many kills the filters left out.
    rc, out, _ = scan_cli("scan", "--since", "2025-11-27", f)
    assert (rc, out) == (0, "no OOM kills found (1 more left out by the filters)\n")


def test_classic_syslog_takes_its_year_from_the_file(samples: Path) -> None:
    # worker-1's six kills are stamped Nov 26 10:20:03 ... 10:23:22, with no year; the file was written in 2025.
    f = str(samples / "demo/samples/worker-1.al2.oom-loop.messages")
    assert scan_cli("scan", "--count", "--since", "2025-11-26T10:21", f)[1] == "4\n"
    assert scan_cli("scan", "--count", "--until", "2025-11-26T10:21", f)[1] == "2\n"
    assert scan_cli("scan", "--count", "--since", "2025-11-26T10:21", "--until", "2025-11-26T10:22", f)[1] == "2\n"
    assert scan_cli("scan", "--count", "--since", "2026-01-01", f)[:2] == (1, "0\n")
    # Written at a later time, the same lines are of the year of the write.
    later = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    os.utime(f, (later, later))
    assert scan_cli("scan", "--count", "--since", "2026-11-26T10:21", f)[1] == "4\n"
    assert scan_cli("scan", "--count", "--until", "2026-01-01", f)[:2] == (1, "0\n")


def test_a_log_written_in_january_holds_decembers_kills(tmp_path: Path) -> None:
    # GIVEN the web-1 report stamped Dec 31 23:59, in a file last written on Jan 2 (rotated after new year)
    text = (SAMPLES / "web-1.ubuntu-22.04.syslog").read_text().replace("Nov 26 10:15:0", "Dec 31 23:59:0")
    f = tmp_path / "syslog.1"
    f.write_text(text)
    written = datetime(2026, 1, 2, 6, 25, tzinfo=UTC).timestamp()
    os.utime(f, (written, written))
    # THEN the kill is of the year before the file's
    assert scan_cli("scan", "--count", "--since", "2025-12-31", "--until", "2026-01-01", str(f))[1] == "1\n"
    assert scan_cli("scan", "--count", "--since", "2026-01-01", str(f))[1] == "0\n"


def test_relative_times_count_back_from_now(tmp_path: Path) -> None:
    # GIVEN a syslog whose one kill was an hour ago (the file written now, the stamp in local time: UTC here)
    ago = datetime.now(UTC) - timedelta(hours=1)
    month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][ago.month - 1]
    stamp = f"{month} {ago.day:2d} {ago:%H:%M:%S}"
    f = tmp_path / "syslog"
    f.write_text((SAMPLES / "web-1.ubuntu-22.04.syslog").read_text().replace("Nov 26 10:15:01", stamp))
    # THEN 2h and 90m reach it, 30m and 1h-less-a-minute do not
    for since, count in (("2h", "1\n"), ("90m", "1\n"), ("1d", "1\n"), ("1w", "1\n"), ("30m", "0\n"), ("59m", "0\n")):
        assert scan_cli("scan", "--count", "--since", since, str(f))[1] == count, since
    assert scan_cli("scan", "--count", "--until", "30m", str(f))[1] == "1\n"


def test_kills_without_a_calendar_time_are_kept_and_counted_on_stderr(logs: dict[str, Path]) -> None:
    # 04 is journalctl -o cat (no time at all), 26 is dmesg (uptime only): no filter can place them.
    rc, out, err = scan_cli("scan", "--count", "--since", "1h", str(logs["04"]), str(logs["26"]))
    n = 1 + len(expected(corpus_file("26")))
    assert (rc, out) == (0, f"{n}\n")
    assert err == (
        f"oomwatch: note: {n} kills without a calendar time (dmesg without -T, a stamp in another language) kept"
        " by --since/--until\n"
    )
    # Without a time filter there is nothing to say.
    assert scan_cli("scan", "--count", "--process", "doxygen", str(logs["04"]))[1:] == ("1\n", "")


@pytest.mark.parametrize("value", ["yesterday", "2h ago", "-2h", "26/11/2025", "2025-13-01", ""])
def test_a_bad_time_is_a_usage_error(value: str, logs: dict[str, Path]) -> None:
    rc, out, err = scan_cli("scan", f"--since={value}", str(logs["04"]))
    assert rc == 2 and out == ""
    assert err.splitlines()[-1] == (
        f"oomwatch scan: error: argument --since: {value!r}: expected an ISO 8601 date or time (2025-11-26,"
        " 2025-11-26T10:15) or a time ago (30m, 2h, 7d)"
    )


def test_host_and_process_filters(samples: Path, logs: dict[str, Path]) -> None:
    files = [str(p) for p in sorted((samples / "demo/samples").glob("*")) if p.suffix != ".json"]
    assert scan_cli("scan", "--count", *files)[1] == "8\n"
    assert scan_cli("scan", "--count", "--host", "web-1", *files)[1] == "1\n"
    assert scan_cli("scan", "--count", "--host", "web", *files)[1] == "0\n"  # exact unless a glob says otherwise
    assert scan_cli("scan", "--count", "--host", "ip-10-0-*", *files)[1] == "7\n"
    assert scan_cli("scan", "--count", "--host", "ip-10-0-[13]-*", *files)[1] == "7\n"
    assert scan_cli("scan", "--count", "--host", "*.ec2.internal", *files)[1] == "1\n"
    assert scan_cli("scan", "--count", "--process", "cel*", *files)[1] == "6\n"
    assert scan_cli("scan", "--count", "--process", "php-fpm", "--host", "ip-*", *files)[1] == "0\n"
    assert scan_cli("scan", "--count", "--process", "PHP-FPM", *files)[1] == "0\n"  # comm is case-sensitive
    # A kill whose log names no host never matches --host, not even '*'.
    assert scan_cli("scan", "--count", "--host", "*", str(logs["04"]), *files)[1] == "8\n"
    # Filters apply to every output form.
    rc, out, _ = scan_cli("scan", "--json", "--process", "java", *files)
    assert rc == 0 and [json.loads(x)["victim"]["comm"] for x in out.splitlines()] == ["java"]
    rc, out, _ = scan_cli("scan", "--process", "java", *files)
    assert out.count("OOM kill #") == 1 and out.endswith("(7 more left out by the filters)\n")


def test_summary_is_a_table_by_host_and_process(samples: Path) -> None:
    files = [str(p) for p in sorted((samples / "demo/samples").glob("*")) if p.suffix != ".json"]
    rc, out, err = scan_cli("scan", "--summary", *files)
    assert rc == 0 and err == ""
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["host", "process", "kills", "max", "RSS", "first", "last"]
    assert rows[1:4] == [
        ["ip-10-0-1-23.ec2.internal", "java", "1", "2.0", "GiB", "11-26", "10:00", "11-26", "10:00"],
        ["ip-10-0-3-57", "celery", "6", "1.7", "GiB", "11-26", "10:20", "11-26", "10:23"],
        ["web-1", "php-fpm", "1", "716.9", "MiB", "11-26", "10:15", "11-26", "10:15"],
    ]
    assert out.splitlines()[4:] == ["times are local (UTC), all in 2025"]
    # The largest RSS is the largest of the six celery kills (1,814,220 kB), not the first or last one's.
    assert max(json.loads(x)["victim"]["rss_kb"] for x in scan_cli("scan", "--json", files[2])[1].splitlines()) == (
        1814220
    )


def test_summary_spanning_years_shows_dates(samples: Path) -> None:
    f = samples / "demo/samples/web-1.ubuntu-22.04.syslog"
    later = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    os.utime(f, (later, later))
    out = scan_cli("scan", "--summary", str(f), str(samples / "demo/samples/api-1.al2023.agent-journald.jsonl"))[1]
    assert "2025-11-26  2025-11-26" in out and "2026-11-26  2026-11-26" in out
    assert out.splitlines()[-1] == "times are local (UTC)"


def test_summary_fits_78_columns_and_shortens_long_names(tmp_path: Path) -> None:
    # GIVEN a host name of 63 characters (a DNS label's limit) and systemd-oomd's 53-character scope names
    long_host = "build-runner-" + "x" * 40 + "-eu-west-1"
    f = tmp_path / "syslog"
    f.write_text((SAMPLES / "web-1.ubuntu-22.04.syslog").read_text().replace(" web-1 ", f" {long_host} "))
    oomd = tmp_path / "oomd.log"
    oomd.write_text("\n".join(corpus_lines(corpus_file("47"))) + "\n")
    out = scan_cli("scan", "--summary", str(f), str(oomd))[1]
    lines = out.splitlines()
    assert max(map(len, lines)) <= 78, lines
    # THEN both names keep their start and end around an ellipsis
    (host_row,) = [line for line in lines if line.startswith("build-runne")]
    assert "\u2026" in host_row.split()[0] and host_row.split()[0].endswith("est-1")
    (oomd_row,) = [line for line in lines if line.startswith("user-desktop")]
    assert oomd_row.split()[1].startswith("vte-spawn") and oomd_row.split()[1].endswith("scope")
    assert "\u2026" in oomd_row.split()[1]


def test_summary_of_two_dmesg_files_is_two_inputs_not_one_host(logs: dict[str, Path]) -> None:
    out = scan_cli("scan", "--summary", str(logs["04"]), str(logs["11"]), str(logs["26"]))[1]
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["(04.log)", "doxygen", "1"]
    assert lines[2].split()[:3] == ["(26.log)", "uwsgi", str(len(expected(corpus_file("26"))))]
    assert lines[-1] == "(file): host unknown, read from that input"
    # No time at all in these inputs: '?', and no line about times
    assert lines[1].split()[-2:] == ["?", "?"] and not any(x.startswith("times are") for x in lines)


def test_inputs_without_a_host_name_say_host_unknown(logs: dict[str, Path]) -> None:
    out = scan_cli("scan", str(logs["04"]), str(logs["26"]))[1]
    heads = [line for line in out.splitlines() if line.startswith("OOM kill #")]
    assert heads and all(" on host unknown, " in h for h in heads)
    inputs = [line.split(maxsplit=1)[1] for line in out.splitlines() if line.startswith("  input ")]
    assert inputs == [str(logs["04"])] + [str(logs["26"])] * len(expected(corpus_file("26")))
    n = len(heads)
    assert out.endswith(f"\n{n} OOM kills found ({n} kernel), host unknown\n")  # not "on 2 hosts"
    # Mixed with a host that is named: that host counts, the others are said apart.
    out = scan_cli("scan", str(logs["04"]), str(SAMPLES / "web-1.ubuntu-22.04.syslog"))[1]
    assert out.endswith("\n2 OOM kills found (2 kernel) on 1 host, 1 with host unknown\n")
    assert "OOM kill #2: php-fpm (pid 48213) on web-1, Nov 26 10:15:01" in out


def test_quiet_and_count_exit_like_grep(tmp_path: Path, logs: dict[str, Path]) -> None:
    kills, none, missing = str(logs["04"]), str(logs["11"]), str(tmp_path / "missing.log")
    assert scan_cli("scan", "-q", kills)[:2] == (0, "")
    assert scan_cli("scan", "--quiet", none)[:2] == (1, "")
    assert scan_cli("scan", "-q", missing)[:2] == (2, "")
    assert scan_cli("scan", "-q", missing, none)[:2] == (2, "")
    assert scan_cli("scan", "-q", missing, kills)[:2] == (0, "")  # grep -q: a match wins over an error
    assert scan_cli("scan", "--count", kills)[:2] == (0, "1\n")
    assert scan_cli("scan", "--count", none)[:2] == (1, "0\n")
    assert scan_cli("scan", "--count", missing, kills)[:2] == (2, "1\n")  # grep -c: an error is 2
    assert scan_cli("scan", "-q", "--process", "nope", kills)[:2] == (1, "")
    # The errors still go to stderr, one line each.
    assert scan_cli("scan", "-q", missing, kills)[2].startswith(f"oomwatch: cannot read {missing}: ")
    # Plain scan keeps its documented status: 0 kills or not.
    assert scan_cli("scan", none)[0] == 0 and scan_cli("scan", "--summary", none)[:2] == (0, "no OOM kills found\n")
    # One output form at a time: a usage error, 2.
    rc, out, err = scan_cli("scan", "--count", "--json", kills)
    assert rc == 2 and out == "" and "not allowed with argument" in err


def run_on_a_terminal(*args: str, **env: str) -> bytes:
    """stdout of ``oomwatch ...`` when it is a terminal (a pseudo-terminal), in UTC."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "oomwatch", *args],
            stdout=follower,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin", "TZ": "UTC", **env},
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
        return b"".join(chunks)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_colour_only_on_a_terminal_and_never_with_no_color(logs: dict[str, Path]) -> None:
    f = str(SAMPLES / "web-1.ubuntu-22.04.syslog")
    bold = b"\x1b[1mOOM kill #1: php-fpm (pid 48213) on web-1"
    assert bold in run_on_a_terminal("scan", f)
    assert b"\x1b[1mhost " in run_on_a_terminal("scan", "--summary", f)
    assert b"\x1b" not in run_on_a_terminal("scan", f, NO_COLOR="1")
    assert b"\x1b" not in run_on_a_terminal("scan", f, TERM="dumb")
    assert b"\x1b" not in run_on_a_terminal("scan", "--color=never", f)
    assert bold in run_on_a_terminal("scan", f, NO_COLOR="")  # set but empty: no-color.org says ignore it
    assert bold in run_on_a_terminal("scan", "--color=always", f, NO_COLOR="1")  # the command line wins
    # A pipe: none, unless asked for; JSON never.
    assert "\x1b" not in scan_cli("scan", f)[1]
    assert bold.decode() in scan_cli("scan", "--color=always", f)[1]
    assert b"\x1b" not in run_on_a_terminal("scan", "--json", "--color=always", f)
    # The warning lines are yellow (04: a user session, complete; 26's second kill has notes).
    text = run_on_a_terminal("scan", str(logs["26"])).decode()
    assert "\x1b[33m  note " in text or "\x1b[33m  complete    no" in text


def readme_examples() -> list[tuple[str, str]]:
    """(command, output) of each fenced block in the README's `oomwatch scan` section that starts with ``$ ``."""
    text = (ROOT / "README.md").read_text()
    start = text.index("## `oomwatch scan`")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = section.split("```")[1::2]
    out = []
    for block in blocks:
        lines = block.strip("\n").split("\n")
        if lines[0].startswith("$ oomwatch "):
            out.append((lines[0][2:], "\n".join(lines[1:]) + "\n"))
    return out


def test_the_readme_examples_are_what_the_command_prints(samples: Path) -> None:
    # GIVEN the README's examples, run as written (the shell expands the glob) on the samples as last written on
    # their day, in UTC, as the README says
    examples = readme_examples()
    assert [c.split()[:3] for c, _ in examples] == [
        ["oomwatch", "scan", "demo/samples/web-1.ubuntu-22.04.syslog"],
        ["oomwatch", "scan", "--summary"],
    ]
    for command, shown in examples:
        script = f"{shlex.quote(sys.executable)} -m {command}"
        result = subprocess.run(
            ["/bin/sh", "-c", script],
            capture_output=True,
            cwd=samples,
            env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin", "TZ": "UTC", "LC_ALL": "C"},
            timeout=60,
        )
        # THEN each prints exactly what the README shows
        assert result.returncode == 0 and result.stderr == b"", result.stderr
        assert result.stdout.decode() == shown, command


def test_dmesg_T_times_are_read_in_this_machines_zone(tmp_path: Path) -> None:
    # GIVEN dmesg -T output (corpus 12: "[Thu Dec  7 00:05:15 2017]", the local time of the host that printed it)
    f = tmp_path / "dmesg-T.txt"
    f.write_text("\n".join(corpus_lines(corpus_file("12"))) + "\n")
    assert scan_cli("scan", "--count", "--since", "2017-12-07", "--until", "2017-12-08", str(f))[1] == "1\n"
    # THEN in New York (UTC-5 in December) that is 05:05:15 UTC
    assert scan_cli("scan", "--count", "--since", "2017-12-07T05:05Z", str(f), TZ="America/New_York")[1] == "1\n"
    assert scan_cli("scan", "--count", "--since", "2017-12-07T05:06Z", str(f), TZ="America/New_York")[1] == "0\n"
    assert scan_cli("scan", "--summary", str(f), TZ="America/New_York")[1].splitlines() == [
        "host           process  kills    max RSS  first        last",
        "(dmesg-T.txt)  java         1  468.6 MiB  12-07 00:05  12-07 00:05",
        "times are local (EST), all in 2017",
        "(file): host unknown, read from that input",
    ]


def test_kill_time_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    from oomwatch.event import OomEvent
    from oomwatch.filters import kill_time

    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        ref = datetime(2025, 3, 1, 12, tzinfo=UTC)
        # Feb 29 cannot be of 2025: the leap year before it is
        assert kill_time(cast(OomEvent, {"log_time": "Feb 29 10:00:00"}), ref) == datetime(2024, 2, 29, 10, tzinfo=UTC)
        # A day after the write is still this year (clocks differ); more is last year's
        assert kill_time(cast(OomEvent, {"log_time": "Mar  2 11:00:00"}), ref) == datetime(2025, 3, 2, 11, tzinfo=UTC)
        assert kill_time(cast(OomEvent, {"log_time": "Mar  3 11:00:00"}), ref) == datetime(2024, 3, 3, 11, tzinfo=UTC)
        # A full timestamp wins over the stamp as printed, whatever the reference
        event = cast(OomEvent, {"timestamp": "2020-01-02T03:04:05.678+00:00", "log_time": "Nov 26 10:15:01"})
        assert kill_time(event, ref) == datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
        # Stamps that name no calendar time in English: not placed
        for text in ("déc. 06 23:54:11", "Dez 06 23:54:11", "Oct28 16:58", "Foo 12 10:00:00", "Nov 31 10:00:00"):
            assert kill_time(cast(OomEvent, {"log_time": text}), ref) is None, text
        assert kill_time(cast(OomEvent, {"log_time": None, "timestamp": None, "uptime_s": 12.5}), ref) is None
    finally:
        monkeypatch.undo()  # TZ as it was, then the C library told so
        time.tzset()
