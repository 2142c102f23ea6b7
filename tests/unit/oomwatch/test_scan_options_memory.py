"""The new ``oomwatch scan`` options hold no more than ``--json`` does (issue 11): measured in real children.

``scan`` holds each kill found until the end (the parser's, about 3 KB each: README, "Memory stays bounded").
``--summary`` adds counters per (host, process), ``--count``/``-q`` one number, and the filters nothing; each
event is let go once counted. So on 10,000 kills over 50 hosts, none of them may peak above ``--json``'s peak by
more than a small slack (what a copy of the kills would cost is many times that: ~40 MiB here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MiB = 1 << 20
SLACK = 4 * MiB

CHILD = """
import sys
from oomwatch.cli import main
rc = main(["scan", *sys.argv[1:]])
sys.stdout.flush()
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
sys.stderr.write("maxrss_kb=%d\\n" % peak)
sys.exit(rc)
"""


def peak(*args: str) -> int:
    """Peak RSS in bytes (VmHWM: the child's own, not its parent's carried over fork) of ``oomwatch scan ARGS``."""
    r = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "lambdas"), "PATH": "/usr/bin:/bin", "TZ": "UTC"},
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    (line,) = [x for x in r.stderr.decode().splitlines() if x.startswith("maxrss_kb=")]
    return int(line.split("=")[1]) * 1024


@pytest.fixture(scope="module")
def many_kills(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 kernel kill lines (5.x layout), 200 distinct pids on each of 50 hosts."""
    lines = [
        f"Nov 26 10:{i // 60:02d}:{i % 60:02d} web-{h} kernel: [{1000 + i * 70}.000000] Out of memory: Killed"
        f" process {1000 + i} (php-fpm) total-vm:1048576kB, anon-rss:{700000 + i}kB, file-rss:10240kB,"
        " shmem-rss:2048kB, UID:33 pgtables:1600kB oom_score_adj:0"
        for h in range(50)
        for i in range(200)
    ]
    path = tmp_path_factory.mktemp("many") / "syslog"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_new_options_hold_no_more_than_json(many_kills: Path) -> None:
    f = str(many_kills)
    idle = peak("--json", "/dev/null")
    json_peak = peak("--json", f)
    assert json_peak - idle > 20 * MiB  # the kills are held: the measure sees them
    for args in (
        ["--summary"],
        ["--count"],
        ["-q"],
        ["--summary", "--since", "2025-11-26T10:30", "--host", "web-1*", "--process", "php*"],
        ["--since", "2025-11-26T10:30", "--until", "2025-11-26T10:40", "--host", "web-1*"],
    ):
        got = peak(*args, f)
        assert got <= json_peak + SLACK, (args, (got - json_peak) / MiB)
