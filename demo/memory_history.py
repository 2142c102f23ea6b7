"""The memory history a host's CloudWatch agent would have sent before its kill, written into the emulator.

The kill alerts show ``mem_used_percent`` and ``swap_used_percent`` over the hour before the kill
(:mod:`service.logic.sparkline`); moto has no agent, so the demo (and the handler tests) put what the agent's
configuration (``agent_config.builder``) makes it publish: namespace ``CWAgent``, dimensions ``InstanceId`` and
``host``, one value a minute. The curve is plausible for a host running out of memory: memory climbs from about
55 % to the high 90s, swap fills in the last quarter of the hour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final

from agent_config.builder import AGENT_NAMESPACE

MINUTE_MS: Final = 60_000
#: PutMetricData takes at most 1,000 MetricDatum per call (API reference, PutMetricData: "MetricData ... Maximum
#: of 1000 items"); two metrics of 61 minutes are 122.
PUT_MAX: Final = 1000
#: The demo's hosts peak where its memory alarm fires (``fleet.put_memory_metrics``, ``Demo.fire_alarm``: 97.1 %),
#: so the alarm notice, which reads the newest value, still says 97 %.
DEMO_PEAK: Final = 97.1


def rising_curve(minutes: int = 61, start: float = 55.0, peak: float = 98.0) -> list[float]:
    """Memory use that climbs to ``peak`` at the last minute (the kill), with a little jitter (deterministic)."""
    out = []
    for i in range(minutes):
        share = i / max(1, minutes - 1)
        jitter = ((i * 7919) % 5 - 2) * 0.6
        out.append(round(min(100.0, start + (peak - start) * share**1.6 + jitter * (1 - share)), 1))
    out[-1] = peak
    return out


def swap_curve(minutes: int = 61, fills_from: float = 0.75, peak: float = 40.0) -> list[float]:
    """Swap idle most of the hour, filling in its last quarter."""
    out = []
    for i in range(minutes):
        share = i / max(1, minutes - 1)
        out.append(round(0.0 if share < fills_from else peak * (share - fills_from) / (1 - fills_from), 1))
    return out


def datums(instance_id: str, host: str, kill_ms: int, memory: Sequence[float], swap: Sequence[float]) -> list[Any]:
    """PutMetricData's MetricData: one value a minute, the last at the kill's minute."""
    out: list[dict[str, Any]] = []
    dims = [{"Name": "InstanceId", "Value": instance_id}, {"Name": "host", "Value": host}]
    for name, values in (("mem_used_percent", memory), ("swap_used_percent", swap)):
        for i, value in enumerate(values):
            at = kill_ms - (len(values) - 1 - i) * MINUTE_MS
            out.append(
                {
                    "MetricName": name,
                    "Dimensions": dims,
                    "Timestamp": dt.datetime.fromtimestamp(at / 1000, dt.UTC),
                    "Value": float(value),
                    "Unit": "Percent",
                }
            )
    return out


def put_history(
    cloudwatch: Any,
    instance_id: str,
    kill_ms: int,
    *,
    host: str = "ip-10-0-0-10",
    memory: Sequence[float] | None = None,
    swap: Sequence[float] | None = None,
) -> int:
    """Write the hour before ``kill_ms`` for one instance; returns the datapoints written."""
    data = datums(instance_id, host, kill_ms, rising_curve() if memory is None else memory,
                  swap_curve() if swap is None else swap)  # fmt: skip
    for i in range(0, len(data), PUT_MAX):
        cloudwatch.put_metric_data(Namespace=AGENT_NAMESPACE, MetricData=data[i : i + PUT_MAX])
    return len(data)


def kill_times(batches: Iterable[Any]) -> dict[str, tuple[int, int]]:
    """Stream -> the times of its first and last kill lines (``Killed process``, in syslog or the journal's JSON),
    as played."""
    out: dict[str, tuple[int, int]] = {}
    for batch in batches:
        for event in batch.events:
            if "Killed process" in event.message:
                first, last = out.get(batch.stream, (int(event.timestamp), int(event.timestamp)))
                out[batch.stream] = (min(first, int(event.timestamp)), max(last, int(event.timestamp)))
    return out


def put_before_kills(cloudwatch: Any, batches: Iterable[Any], hosts: Iterable[Any]) -> list[str]:
    """For each seeded host whose stream has a kill, memory history from the hour before its first kill up to its
    last (the kill alerts' sparkline), climbing to :data:`DEMO_PEAK`; a host whose report shows no swap gets 0 %
    swap, as the agent reports it. Returns the instance ids written."""
    by_id = {h.instance_id: h for h in hosts}
    done = []
    for stream, (first_ms, last_ms) in kill_times(batches).items():
        host = by_id.get(stream)
        if host is None:
            continue
        minutes = 61 + (last_ms - first_ms) // MINUTE_MS
        swap = swap_curve(minutes) if host.swap_total_kb else [0.0] * minutes
        memory = rising_curve(minutes, peak=DEMO_PEAK)
        put_history(cloudwatch, host.instance_id, last_ms, host=host.name, memory=memory, swap=swap)
        done.append(host.instance_id)
    return done
