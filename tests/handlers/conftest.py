"""Fixtures for the handler tests: environment, moto world, fake clock, log capture, invokers."""

from __future__ import annotations

import copy
import importlib
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from handler_kit import (
    ACCOUNT,
    EVENTS_GROUP,
    INSTANCES,
    REGION,
    TABLE,
    Clock,
    FakeContext,
    Invoke,
    LogCapture,
    World,
    make_world,
    serialise,
)
from moto import mock_aws

from demo import aws_rules, metric_search

# moto answers SEARCH expressions as CloudWatch does (demo/metric_search.py), as the demo's moto_server does
metric_search.install()
# moto refuses what AWS refuses (demo/aws_rules.py): every handler test runs under AWS's rules.
aws_rules.install()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:oomwatch-alerts",
        "STATE_TABLE": TABLE,
        "NOISE_WINDOW_MINUTES": "15",
        "LOOP_THRESHOLD": "5",
        "CRITICAL_PROCESSES": "mysqld,mariadbd,postgres,php-fpm,nginx,httpd,apache2,java,node,redis-server",
        "ALLOW_LIST": '{"processes": ["stress-ng*"], "units": ["batch-*.service"], "tags": {"oom-expected": "true"}}',
        "POWERTOOLS_SERVICE_NAME": "oomwatch",
        "POWERTOOLS_METRICS_NAMESPACE": "OOMWatch",
        "AWS_LAMBDA_LOG_GROUP_NAME": EVENTS_GROUP,
        "MEMORY_ALARM_NAME": "oomwatch-fleet-memory",
        "SWAP_ALARM_NAME": "oomwatch-fleet-swap",
        "AGENT_NAMESPACE": "CWAgent",
        "SPARKLINE": "true",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # loading moto's AMI catalogue costs ~0.5 s per test
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(autouse=True)
def dynamodb_semantics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two fixes to moto's DynamoDB, for fidelity and speed.

    * DynamoDB makes each conditional write, update and transaction atomic; moto does not lock
      between threads, so concurrent-invocation tests serialise its calls: whole requests (moto
      reads the item before and serialises it after the backend call), and the backend calls.
    * moto backs up the whole table once per transaction *item* (O(items x table)); one backup
      per call gives the same rollback semantics and keeps the storm test fast.
    """
    import moto.dynamodb.models as models
    import moto.dynamodb.responses as responses

    lock = threading.RLock()
    backend = models.DynamoDBBackend
    serialise(monkeypatch, backend, ("put_item", "update_item", "get_item", "delete_item", "batch_write_item"), lock)
    serialise(monkeypatch, responses.DynamoHandler, ("put_item", "update_item", "get_item", "delete_item",
              "batch_write_item", "batch_get_item", "transact_write_items", "transact_get_items", "query", "scan"),
              lock)  # fmt: skip
    transact = backend.transact_write_items

    def transact_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        backups: dict[int, Any] = {}

        def backup(obj: Any, memo: Any = None) -> Any:
            if id(obj) not in backups:
                backups[id(obj)] = copy.deepcopy(obj)
            return backups[id(obj)]

        with lock:
            monkeypatch.setattr(models, "copy", SimpleNamespace(deepcopy=backup))
            try:
                return transact(self, *args, **kwargs)
            finally:
                monkeypatch.setattr(models, "copy", copy)

    monkeypatch.setattr(backend, "transact_write_items", transact_once)


@pytest.fixture
def world(aws_env: dict[str, str]) -> Iterator[World]:
    aws_rules.reset()  # a fresh account: full FilterLogEvents quota
    with mock_aws():
        yield make_world(INSTANCES)


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    import service.handlers.oom

    capture = LogCapture()
    handler = service.handlers.oom.logger.registered_handler
    old = handler.setStream(capture.buffer)  # type: ignore[attr-defined]
    yield capture
    handler.setStream(old)  # type: ignore[attr-defined]


@pytest.fixture
def runtime_(world: World, clock: Clock, logs: LogCapture) -> Iterator[Any]:
    """A fresh container: new Runtime (lazy clients inside mock_aws) on the fake clock."""
    import service.handlers.oom
    from service.wiring import reset_runtime, runtime

    reset_runtime()
    rt = runtime(service.handlers.oom.telemetry)
    rt.clock = clock
    rt.directory._clock = clock
    yield rt
    reset_runtime()


def _invoker(module: str) -> Invoke:
    """Call ``handlers.<module>.handler`` as Lambda would (imported late: the runtime is set up first)."""
    handler = importlib.import_module(f"service.handlers.{module}").handler

    def call(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = handler(event, FakeContext())
        return result

    return call


@pytest.fixture
def invoke_oom(runtime_: Any) -> Invoke:
    return _invoker("oom")


@pytest.fixture
def invoke_digest(runtime_: Any) -> Invoke:
    return _invoker("digest")


@pytest.fixture
def invoke_alarm(runtime_: Any) -> Invoke:
    return _invoker("alarm_notice")
