"""Builds the handlers' collaborators once per container (lazily, on the first invocation) and
adapts Powertools' Logger and Metrics to the small Telemetry interface the pipeline uses.
"""

from __future__ import annotations

import os
import time
from typing import Any

from alerting.settings import from_env
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from handlers.aws import Clients
from handlers.ec2 import InstanceDirectory
from handlers.logs import ContextFetcher
from handlers.pipeline import Runtime, Telemetry
from handlers.sns import Publisher
from handlers.state import DynamoState, MemoryState


class PowertoolsTelemetry:
    """Structured JSON logs (the events log group) and EMF metrics with bounded dimensions."""

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self._logger = logger
        self._metrics = metrics

    def event(self, record: dict[str, Any]) -> None:
        self._logger.info("oom_kill", extra=record)

    def info(self, message: str, **fields: Any) -> None:
        self._logger.info(message, extra=fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._logger.warning(message, extra=fields)

    def kills(self, severity: str, source: str, count: int) -> None:
        # One EMF blob per (severity, source): never an instance id or pid as a dimension.
        with single_metric(name="OOMKills", unit=MetricUnit.Count, value=count) as metric:
            metric.add_dimension(name="severity", value=severity)
            metric.add_dimension(name="source", value=source)

    def count(self, name: str, value: int = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


_runtime: Runtime | None = None


def runtime(telemetry: Telemetry) -> Runtime:
    """The container's Runtime; the first call reads the environment and creates (lazy) clients."""
    global _runtime
    if _runtime is None:
        settings = from_env(os.environ)
        clients = Clients(settings.region or None)
        events_group = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        _runtime = Runtime(
            settings=settings,
            clients=clients,
            directory=InstanceDirectory(clients, time.time),
            store=DynamoState(clients, settings.state_table, events_group),
            fallback=MemoryState(),
            publisher=Publisher(clients, settings.topic_arn),
            fetcher=ContextFetcher(clients, settings.context_max_pages, settings.context_budget_s),
            telemetry=telemetry,
            clock=time.time,
        )
        for problem in settings.problems:
            telemetry.warning("config_problem", problem=problem)
    _runtime.telemetry = telemetry
    return _runtime


def reset_runtime() -> None:
    """Forget the container's Runtime (tests, and after an environment change)."""
    global _runtime
    _runtime = None
