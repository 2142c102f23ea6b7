"""Storm benchmark: fleet-wide OOM storms played through the real handlers, every AWS call counted.

Two scenarios (issue 9, section 4), with AWS answered in-process by moto (``mock_aws``, as the handler
tests do) and a wrapper on each client's ``_make_api_call`` that counts calls by service and operation
and computes DynamoDB capacity by the documented rule (1 write unit per 1 KB written, the larger of
the item before and after; 2 for a transactional write; 1 read unit per 4 KB strongly consistent read,
half for an eventually consistent one; a Scan by the total size of the items it examines):
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
Item sizes are moto's ``Item.size()`` (attribute names + values, the documented way to size an item).

(a) 1,000 instances in 10 Auto Scaling groups, each OOM-kills one process within 60 s: one delivery
    per instance (its own stream), one real corpus report per group.
(b) 10,000 kills of one service across 50 instances in 10 minutes: each instance's stream delivered
    every 30 s with the 10 kills of that stretch (CloudWatch Logs batches a stream's events per
    invocation; one invocation per kill would be unrealistic and would take moto ~10x longer).

The kill lines are real corpus reports (``excerpts.kernel_excerpts``, tests/corpus), re-prefixed as
rsyslog kernel lines of each host, with the victim's pid renumbered per kill so every kill is a
distinct kill; the OOM handler runs in ``log_mode=oom`` on the agent's group, one warm container; the
digest handler runs as its EventBridge schedule would (every 5 minutes, until the windows are done).

Asserted, not only printed: 0 FilterLogEvents, every kill written as exactly one event, and messages
within the noise bound (per fingerprint and window: the first kill, one loop alert, one digest).
``make bench`` prints the figures; ``tests/handlers/test_storm.py`` runs scenario (a) scaled down.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "lambdas", ROOT / "tests" / "handlers", ROOT / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from excerpts import kernel_excerpts  # noqa: E402

KILLED = re.compile(r"Killed process (\d+) \(")
DIGEST_PERIOD_S = 300  # the digest function's schedule (infra: every 5 minutes)


# --------------------------------------------------------------------------- kill lines from the corpus


def split_reports(texts: Sequence[str]) -> list[list[str]]:
    """An excerpt's reports, one per kill line (header .. kill .. reaper lines), as bench_handler does."""
    from bench_handler import split_reports as split

    return split(list(texts))


def single_kill_reports() -> list[list[str]]:
    """Corpus reports with a header, one ``Killed process`` line and a victim pid of 3+ digits (renumberable)."""
    out = []
    for texts in kernel_excerpts():
        for report in split_reports(texts):
            kills = [t for t in report if KILLED.search(t)]
            if len(kills) != 1 or "invoked oom-killer" not in report[0]:
                continue
            pid = KILLED.search(kills[0]).group(1)  # type: ignore[union-attr]
            if len(pid) >= 3:
                out.append(report)
    return out


def host_report(report: Sequence[str], host: str, pid: int, uptime: float, at: datetime) -> list[str]:
    """One corpus report as ``host``'s rsyslog kernel lines, the victim's pid renumbered to ``pid``
    (in the kill line, the ``oom-kill:`` summary, ``Kill process`` and the victim's task-table row)."""
    old = next(m.group(1) for t in report if (m := KILLED.search(t)))
    word = re.compile(rf"(?<![\d.]){old}(?![\d.])")
    stamp = f"{at:%b} {at.day:2d} {at:%H:%M:%S} {host}"
    out = []
    for text in report:
        if ("Killed process" in text or "oom-kill:" in text or "Kill process" in text or text.lstrip().startswith("[")
                or "oom_reaper" in text):  # fmt: skip
            text = word.sub(str(pid), text)
        out.append(f"{stamp} kernel: [{uptime:.6f}] {text}")
    return out


# --------------------------------------------------------------------------- counting AWS calls


def item_size(item: Any) -> int:
    return int(item.size()) if item is not None else 0


