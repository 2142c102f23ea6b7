"""What every use case is handed: the collaborators built once per container, and the failure that asks
Lambda for a retry. Kept apart from any one use case so the kill, digest and notice logic all depend on it,
not on each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from service.dal.clients import Clients, error_code
from service.dal.ec2 import InstanceDirectory
from service.dal.eventbus import EventBus
from service.dal.logs import ContextFetcher
from service.dal.sns import Publisher
from service.dal.state import DynamoState, MemoryState
from service.logic.delivery import Outbox
from service.models.event_record import EventRecord, MinimalEventRecord
from service.models.settings import Settings

if TYPE_CHECKING:  # built only when the sparkline setting is on (service.wiring)
    from service.dal.cloudwatch import MetricsReader


class Telemetry(Protocol):
    def event(self, record: EventRecord | MinimalEventRecord) -> None: ...

    def info(self, message: str, **fields: object) -> None: ...

    def warning(self, message: str, **fields: object) -> None: ...

    def kills(self, severity: str, source: str, count: int) -> None: ...

    def count(self, name: str, value: int = 1) -> None: ...


class Runtime:
    """The handler's collaborators, built once per container and reused by warm invocations."""

    def __init__(
        self,
        *,
        settings: Settings,
        clients: Clients,
        directory: InstanceDirectory,
        store: DynamoState,
        fallback: MemoryState,
        publisher: Publisher,
        fetcher: ContextFetcher,
        telemetry: Telemetry,
        clock: Callable[[], float],
        metrics: MetricsReader | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.directory = directory
        self.store = store
        self.fallback = fallback
        self.publisher = publisher
        self.fetcher = fetcher
        self.telemetry = telemetry
        self.clock = clock
        self.outbox = Outbox()  # per container, like the Runtime
        self.metrics = metrics  # the memory before a kill (setting sparkline); None: off
        self.sleep: Callable[[float], None] = time.sleep  # tests swap it for a no-op
        self.events = events  # setting event_bus; None: off (service.logic.events)


class PublishFailed(RuntimeError):
    """At least one alert could not be published: fail the invocation so Lambda retries it."""


def warn_state(rt: Runtime, step: str, exc: BaseException) -> None:
    """A state-table step failed: say which and why, and count it (the kill goes on, see delivery.py)."""
    rt.telemetry.warning("state_unavailable", step=step, error=error_code(exc))
    rt.telemetry.count("StateFailures")
