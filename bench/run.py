"""`make bench`: every benchmark, each reported as a ratio to a baseline measured in the same run."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for name in ("bench_scan.py", "bench_handler.py", "bench_adversarial.py", "bench_storm.py"):
        path = HERE / name
        if path.exists():
            print(f"== {name}", flush=True)
            runpy.run_path(str(path), run_name="__main__")
    sys.exit(0)
