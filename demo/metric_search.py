"""CloudWatch ``SEARCH`` expressions in ``GetMetricData``, which moto 5.2 lacks (its metric math parser fails on them).

The subset OOMWatch uses (:func:`service.dal.cloudwatch.history_search`), evaluated as CloudWatch documents it
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html):

* ``SEARCH('{Namespace,Dim1,Dim2} terms', 'Statistic', Period)``: the schema in braces matches the metrics of that
  namespace whose dimension set is exactly {Dim1, Dim2} (names may be double-quoted);
* terms: ``Name="value"`` (exact match, ``Name`` a dimension or ``MetricName``), grouped with parentheses and
  ``OR``; groups side by side must all hold (AND);
* one result per matching time series, its ``Label`` the query's label with the dynamic labels
  ``${PROP('MetricName')}`` and ``${PROP('Dim.<name>')}`` filled in (else ``<metric> <dimension values>``),
  one value per period the series has data in, the statistic over that period;
* at most 500 time series per expression ("It can return up to 500 time series", CDK's ``SearchExpression``,
  https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_cloudwatch.SearchExpression.html).

Anything else in a SEARCH raises ``ValueError`` (the emulator does not guess). Installed by the demo's
``moto_server`` (``_moto_launcher.py``) and by the handler tests (``tests/handlers/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any

MAX_SERIES = 500
_SEARCH = re.compile(r"""^\s*SEARCH\(\s*'(?P<query>[^']*)'\s*,\s*'(?P<stat>\w+)'\s*(?:,\s*(?P<period>\d+)\s*)?\)\s*$""")
_SCHEMA = re.compile(r"^\s*\{(?P<schema>[^}]*)\}(?P<rest>.*)$")
_TERM = re.compile(r'^(?P<key>[\w.-]+)="(?P<value>[^"]*)"$')
_STATS: dict[str, Callable[[list[float]], float]] = {
    "Maximum": max,
    "Minimum": min,
    "Average": lambda v: sum(v) / len(v),
    "Sum": sum,
    "SampleCount": lambda v: float(len(v)),
}
_lock = threading.Lock()
_installed = False


def is_search(query: dict[str, Any]) -> bool:
    return str(query.get("Expression") or "").lstrip().upper().startswith("SEARCH(")


def _groups(rest: str) -> list[list[tuple[str, str]]]:
    """The AND of OR-groups: ``(A="x" OR A="y") (B="z")`` -> [[(A, x), (A, y)], [(B, z)]]."""
    groups: list[list[tuple[str, str]]] = []
    for raw in re.findall(r'\(([^()]*)\)|(\S+="[^"]*")', rest):
        text = raw[0] or raw[1]
        group = []
        for term in re.split(r"\s+OR\s+", text.strip()):
            m = _TERM.match(term.strip())
            if m is None:
                raise ValueError(f"SEARCH term not supported by the demo emulator: {term!r}")
            group.append((m.group("key"), m.group("value")))
        groups.append(group)
    leftover = re.sub(r'\([^()]*\)|\S+="[^"]*"', "", rest).strip()
    if leftover:
        raise ValueError(f"SEARCH terms not supported by the demo emulator: {leftover!r}")
    return groups


def _label(template: str | None, metric: str, dims: dict[str, str]) -> str:
    if not template:
        return " ".join([metric, *dims.values()])
    text = template.replace("${PROP('MetricName')}", metric)
    return re.sub(r"\$\{PROP\('Dim\.([^']+)'\)\}", lambda m: dims.get(m.group(1), ""), text)


def search(metrics: list[Any], query: dict[str, Any], start: Any, end: Any, scan_by: str) -> list[dict[str, Any]]:
    """The results of one SEARCH query over moto's datapoints (``MetricDatum``: namespace, name, dimensions...)."""
    m = _SEARCH.match(query["Expression"])
    schema_m = _SCHEMA.match(m.group("query")) if m else None
    if m is None or schema_m is None:
        raise ValueError(f"SEARCH not supported by the demo emulator: {query['Expression']}")
    parts = [p.strip().strip('"') for p in schema_m.group("schema").split(",")]
    namespace, schema = parts[0], sorted(parts[1:])
    groups = _groups(schema_m.group("rest"))
    stat = _STATS[m.group("stat")]
    period = int(m.group("period") or query.get("Period") or 300)
    series: dict[tuple[str, tuple[tuple[str, str], ...]], dict[int, list[float]]] = {}
    for datum in metrics:
        if datum.namespace != namespace or not start <= datum.timestamp < end:
            continue
        dims = {d.name: d.value for d in datum.dimensions}
        if sorted(dims) != schema:
            continue
        props = {**dims, "MetricName": datum.name}
        if not all(any(props.get(k) == v for k, v in group) for group in groups):
            continue
        bucket = int(datum.timestamp.timestamp()) // period * period
        key = (datum.name, tuple(sorted(dims.items())))
        series.setdefault(key, {}).setdefault(bucket, []).append(float(datum.value))
    results = []
    for (name, dims_items), buckets in list(series.items())[:MAX_SERIES]:
        stamps = sorted(buckets, reverse=scan_by == "TimestampDescending")
        results.append(
            {
                "id": query["Id"],
                "label": _label(query.get("Label"), name, dict(dims_items)),
                "values": [stat(buckets[t]) for t in stamps],
                "timestamps": [dt.datetime.fromtimestamp(t, dt.UTC) for t in stamps],
                "status_code": "Complete",
            }
        )
    return results


def install() -> None:
    """Make moto's ``CloudWatchBackend.get_metric_data`` (as patched so far) answer SEARCH queries. Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_metric_data

    def get_metric_data(
        self: Any, queries: list[dict[str, Any]], start_time: Any, end_time: Any, scan_by: str = "TimestampAscending"
    ) -> list[dict[str, Any]]:
        searches = [q for q in queries if is_search(q)]
        others = [q for q in queries if not is_search(q)]
        results = original(self, others, start_time, end_time, scan_by) if others else []
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        for query in searches:
            if query.get("ReturnData", True):
                results += search(self.get_all_metrics(), query, start, end, scan_by)
        return results

    get_metric_data.__wrapped__ = original  # type: ignore[attr-defined]
    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]
