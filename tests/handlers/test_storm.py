"""Storm scenario (a) of the benchmark, scaled down: the no-read-back and noise-bound properties in `make test`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_storm import check, scenario_a


def test_fleet_storm_reads_nothing_back_records_every_kill_and_stays_within_the_noise_bound() -> None:
    # GIVEN 50 instances in 5 Auto Scaling groups, each killing one process (a real corpus report per group)
    # within 60 s, one subscription delivery per instance, every 10th report split across two deliveries,
    # and the digest schedule running after them
    result = scenario_a(instances=50, asgs=5, within_s=60.0, split_every=10)

    # THEN no FilterLogEvents call, every kill written once, and per group and window at most the first
    # kill, one loop alert and one digest (check() asserts all three and that every publish is counted)
    check(result)
    assert result.kills == 50 and len(result.sink.kill_keys) == 50
    assert result.meter.of("logs") == 0
    assert result.sink.contexts["stashed"] == 5  # the split reports were joined from the stash, not read back
    assert result.windows == 5 and len(result.sink.fingerprints) == 5
    assert sum(s.startswith("[OOM loop]") for s in result.subjects) == 5
    assert sum(s.startswith("[OOM digest]") for s in result.subjects) == 5
    assert result.messages == 15


def test_the_storm_meter_sees_read_backs_where_the_mode_needs_them() -> None:
    # GIVEN the same storm, smaller, in log_mode=kernel (the handler reads split reports back from the group)
    result = scenario_a(instances=10, asgs=5, within_s=60.0, split_every=5, log_mode="kernel")

    # THEN the meter counts the two FilterLogEvents calls, and check() would fail on them
    assert result.meter.of("logs", "FilterLogEvents") == 2
    assert len(result.sink.kill_keys) == 10
    try:
        check(result)
    except AssertionError as exc:
        assert "FilterLogEvents" in str(exc)
    else:
        raise AssertionError("check() accepted FilterLogEvents calls")
