"""`make bench`: every benchmark, each reported as a ratio to a baseline measured in the same run.

Each benchmark runs in its own interpreter: one's imports, patched clients or boto3 session (moto hooks only the
sessions created after it is imported) must not change what the next one measures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = ("bench_scan.py", "bench_handler.py", "bench_adversarial.py", "bench_storm.py", "bench_cold_import.py")

if __name__ == "__main__":
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print("benchmarks that failed: " + ", ".join(failed), flush=True)
    sys.exit(1 if failed else 0)
