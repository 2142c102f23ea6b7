"""Benchmark: `oomwatch scan --json` on a generated 100 MB syslog against a plain line loop, in the same run.

The file is ordinary daemon noise with whole real OOM reports (the corpus in tests/corpus, re-prefixed as classic
syslog) at about 0.1% of lines. The baseline is the least any scanner must do in pure Python: read the file line
by line and test each line for "Killed process". Both run as fresh interpreters, best of N, interleaved; the
figure is the ratio (target: at most 1.0).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas"))

from excerpts import kernel_excerpts  # noqa: E402

OUT = ROOT / "bench" / "out"
SIZE = 100_000_000
OOM_LINE_SHARE = 0.001

NOISE = [
    "sshd[{pid}]: Accepted publickey for ubuntu from 10.0.{a}.{b} port {port} ssh2: RSA SHA256:q8fW1kzYb0",
    "CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "systemd[1]: Started Session {port} of User ubuntu.",
    "systemd[1]: session-{port}.scope: Deactivated successfully.",
    "dhclient[{pid}]: DHCPACK of 10.0.{a}.{b} from 10.0.0.1 (xid=0x5d2c{a:02x})",
    'nginx[{pid}]: 10.0.{a}.{b} - - "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"',
    "php-fpm[{pid}]: [WARNING] [pool www] server reached pm.max_children setting (32), consider raising it",
    "kernel: [{up}] EXT4-fs (nvme1n1): mounted filesystem with ordered data mode. Quota mode: none.",
    "amazon-ssm-agent[{pid}]: 2026-11-26 10:00:00 INFO [MessageService] [Association] No associations on boot.",
    "systemd-resolved[{pid}]: Using degraded feature set UDP instead of UDP+EDNS0 for DNS server 10.0.0.2.",
]


def generate(path: Path, size: int = SIZE, seed: int = 7) -> int:
    rnd = random.Random(seed)
    reports = kernel_excerpts()
    kills = 0
    written = 0
    up = 1000.0
    with path.open("w", encoding="utf-8") as fh:
        lines_out = 0
        oom_lines = 0
        while written < size:
            up += 0.01
            day, hour, minute, sec = rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)
            stamp = f"Nov {day:2d} {hour:02d}:{minute:02d}:{sec:02d}"
            if oom_lines < lines_out * OOM_LINE_SHARE:
                report = rnd.choice(reports)
                host = f"db-{kills}"  # a host of its own: the same kill twice on one host is one kill
                for text in report:
                    line = f"{stamp} {host} kernel: [{up:12.6f}] {text}\n"
                    fh.write(line)
                    written += len(line)
                oom_lines += len(report)
                lines_out += len(report)
                kills += 1
                continue
            tpl = rnd.choice(NOISE)
            msg = tpl.format(
                pid=rnd.randint(300, 99999),
                a=rnd.randint(0, 255),
                b=rnd.randint(1, 254),
                port=rnd.randint(1024, 65535),
                up=f"{up:12.6f}",
            )
            line = f"{stamp} web-{rnd.randint(1, 9)} {msg}\n"
            fh.write(line)
            written += len(line)
            lines_out += 1
    return kills


BASELINE = (
    "import sys\n"
    "n = 0\n"
    "with open(sys.argv[1], encoding='utf-8', errors='replace') as f:\n"
    "    for line in f:\n"
    "        if 'Killed process' in line:\n"
    "            n += 1\n"
    "print(n)\n"
)


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, out


def main(repeats: int = 5) -> dict[str, float]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "syslog-100mb.log"
    if not path.exists() or path.stat().st_size < SIZE:
        print(f"generating {path} ...", file=sys.stderr)
        generate(path)
    py = sys.executable
    # The installed console script, as a user runs it; compiled like any pip-installed package.
    cli = str(Path(py).with_name("oomwatch"))
    subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "lambdas" / "oomwatch")], check=True)
    base_times, scan_times = [], []
    kills_base = kills_scan = 0
    for _ in range(repeats):
        t, out = timed([py, "-c", BASELINE, str(path)])
        base_times.append(t)
        kills_base = int(out.strip())
        t, out = timed([cli, "scan", "--json", str(path)])
        scan_times.append(t)
        kills_scan = len(out.splitlines())
    base, scan = min(base_times), min(scan_times)
    ratio = scan / base
    size_mb = path.stat().st_size / 1e6
    print(
        f"scan_100mb: ratio={ratio:.2f} (target ≤ 1.0)  oomwatch scan --json {scan:.3f}s vs line loop {base:.3f}s"
        f" on {size_mb:.0f} MB; kill lines {kills_base}, events {kills_scan}"
    )
    return {"scan_ratio": ratio}


if __name__ == "__main__":
    main()