@dataclass
class Meter:
    """Calls by (service, operation), DynamoDB read and write request units (documented rule)."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0

    def table(self) -> Any:
        from handler_kit import ACCOUNT, REGION, TABLE
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT][REGION].get_table(TABLE)

    def _item(self, key: dict[str, Any] | None) -> Any:
        if not key:
            return None
        from moto.dynamodb.models.dynamo_type import DynamoType

        return self.table().items.get(DynamoType(key["pk"]))

    def wrap(self, service: str, client: Any) -> Any:
        original = client._make_api_call

        def call(operation: str, params: dict[str, Any]) -> Any:
            self.calls[(service, operation)] += 1
            if service != "dynamodb":
                return original(operation, params)
            before = self._before(operation, params)
            response = original(operation, params)
            self._after(operation, params, before, response)
            return response

        client._make_api_call = call
        return client

    def _before(self, op: str, p: dict[str, Any]) -> Any:
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            return item_size(self._item(p.get("Key") or {"pk": p["Item"]["pk"]}))
        if op == "TransactWriteItems":
            ops = [next(iter(t.values())) for t in p["TransactItems"]]
            return [item_size(self._item(o.get("Key") or {"pk": o["Item"]["pk"]})) for o in ops]
        if op == "BatchWriteItem":
            return None
        if op == "Scan":  # a Scan is billed by the items it examines (before its filter): this page's share
            items = self.table().items
            return sum(item_size(i) for i in items.values()) / max(1, len(items))
        return None

    def _after(self, op: str, p: dict[str, Any], before: Any, response: dict[str, Any]) -> None:  # noqa: C901 - benchmark driver: a linear script
        kb = 1024
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            after = item_size(self._item(p.get("Key") or {"pk": p["Item"]["pk"]}))
            self.wru += max(1, math.ceil(max(before, after) / kb))
        elif op == "TransactWriteItems":
            for t, b in zip(p["TransactItems"], before, strict=True):
                op_ = next(iter(t.values()))
                after = item_size(self._item(op_.get("Key") or {"pk": op_["Item"]["pk"]}))
                self.wru += 2 * max(1, math.ceil(max(b, after) / kb))
        elif op == "BatchWriteItem":
            for requests in p["RequestItems"].values():
                for r in requests:
                    key = (r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key")
                    assert key is not None, r
                    self.wru += max(1, math.ceil(item_size(self._item({"pk": key["pk"]})) / kb))
        elif op == "GetItem":
            size = item_size(self._item(p["Key"]))
            self.rru += max(1, math.ceil(size / (4 * kb))) * (1 if p.get("ConsistentRead") else 0.5)
        elif op == "BatchGetItem":
            for request in p["RequestItems"].values():
                factor = 1 if request.get("ConsistentRead") else 0.5
                for key in request["Keys"]:
                    self.rru += max(1, math.ceil(item_size(self._item(key)) / (4 * kb))) * factor
        elif op == "Scan":  # ``before``: the mean item size; ScannedCount: the items this page examined
            examined = before * int(response.get("ScannedCount") or 0)
            self.rru += max(1, math.ceil(examined / (4 * kb))) * (1 if p.get("ConsistentRead") else 0.5)

    def of(self, service: str, operation: str | None = None) -> int:
        return sum(n for (s, o), n in self.calls.items() if s == service and (operation is None or o == operation))


class EventSink(io.TextIOBase):
    """The functions' stdout/log stream: counts the bytes CloudWatch Logs would ingest and reads the
    ``oom_kill`` events (kill keys and fingerprints), without keeping the text."""

    def __init__(self) -> None:
        self.bytes = 0
        self.kill_keys: Counter[str] = Counter()
        self.fingerprints: Counter[str] = Counter()
        self.contexts: Counter[str] = Counter()  # how split reports were completed (stashed, fetched, ...)
        self._partial = ""

    def write(self, s: str) -> int:
        self.bytes += len(s.encode("utf-8", "replace"))
        text = self._partial + s
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            if '"oom_kill"' in line and line.startswith("{"):
                rec = json.loads(line)
                if rec.get("message") == "oom_kill":
                    self.kill_keys[str(rec.get("kill_key"))] += 1
                    self.fingerprints[str(rec.get("fingerprint"))] += 1
                    self.contexts[str(rec.get("context"))] += 1
        return len(s)


@contextlib.contextmanager
def cheap_transactions() -> Iterator[None]:
    """moto deep-copies the whole table once per transaction item, to roll back a cancelled transaction
    (O(items x table): hours for 10,000 kills). The copy here is the table object with a copy of its item
    dict (same rollback of the Puts the claim transaction makes), taken once per call."""
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items

    def transact(self: Any, *args: Any, **kwargs: Any) -> Any:
        backups: dict[int, Any] = {}

        def backup(obj: Any, memo: Any = None) -> Any:
            if id(obj) not in backups:
                shallow = copy.copy(obj)
                shallow.items = copy.copy(obj.items)
                backups[id(obj)] = shallow
            return backups[id(obj)]

        saved = models.copy  # type: ignore[attr-defined]  # moto's module imports copy; we swap it for the call
        models.copy = type("C", (), {"deepcopy": staticmethod(backup)})  # type: ignore[attr-defined,assignment]
        try:
            return original(self, *args, **kwargs)
        finally:
            models.copy = saved  # type: ignore[attr-defined]

    models.DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


# --------------------------------------------------------------------------- playing a storm


@dataclass
class Result:
    name: str
    kills: int
    deliveries: int
    digest_runs: int
    meter: Meter
    sink: EventSink
    subjects: list[str]
    windows: int
    seconds: float
    invocation_seconds: list[float]
    delivered_bytes: int
    last_digest_rru: float = 0.0  # read units of the last digest run (its Scan of the table the storm left)

    @property
    def messages(self) -> int:
        return len(self.subjects)

    @property
    def bound(self) -> int:
        """The noise rules: per fingerprint and window the first kill, one loop alert and one digest."""
        return 3 * self.windows


ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "STATE_TABLE": "oomwatch-state",
    "NOISE_WINDOW_MINUTES": "15",
    "LOOP_THRESHOLD": "5",
    "CRITICAL_PROCESSES": "mysqld,mariadbd,postgres,php-fpm,nginx,httpd,apache2,java,node,redis-server",
    "POWERTOOLS_SERVICE_NAME": "oomwatch",
    "POWERTOOLS_METRICS_NAMESPACE": "OOMWatch",
    "LOG_MODE": "oom",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def play(name: str, plan: Sequence[tuple[float, str, list[str]]], groups: dict[str, tuple[str, int]],  # noqa: C901, PLR0915 - benchmark driver: a linear script
         kills: int, window_s: int = 900, log_mode: str = "oom") -> Result:  # fmt: skip
    """Run ``plan`` ((time offset s, host, log lines of one delivery), in time order) through the OOM
    handler and the digest schedule. ``groups``: ASG name -> (host name prefix, instance count)."""
    from handler_kit import ACCOUNT, REGION, SYSLOG_GROUP, Clock, FakeContext, client, log_events, make_world, payload
    from moto import mock_aws

    env = {**ENV, "LOG_MODE": log_mode, "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:oomwatch-alerts",
           "SYSLOG_GROUP": SYSLOG_GROUP, "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/oomwatch-oom"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sink = EventSink()
    meter = Meter()
    try:
        with mock_aws(), cheap_transactions(), contextlib.redirect_stdout(sink):
            world = make_world(())
            ec2 = client("ec2")
            hosts: dict[str, str] = {}
            for asg, (prefix, count) in groups.items():
                resp = ec2.run_instances(
                    ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="m5.large",
                    Placement={"AvailabilityZone": f"{REGION}a"},
                    TagSpecifications=[{"ResourceType": "instance",
                                        "Tags": [{"Key": "aws:autoscaling:groupName", "Value": asg}]}],
                )  # fmt: skip
                for n, inst in enumerate(resp["Instances"]):
                    hosts[f"{prefix}-{n}"] = inst["InstanceId"]
            import service.handlers.digest
            import service.handlers.oom
            from service.wiring import reset_runtime, runtime

            modules = (service.handlers.oom, service.handlers.digest)
            streams = [(m, m.logger.registered_handler.setStream(sink)) for m in modules]
            reset_runtime()
            rt = runtime(service.handlers.oom.telemetry)
            start_s = time.time()
            clock = Clock(start_s)
            rt.clock = clock
            rt.directory._clock = clock
            plain_get = rt.clients.get
            wrapped: dict[str, Any] = {}

            def counted(service: str) -> Any:
                if service not in wrapped:
                    wrapped[service] = meter.wrap(service, plain_get(service))
                return wrapped[service]

            rt.clients.get = counted  # type: ignore[method-assign]
            t0 = time.perf_counter()
            durations: list[float] = []
            delivered = 0
            seq = 0
            next_digest = DIGEST_PERIOD_S
            digest_runs = 0
            last_rru = [0.0]

            def digests_until(offset: float) -> None:
                nonlocal next_digest, digest_runs
                while next_digest <= offset:
                    clock.now = start_s + next_digest
                    rru = meter.rru
                    service.handlers.digest.handler({"account": ACCOUNT}, FakeContext())
                    last_rru[0] = meter.rru - rru
                    digest_runs += 1
                    next_digest += DIGEST_PERIOD_S

            for offset, host, lines in plan:
                digests_until(offset)
                clock.now = start_s + offset
                events = log_events(lines, int(clock.now * 1000), step_ms=0, seq0=seq)
                seq += len(lines)
                event = payload(hosts[host], events)
                delivered += sum(len(line.encode()) + 26 for line in lines)  # CloudWatch bills 26 B per event
                t = time.perf_counter()
                service.handlers.oom.handler(event, FakeContext())
                durations.append(time.perf_counter() - t)
            last = plan[-1][0] if plan else 0.0
            digests_until(last + window_s + 30 + 2 * DIGEST_PERIOD_S)
            seconds = time.perf_counter() - t0
            subjects = [s.subject for s in world.sent()]
            windows = sum(1 for pk in meter.table().items if str(pk.value).startswith("win#"))
            reset_runtime()
            for module, stream in streams:
                module.logger.registered_handler.setStream(stream)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Result(name, kills, len(plan), digest_runs, meter, sink, subjects, windows, seconds, durations, delivered,
                  last_rru[0])  # fmt: skip


def check(result: Result) -> None:
    """The targets: no read-back, every kill one event, messages within the noise bound."""
    filter_calls = result.meter.of("logs", "FilterLogEvents")
    assert filter_calls == 0, f"{result.name}: {filter_calls} FilterLogEvents calls in oom mode"
    assert len(result.sink.kill_keys) == result.kills, (result.name, len(result.sink.kill_keys), result.kills)
    assert set(result.sink.kill_keys.values()) == {1}, f"{result.name}: a kill was written twice"
    assert result.messages <= result.bound, (result.name, result.messages, result.bound, result.subjects)
    assert result.meter.of("sns", "Publish") == result.messages


def scenario_a(instances: int = 1000, asgs: int = 10, within_s: float = 60.0, split_every: int = 10,
               log_mode: str = "oom") -> Result:  # fmt: skip
    """Every instance of ``asgs`` groups kills one process within ``within_s``: one delivery each, except
    that every ``split_every``-th report is split by CloudWatch across two deliveries 0.5 s apart (in the
    task table, before the kill line), as happens when a delivery's batch closes inside a report."""
    reports = single_kill_reports()
    per = instances // asgs
    groups = {f"asg-{g}": (f"a{g}", per) for g in range(asgs)}
    base = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    plan = []
    for n in range(per * asgs):
        g, i = n % asgs, n // asgs
        offset = within_s * n / (per * asgs)
        lines = host_report(reports[g % len(reports)], f"a{g}-{i}", 4000 + i, 86_400.0 + offset, base)
        if split_every and n % split_every == 0:
            cut = next(k for k, line in enumerate(lines) if "Killed process" in line or "oom-kill:" in line) - 1
            plan.append((offset, f"a{g}-{i}", lines[:cut]))
            plan.append((offset + 0.5, f"a{g}-{i}", lines[cut:]))
        else:
            plan.append((offset, f"a{g}-{i}", lines))
    plan.sort(key=lambda step: step[0])
    return play("a", plan, groups, kills=per * asgs, log_mode=log_mode)


