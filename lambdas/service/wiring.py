"""Builds the handlers' collaborators once per container (lazily, on the first invocation) and
adapts Powertools' Logger and Metrics to the small Telemetry interface the pipeline uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.base import SingleMetric

from service.dal.clients import Clients
from service.dal.ec2 import InstanceDirectory
from service.dal.eventbus import EventBus
from service.dal.logs import ContextFetcher
from service.dal.sns import Publisher
from service.dal.state import DynamoState, MemoryState
from service.logic import envelope
from service.logic.ports import Runtime, Telemetry
from service.models.event_record import EventRecord, MinimalEventRecord
from service.models.settings import Settings, flag, from_env
from service.models.settings_table import KILL_METRIC, SPARKLINE

if TYPE_CHECKING:
    from service.dal.cloudwatch import MetricsReader

#: The ``OOMKills`` metric's only dimension (the name AWS/EC2 and AWS/AutoScaling use for the same thing).
ASG_DIMENSION: Final = "AutoScalingGroupName"
#: Its value for an instance EC2 shows in no Auto Scaling group ...
NO_ASG: Final = "none"
#: ... and when OOMWatch cannot tell: EC2 could not be read, or the log stream names no instance.
UNKNOWN_ASG: Final = "unknown"
#: Auto Scaling group names are 1-255 characters (CreateAutoScalingGroup); CloudWatch allows 1,024.
MAX_ASG_LENGTH: Final = 255
#: Keys the logging library owns; a record field with one of these names is logged as event_<name> (the parser's
#: event has two: ``message`` and ``timestamp``).
RESERVED_LOG_KEYS: Final = frozenset(
    {"message", "timestamp", "level", "location", "service", "name", "msg", "args", "process", "module",
     "filename", "exc_info", "stack_info", "lineno", "thread", "created", "asctime"}
)  # fmt: skip


def logged(record: Mapping[str, object]) -> dict[str, object]:
    """The record as the events log group holds it: its keys in order, those the logger owns prefixed ``event_``."""
    return {f"event_{key}" if key in RESERVED_LOG_KEYS else key: value for key, value in record.items()}


def kill_asg(record: Mapping[str, object]) -> str:
    """The ``AutoScalingGroupName`` of a kill event: its instance's ASG, else ``none`` or ``unknown``.

    The value comes from EC2 (the ``aws:autoscaling:groupName`` tag that Auto Scaling sets), never from a
    log line, so a local user cannot mint dimension values: the metric has at most one series per ASG of
    the account plus these two.
    """
    instance = record.get("instance")
    if not isinstance(instance, Mapping) or "asg" not in instance:  # not an instance, or EC2 not read
        return UNKNOWN_ASG
    asg = instance.get("asg")
    if not isinstance(asg, str) or not asg.strip():
        return NO_ASG
    return asg.strip()[:MAX_ASG_LENGTH]


class PowertoolsTelemetry:
    """Structured JSON logs (the events log group) and EMF metrics with bounded dimensions.

    ``kill_metric``: also write one ``OOMKills`` value per kill event, dimension ``AutoScalingGroupName``
    only (:func:`kill_asg`). It goes with the event, so it counts exactly what the events log group holds:
    once per kill, as the delivery protocol writes each kill's event once (``service.logic.kills``).
    """

    def __init__(self, logger: Logger, metrics: Metrics, *, kill_metric: bool = False) -> None:
        self._logger = logger
        self._metrics = metrics
        self.kill_metric = kill_metric

    def event(self, record: EventRecord | MinimalEventRecord) -> None:
        self._logger.info("oom_kill", extra=logged(record))
        if self.kill_metric:
            self._count_kill(record)

    def _count_kill(self, record: Mapping[str, object]) -> None:
        """One EMF blob, ``OOMKills`` = 1 by ASG; never raises (a metric must not cost the event or alert).

        ``service=""`` keeps Powertools from adding its ``service`` dimension: the ASG is the only one.
        """
        try:
            metric = SingleMetric(service="")
            metric.add_metric(name="OOMKills", unit=MetricUnit.Count, value=1)
            metric.add_dimension(name=ASG_DIMENSION, value=kill_asg(record))
            print(json.dumps(metric.serialize_metric_set(), separators=(",", ":")))
        except Exception as exc:
            with contextlib.suppress(Exception):  # nothing left to report it with
                self._logger.warning("kill_metric_failed", extra={"error": type(exc).__name__})

    def info(self, message: str, **fields: object) -> None:
        self._logger.info(message, extra=fields)

    def warning(self, message: str, **fields: object) -> None:
        self._logger.warning(message, extra=fields)

    def kills(self, severity: str, source: str, count: int) -> None:
        # One EMF blob per (severity, source): never an instance id or pid as a dimension.
        with single_metric(name="OOMKills", unit=MetricUnit.Count, value=count) as metric:
            metric.add_dimension(name="severity", value=severity)
            metric.add_dimension(name="source", value=source)

    def count(self, name: str, value: int = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


_runtime: Runtime | None = None
_kill_metric = False


def runtime(telemetry: Telemetry) -> Runtime:
    """The container's Runtime; the first call reads the environment and creates (lazy) clients."""
    global _runtime, _kill_metric
    if _runtime is None:
        settings = from_env(os.environ)
        _kill_metric = flag(os.environ, KILL_METRIC)  # set by the stack (infra.processing); off when absent
        clients = Clients(settings.region or None)
        events_group = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        _runtime = Runtime(
            settings=settings,
            clients=clients,
            directory=InstanceDirectory(clients, time.time),
            store=DynamoState(clients, settings.state_table, events_group),
            fallback=MemoryState(),
            publisher=Publisher(clients, settings.topic_arn, encode=envelope.encode),
            fetcher=ContextFetcher(clients, settings.context_max_pages, settings.context_budget_s),
            telemetry=telemetry,
            clock=time.time,
            # sparkline: the memory before a kill in its alert (service.logic.memory_history); absent: off
            metrics=_metrics_reader(clients, settings) if flag(os.environ, SPARKLINE) else None,
            events=EventBus(clients, settings.event_bus) if settings.event_bus else None,
        )
        for problem in settings.problems:
            telemetry.warning("config_problem", problem=problem)
    _runtime.telemetry = telemetry
    if isinstance(telemetry, PowertoolsTelemetry):
        telemetry.kill_metric = _kill_metric
    return _runtime


def _metrics_reader(clients: Clients, settings: Settings) -> MetricsReader:
    """The CloudWatch reader of the sparkline setting, imported only when the setting is on (it is off by default)."""
    from service.dal.cloudwatch import MetricsReader

    return MetricsReader(clients, settings.agent_namespace)


def reset_runtime() -> None:
    """Forget the container's Runtime (tests, and after an environment change)."""
    global _runtime
    _runtime = None
