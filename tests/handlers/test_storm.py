"""Storm scenario (a) of the benchmark, scaled down: the no-read-back and noise-bound properties in `make test`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_storm import check, scenario_a


def test_fleet_storm_reads_nothing_back_records_every_kill_and_stays_within_the_noise_bound() -> None:
    # GIVEN 50 instances in 5 Auto Scaling groups, each killing one process (a real corpus report per group)
    # within 60 s, one subscription delivery per instance, and the digest schedule running after them
    result = scenario_a(instances=50, asgs=5, within_s=60.0)

    # THEN no FilterLogEvents call, every kill written once, and per group and window at most the first
    # kill, one loop alert and one digest (check() asserts all three and that every publish is counted)
    check(result)
    assert result.kills == 50 and len(result.sink.kill_keys) == 50
    assert result.meter.of("logs") == 0
    assert result.windows == 5 and len(result.sink.fingerprints) == 5
    assert sum(s.startswith("[OOM loop]") for s in result.subjects) == 5
    assert sum(s.startswith("[OOM digest]") for s in result.subjects) == 5
    assert result.messages == 15