def scenario_b(kills: int = 10_000, instances: int = 50, minutes: float = 10.0, every_s: float = 30.0) -> Result:
    """One service killed ``kills`` times on ``instances`` hosts of one group; a stream delivered every ``every_s``."""
    report = single_kill_reports()[0]
    base = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    rounds = int(minutes * 60 / every_s)
    per_delivery = kills // (instances * rounds)
    plan = []
    for r in range(rounds):
        for h in range(instances):
            lines: list[str] = []
            for k in range(per_delivery):
                pid = 10_000 + (r * per_delivery + k) * 7
                lines += host_report(report, f"b-{h}", pid, 86_400.0 + r * every_s + k, base)
            plan.append((r * every_s + h * every_s / instances, f"b-{h}", lines))
    return play("b", plan, {"svc": ("b", instances)}, kills=rounds * instances * per_delivery)


# --------------------------------------------------------------------------- cost at list prices

# US East (N. Virginia) list prices. Checked with the search tool where marked; see docs/cost.md for the pages.
PRICES = {
    "lambda_request": 0.20 / 1e6,  # https://aws.amazon.com/lambda/pricing/ (unverified here)
    "lambda_gb_s_arm64": 0.0000133334,  # https://aws.amazon.com/lambda/pricing/ (unverified here)
    "ddb_wru": 0.625 / 1e6,  # https://aws.amazon.com/dynamodb/pricing/on-demand/ (unverified: third-party copies)
    "ddb_rru": 0.125 / 1e6,  # same page, same caveat
    "sns_publish": 0.50 / 1e6,  # https://aws.amazon.com/sns/pricing/ (unverified here)
    "sns_email": 2.00 / 1e5,  # https://aws.amazon.com/sns/pricing/ (unverified here)
    "logs_gb": 0.50 / 1e9,  # https://aws.amazon.com/cloudwatch/pricing/ (per GB ingested, unverified here)
}
MEMORY_GB = 0.25  # lambda_memory_mb = 256
CALL_LATENCY_S = 0.010  # assumed round trip of one AWS API call from Lambda (not measured here)


