"""`make bench`: every benchmark, each reported as a ratio to a baseline measured in the same run."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = ("bench_scan.py", "bench_handler.py", "bench_adversarial.py", "bench_storm.py", "bench_cold_import.py")

if __name__ == "__main__":
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        try:
            runpy.run_path(str(HERE / name), run_name="__main__")
        except SystemExit as stop:  # a benchmark's own exit must not end the others
            if stop.code not in (None, 0):
                failed.append(name)
    if failed:
        print("benchmarks that failed: " + ", ".join(failed), flush=True)
    sys.exit(1 if failed else 0)
