"""Benchmark: the costliest crafted line of 64 KiB against 64 KiB of ordinary syslog noise, in the same run.

Every adversarial shape of ``tests/support/adversarial.py`` (kernel text after each prefix the parser recognises,
fed as a classic syslog kernel line inside an open report, and whole lines the transport sees first: long hosts,
padded stamps, ``#012`` storms, journal JSON) is built at 64 KiB and fed to ``OomParser``. The baseline is the
same number of bytes of ordinary daemon and kernel noise (about 650 lines). Best of N CPU times each, the
collector off; the figure is the slowest shape's ratio to the baseline (target: at most 3).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "lambdas", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.support.adversarial import (  # noqa: E402
    KIB,
    LINE_SHAPES,
    OPEN_HEADER,
    OPEN_SUMMARY,
    SHAPES,
    as_syslog,
    cpu_seconds,
    noise,
)

SIZE = 64 * KIB
ROUNDS = 7
TARGET = 3.0


def main() -> int:
    base_lines = noise(SIZE)
    base = cpu_seconds(base_lines, repeats=ROUNDS)
    lead = [as_syslog(OPEN_HEADER), as_syslog(OPEN_SUMMARY)]
    results: list[tuple[float, str, int]] = []
    for name, make in SHAPES.items():
        line = as_syslog(make(SIZE))
        results.append((cpu_seconds([line], lead=lead, repeats=ROUNDS) / base, f"kernel text: {name}", len(line)))
    for name, make in LINE_SHAPES.items():
        line = make(SIZE)
        results.append((cpu_seconds([line], repeats=ROUNDS) / base, f"whole line: {name}", len(line)))
    results.sort(reverse=True)
    print(f"baseline: {len(base_lines)} lines of syslog noise, {sum(map(len, base_lines))} bytes, {base * 1e3:.2f} ms")
    for ratio, name, size in results[:8]:
        print(f"  {ratio:5.2f}x  {name} ({size} bytes)")
    worst = results[0]
    verdict = "met" if worst[0] <= TARGET else "MISSED"
    print(f"slowest adversarial 64 KiB line / 64 KiB of noise: {worst[0]:.2f}x (target <= {TARGET}: {verdict})")
    print(f"{len(results)} shapes measured; the fastest: {results[-1][0]:.2f}x ({results[-1][1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