def cost(result: Result) -> dict[str, float]:
    """AWS charges of the whole scenario (no free tier). Lambda time: the measured in-process time of
    each invocation (moto's emulation included, so an over-estimate of the CPU) + an assumed 10 ms per AWS call."""
    calls = sum(result.meter.calls.values())
    invocations = result.deliveries + result.digest_runs
    seconds = sum(result.invocation_seconds) + calls * CALL_LATENCY_S
    ingested = result.delivered_bytes + result.sink.bytes
    return {
        "lambda": invocations * PRICES["lambda_request"] + seconds * MEMORY_GB * PRICES["lambda_gb_s_arm64"],
        "dynamodb": result.meter.wru * PRICES["ddb_wru"] + result.meter.rru * PRICES["ddb_rru"],
        "sns": result.messages * (PRICES["sns_publish"] + PRICES["sns_email"]),
        "logs": ingested * PRICES["logs_gb"],
    }


def report(result: Result) -> None:
    m, k = result.meter, result.kills
    print(f"scenario {result.name}: {k} kills in {result.deliveries} deliveries + {result.digest_runs} digest runs"
          f" ({result.seconds:.1f} s in moto)")  # fmt: skip
    ddb_reads = sum(n for (s, o), n in m.calls.items() if s == "dynamodb" and o in ("GetItem", "BatchGetItem", "Scan",
                    "Query"))  # fmt: skip
    ddb_writes = m.of("dynamodb") - ddb_reads
    print(f"  per kill: FilterLogEvents {m.of('logs', 'FilterLogEvents') / k:.3f}, DynamoDB reads"
          f" {ddb_reads / k:.3f} ({m.rru / k:.3f} RRU), writes {ddb_writes / k:.3f} ({m.wru / k:.3f} WRU),"
          f" EC2 describes {m.of('ec2') / k:.3f}, SNS publishes {m.of('sns', 'Publish') / k:.4f}")  # fmt: skip
    print("  calls: " + ", ".join(f"{s}:{o}={n}" for (s, o), n in sorted(m.calls.items())))
    kinds = Counter("loop" if s.startswith("[OOM loop]") else "digest" if s.startswith("[OOM digest]") else "kill"
                    for s in result.subjects)  # fmt: skip
    print(f"  messages {result.messages} (bound {result.bound}: {result.windows} fingerprint windows x 3;"
          f" {dict(kinds)}), events written {sum(result.sink.kill_keys.values())} for {k} kills,"
          f" {len(result.sink.fingerprints)} fingerprints; completed from: {dict(result.sink.contexts)}")  # fmt: skip
    print(f"  log ingestion per kill: {result.delivered_bytes / k / 1024:.1f} KiB of host lines (syslog group),"
          f" {result.sink.bytes / k / 1024:.1f} KiB of function log (events, EMF, warnings)")  # fmt: skip
    day = result.last_digest_rru * 288 * PRICES["ddb_rru"] * 1000 / k
    print(f"  the last digest run read {result.last_digest_rru:.0f} units scanning the table the storm left: at 288"
          f" runs a day, ${day:.4f} per 1,000 kills per day the rows live (kill rows: 2 days)")  # fmt: skip
    c = cost(result)
    per_1000 = {n: v * 1000 / k for n, v in c.items()}
    print(
        "  cost per 1,000 kills (US East list prices, no free tier): "
        + ", ".join(f"{n} ${v:.4f}" for n, v in per_1000.items())
        + f"; total ${sum(per_1000.values()):.4f}"
    )
    mean = sum(result.invocation_seconds) / len(result.invocation_seconds)
    print(f"  invocation time in moto: mean {1000 * mean:.1f} ms, max {1000 * max(result.invocation_seconds):.1f} ms")


