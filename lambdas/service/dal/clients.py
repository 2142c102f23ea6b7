"""Lazily created boto3 clients, shared by warm invocations.

Nothing here runs at import time: a client is built on first use, so importing a handler is
cheap, tests can start moto before any client exists, and a missing permission or endpoint
only affects the call that needs it.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Enrichment and context calls must never hold an alert back: short timeouts, one retry.
FAST = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
# Context reads are bounded by a time budget: one attempt each, so a page never takes more than ~3 s.
BOUNDED = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"})
# State and publish calls decide correctness: the standard retry policy.
SAFE = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 4, "mode": "standard"})

# events (PutEvents): an extra copy of what SNS already carries, so it must not hold the invocation long.
_PROFILE = {
    "ec2": FAST,
    "logs": BOUNDED,
    "cloudwatch": FAST,
    "dynamodb": SAFE,
    "sns": SAFE,
    "ssm": FAST,
    "events": FAST,
}

AwsError = (ClientError, BotoCoreError)


def error_code(exc: BaseException) -> str:
    """A short name for an AWS failure, for notes in alerts and logs."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def session() -> boto3.session.Session:
    """One botocore session per process: its loader parses each service model once."""
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


class Clients:
    """One client per service, created on first use."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region or None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    shared = session()
                    with _session_lock:  # creating clients from one session is not thread-safe
                        client = shared.client(service, region_name=self._region, config=_PROFILE.get(service, SAFE))
                    self._clients[service] = client
        return client

    @property
    def ec2(self) -> Any:
        return self.get("ec2")

    @property
    def logs(self) -> Any:
        return self.get("logs")

    @property
    def dynamodb(self) -> Any:
        return self.get("dynamodb")

    @property
    def sns(self) -> Any:
        return self.get("sns")

    @property
    def cloudwatch(self) -> Any:
        return self.get("cloudwatch")

    @property
    def ssm(self) -> Any:
        return self.get("ssm")

    @property
    def events(self) -> Any:
        return self.get("events")
