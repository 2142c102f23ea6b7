"""Reassembly across deliveries: fetch the lines around a kill from its own log stream.

The subscription filter passes only the lines that start, identify and end a report, and a
report may arrive split over invocations. When a kill arrives without its trigger line or task
table, read a bounded window of the same stream (a few pages, a few seconds at most) and parse
it again. Failure or nothing found means the alert goes out with what is known.

``FilterLogEvents`` has a quota of 5 requests per second per account and region, shared with
every person and tool in the account, and AWS calls it "designed for human interaction, not for
automation" (CloudWatch Logs quotas,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html). So each
container spends at most :data:`READ_RATE` requests per second (:class:`ReadBudget`), a throttled
page is retried with full-jitter back-off only within the fetch's time budget, and when the quota
stays exhausted the alert goes out on time saying so (``Fetched.throttled``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from service.dal.clients import AwsError, Clients, error_code

READ_RATE = 1.0  # FilterLogEvents requests per second per container (the account has 5, shared)
READ_BURST = 2.0
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException"})
QUOTA_NOTE = (
    "logs:FilterLogEvents was throttled: the account's read quota (5 requests per second, shared by every"
    " caller in the account and region) was exhausted"
)


class ReadBudget:
    """A token bucket of FilterLogEvents requests for this container (thread-safe)."""

    def __init__(
        self, rate: float = READ_RATE, burst: float = READ_BURST, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._monotonic = monotonic
        self._at = monotonic()
        self._lock = threading.Lock()

    def wait_s(self) -> float:
        """Take a token; return how long the caller must wait before using it (0 if none)."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class Fetched:
    """One bounded read-back of a stream: the events got, the pages read, and why it stopped short, if it did."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []
        self.pages = 0
        self.error: str | None = None
        self.truncated = False
        self.throttled = False


class ContextFetcher:
    def __init__(
        self,
        clients: Clients,
        max_pages: int,
        budget_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        budget: ReadBudget | None = None,
    ) -> None:
        self._clients = clients
        self._max_pages = max_pages
        self._budget_s = budget_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._budget = budget or ReadBudget(monotonic=monotonic)

    def _page(self, kwargs: Mapping[str, Any], deadline: float, out: Fetched) -> Mapping[str, Any] | None:
        """One page within the rate budget and the deadline; None when the time ran out first."""
        backoff = 0.2
        while True:
            wait = self._budget.wait_s()
            if self._monotonic() + wait >= deadline - 1.0:
                out.throttled = out.throttled or wait > 0
                return None
            if wait:
                self._sleep(wait)
            try:
                page: Mapping[str, Any] = self._clients.logs.filter_log_events(**kwargs)
                return page
            except AwsError as exc:
                if error_code(exc) not in THROTTLE_CODES:
                    raise
                out.throttled = True
                pause = random.uniform(0, backoff)  # noqa: S311 - jitter
                if self._monotonic() + pause >= deadline - 1.0:
                    return None
                self._sleep(pause)
                backoff *= 2

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
                page = self._page(kwargs, deadline, out)
                if page is None:
                    if out.throttled and not out.events:
                        out.error = QUOTA_NOTE
                    else:
                        out.truncated = True
                    break
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
