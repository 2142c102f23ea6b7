"""Reassembly across deliveries: fetch the lines around a kill from its own log stream.

The subscription filter passes only the lines that start, identify and end a report, and a
report may arrive split over invocations. When a kill arrives without its trigger line or task
table, read a bounded window of the same stream (a few pages, a few seconds at most) and parse
it again. Failure or nothing found means the alert goes out with what is known.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers.aws import AwsError, Clients, error_code


@dataclass(eq=False)
class Fetched:
    events: list[Mapping[str, Any]] = field(default_factory=list)
    pages: int = 0
    error: str | None = None
    truncated: bool = False


class ContextFetcher:
    def __init__(
        self,
        clients: Clients,
        max_pages: int,
        budget_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._max_pages = max_pages
        self._budget_s = budget_s
        self._monotonic = monotonic

    def fetch(self, log_group: str, stream: str, start_ms: int, end_ms: int) -> Fetched:
        """All events of ``stream`` in [start_ms, end_ms], oldest first, within the page/time budget."""
        out = Fetched()
        deadline = self._monotonic() + self._budget_s
        kwargs: dict[str, Any] = {
            "logGroupName": log_group,
            "logStreamNames": [stream],
            "startTime": int(start_ms),
            "endTime": int(end_ms),
        }
        try:
            while out.pages < self._max_pages:
                page = self._clients.logs.filter_log_events(**kwargs)
                out.pages += 1
                out.events.extend(page.get("events", []))
                token = page.get("nextToken")
                if not token:
                    break
                if self._monotonic() >= deadline - 1.0:  # no time left for another page
                    out.truncated = True
                    break
                kwargs["nextToken"] = token
            else:
                out.truncated = True
        except AwsError as exc:
            out.error = f"logs:FilterLogEvents failed ({error_code(exc)})"
        out.events.sort(key=lambda e: (e.get("timestamp", 0), str(e.get("eventId", ""))))
        return out