# --------------------------------------------------------------------------- Lambda sizing

SIZING = r"""
import json, os, resource, sys, time, tracemalloc
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import bench_handler as b
os.environ.update(b.ENV)
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import service.handlers.oom
from service.dal import clients as aws
from service.dal.logs import ReadBudget
from service.wiring import reset_runtime, runtime
fakes = {"sns": b.FakeSNS(), "logs": b.FakeLogs(), "ec2": b.FakeEC2(), "dynamodb": b.FakeDynamoDB()}
class Stub(aws.Clients):
    def get(self, service): return fakes[service]
rt = b.stub_runtime(Stub)
rt.fetcher._budget = ReadBudget(rate=1e9, burst=1e9)
sink = open(os.devnull, "w"); service.handlers.oom.logger.registered_handler.setStream(sink)
event, decoded, text = b.build_payload()
import contextlib
imported = rss()
times = []
with contextlib.redirect_stdout(sink):
    for _ in range(5):
        fakes["dynamodb"].counts.clear()
        t = time.perf_counter(); service.handlers.oom.handler(event, b.Context()); times.append(time.perf_counter() - t)
    peak_rss = rss()
    tracemalloc.start(); fakes["dynamodb"].counts.clear(); service.handlers.oom.handler(event, b.Context())
    _, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
clients = [aws.session().client(name, region_name="eu-west-1") for name in ("ec2", "dynamodb", "sns", "logs")]
print(json.dumps({"with_clients_mib": rss(), "imported_mib": imported, "peak_rss_mib": peak_rss,
                  "traced_peak_mib": peak / 2**20, "best_s": min(times),
                  "payload_b64_mb": len(event["awslogs"]["data"]) / 1e6}))
"""


def sizing() -> dict[str, float]:
    """Peak memory and duration of the handler on a full-size 10,000-line delivery, in a fresh interpreter."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", SIZING, str(ROOT / "bench"), str(ROOT / "lambdas")], check=True,
                         capture_output=True, text=True)  # fmt: skip
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    s = sizing()
    print(
        f"sizing: 10,000-line delivery ({s['payload_b64_mb']:.2f} MB base64): process peak RSS"
        f" {s['peak_rss_mib']:.0f} MiB (after import {s['imported_mib']:.0f} MiB), Python allocations peak"
        f" {s['traced_peak_mib']:.1f} MiB during one delivery; {s['with_clients_mib']:.0f} MiB once the four real"
        f" boto3 clients are built; best {1000 * s['best_s']:.0f} ms on one core"
    )
    for result in (scenario_a(), scenario_b()):
        check(result)
        report(result)
    print("storm: 0 FilterLogEvents, every kill recorded once, messages within the noise bound")


if __name__ == "__main__":
    main()
