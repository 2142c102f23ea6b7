"""Benchmark: the OOM Lambda handler against the floor of decoding its own payload, in the same run.

1. Handler vs decode floor. The payload is as large as CloudWatch Logs delivers (10,000 events,
   ~1 MB of log text): ordinary syslog noise with 20 real OOM reports from tests/corpus
   (distinct, round-robin over the excerpts), re-prefixed as rsyslog kernel lines, on one clock
   (100 lines a second). The floor is base64 + gunzip + JSON decoding of the same
   payload, which any subscription consumer must pay. The handler runs whole (Powertools
   decorators, decoding, parsing, enrichment, noise control, rendering, JSON logging, EMF) on a
   warm container, with every AWS call answered by in-memory stubs. Best of N, interleaved.
   Target: ratio <= 3.
2. Cold import. ``import service.handlers.oom`` in a fresh interpreter against ``import boto3`` alone,
   best of N, interleaved. Target: ratio <= 1.5.

Prints ``name: ratio=X.XX (target <= Y)`` lines; not a test (``make bench``).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"
sys.path.insert(0, str(LAMBDAS))

from excerpts import kernel_excerpts  # noqa: E402

REPEATS = 21
IMPORT_REPEATS = 7
EVENTS = 10_000
REPORTS = 20
INSTANCE = "i-0abc12345def67890"
ENV = {
    "TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:oomwatch-alerts",
    "STATE_TABLE": "oomwatch-state",
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "oomwatch",
    "POWERTOOLS_METRICS_NAMESPACE": "OOMWatch",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/oomwatch-oom",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}

NOISE = [
    "sshd[{pid}]: Accepted publickey for ubuntu from 10.0.{a}.{b} port {port} ssh2",
    "CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "systemd[1]: Started Session {port} of User ubuntu.",
    "systemd[1]: session-{port}.scope: Deactivated successfully.",
    "dhclient[{pid}]: DHCPACK of 10.0.{a}.{b} from 10.0.0.1",
    'nginx[{pid}]: 10.0.{a}.{b} - - "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"',
    "php-fpm[{pid}]: [WARNING] [pool www] server reached pm.max_children setting (32)",
    "kernel: [{up}] EXT4-fs (nvme1n1): mounted filesystem with ordered data mode.",
    "kernel: [{up}] [UFW BLOCK] IN=ens5 OUT= SRC=10.0.{a}.{b} DST=10.0.0.5 PROTO=TCP DPT={port}",
    "amazon-ssm-agent[{pid}]: INFO [MessageService] [Association] No associations on boot.",
]


def split_reports(texts: list[str]) -> list[list[str]]:
    """An excerpt's OOM reports, one per kill line: from the header after the previous kill (or where the
    previous report ended, when the header is not in the excerpt) through the kill and what follows it up to
    the next kill or header (oom_reaper lines). A header with no kill after it is not a report."""
    out: list[list[str]] = []
    start = 0
    header: int | None = None
    for i, text in enumerate(texts):
        if "invoked oom-killer" in text:
            header = i
        elif "Killed process" in text:
            end = i + 1
            while end < len(texts) and "Killed process" not in texts[end] and "invoked oom-killer" not in texts[end]:
                end += 1
            out.append(texts[header if header is not None else start : end])
            start, header = end, None
    return out


def build_payload(seed: int = 11, whole_excerpts: bool = False) -> tuple[dict[str, Any], int, int]:
    """(invocation event, decoded JSON bytes, log text bytes) for 10,000 events with 20 distinct reports
    (round-robin over the corpus excerpts with a kernel kill), or (``whole_excerpts``) 20 excerpts as they
    are, some of which hold a burst of kills or the start of a next report."""
    rng = random.Random(seed)
    excerpts = kernel_excerpts()
    if whole_excerpts:
        chosen = [excerpts[i % len(excerpts)] for i in range(REPORTS)]
    else:  # 20 distinct reports, round-robin over the excerpts: every source once before any source twice
        per_excerpt = [split_reports(texts) for texts in excerpts]
        rounds = max(len(reports) for reports in per_excerpt)
        order = [reports[k] for k in range(rounds) for reports in per_excerpt if k < len(reports)]
        chosen = order[:REPORTS]
    report_lines = sum(len(r) for r in chosen)
    noise_count = EVENTS - report_lines
    slots = sorted(rng.sample(range(noise_count), REPORTS))
    # One clock for the syslog stamp, the kernel's uptime and CloudWatch's timestamp: 100 lines a second of
    # noise (10,000 events span 100 s, as a busy host's delivery would), a report's lines 0.1 ms apart.
    messages: list[str] = []
    offsets_us: list[int] = []
    base = datetime(2026, 11, 26, 10, 0, 0)
    t_us = 0
    ri = 0

    def stamp() -> str:
        at = base + timedelta(microseconds=t_us)
        return f"{at:%b} {at.day:2d} {at:%H:%M:%S} web-1"

    for n in range(noise_count):
        while ri < REPORTS and slots[ri] == n:
            for text in chosen[ri]:
                t_us += 100
                messages.append(f"{stamp()} kernel: [{86_400 + t_us / 1e6:.6f}] {text}")
                offsets_us.append(t_us)
            ri += 1
        t_us += 10_000
        template = NOISE[rng.randrange(len(NOISE))]
        text = template.format(pid=rng.randint(300, 99_999), a=rng.randint(0, 255), b=rng.randint(1, 254),
                               port=rng.randint(1024, 65535), up=f"{86_400 + t_us / 1e6:.6f}")  # fmt: skip
        messages.append(f"{stamp()} {text}")
        offsets_us.append(t_us)
    start = int(time.time() * 1000) - 120_000
    events = [
        {"id": f"{start + t // 1000:020d}{i:036d}", "timestamp": start + t // 1000, "message": m}
        for i, (m, t) in enumerate(zip(messages, offsets_us, strict=True))
    ]
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/oomwatch/ec2/syslog",
        "logStream": INSTANCE,
        "subscriptionFilters": ["oomwatch-oom"],
        "logEvents": events,
    }
    raw = json.dumps(data).encode()
    text_bytes = sum(len(m.encode()) for m in messages)
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}, len(raw), text_bytes


# --------------------------------------------------------------------------- in-memory AWS


class FakeEC2:
    def describe_instances(self, **_: Any) -> dict[str, Any]:
        return {
            "Reservations": [
                {
                    "Instances": [
                        {
                            "InstanceId": INSTANCE,
                            "InstanceType": "m5.xlarge",
                            "Placement": {"AvailabilityZone": "eu-west-1a"},
                            "PrivateIpAddress": "10.0.1.23",
                            "ImageId": "ami-0123456789abcdef0",
                            "State": {"Name": "running"},
                            "Tags": [
                                {"Key": "Name", "Value": "web-1"},
                                {"Key": "aws:autoscaling:groupName", "Value": "web"},
                            ],
                        }
                    ]
                }
            ]
        }

    def describe_instance_types(self, **_: Any) -> dict[str, Any]:
        sizes = {"m5.large": 8192, "m5.xlarge": 16384, "m5.2xlarge": 32768}
        return {"InstanceTypes": [{"InstanceType": t, "MemoryInfo": {"SizeInMiB": m}} for t, m in sizes.items()]}


class FakeDynamoDB:
    """Answers like DynamoDB for the calls the handler makes (atomic counter per window)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def batch_write_item(self, **_: Any) -> dict[str, Any]:
        return {"UnprocessedItems": {}}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        if not kwargs.get("UpdateExpression", "").startswith("ADD #c :n"):
            return {}
        pk = kwargs["Key"]["pk"]["S"]
        values = kwargs["ExpressionAttributeValues"]
        self.counts[pk] = self.counts.get(pk, 0) + int(values[":n"]["N"])
        return {"Attributes": {"count": {"N": str(self.counts[pk])}, "instances": values[":inst"],
                               "top": values[":top"]}}  # fmt: skip


class FakeSNS:
    def __init__(self) -> None:
        self.published = 0

    def publish(self, **_: Any) -> dict[str, Any]:
        self.published += 1
        return {"MessageId": str(self.published)}


class FakeLogs:
    def filter_log_events(self, **_: Any) -> dict[str, Any]:
        return {"events": []}


class Context:
    function_name = "oomwatch-oom"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:oomwatch-oom"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def floor(event: dict[str, Any]) -> float:
    t = time.perf_counter()
    json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    return time.perf_counter() - t


def stub_runtime(stub: type[Any]) -> Any:
    """The container's Runtime with every part (EC2, the state families, SNS, Logs) built on ``stub`` clients:
    the wiring builds them, as in Lambda, with its ``Clients`` class swapped for the time it takes."""
    import service.handlers.oom
    import service.wiring

    real = service.wiring.Clients  # type: ignore[attr-defined]  # the name wiring builds the container with
    service.wiring.Clients = stub  # type: ignore[attr-defined]
    try:
        return service.wiring.runtime(service.handlers.oom.telemetry)
    finally:
        service.wiring.Clients = real  # type: ignore[attr-defined]


def bench_handler() -> None:
    os.environ.update(ENV)
    import service.handlers.oom
    from service.dal import clients as aws
    from service.wiring import reset_runtime

    sns, logs, ec2 = FakeSNS(), FakeLogs(), FakeEC2()
    ddb = FakeDynamoDB()
    fakes: dict[str, Any] = {"sns": sns, "logs": logs, "ec2": ec2, "dynamodb": ddb}

    class StubClients(aws.Clients):
        def get(self, service: str) -> Any:
            return fakes[service]

    reset_runtime()
    rt = stub_runtime(StubClients)
    from service.dal.logs import ReadBudget

    # The per-container FilterLogEvents budget (1/s) would make back-to-back runs wait: this measures CPU.
    rt.fetcher._budget = ReadBudget(rate=1e9, burst=1e9)
    sink = open(os.devnull, "w")  # noqa: SIM115 - the function's stdout (its log group) for the whole run
    service.handlers.oom.logger.registered_handler.setStream(sink)  # type: ignore[attr-defined]

    def measure(event: dict[str, Any]) -> tuple[float, float, dict[str, Any]]:
        handler_times, floor_times = [], []
        result: dict[str, Any] = {}
        for _ in range(REPEATS):
            floor_times.append(floor(event))
            ddb.counts.clear()  # every run sees its kills as new, as the first delivery of a storm would
            with contextlib.redirect_stdout(sink):
                t = time.perf_counter()
                result = service.handlers.oom.handler(event, Context())
                handler_times.append(time.perf_counter() - t)
        return min(handler_times), min(floor_times), result

    event, decoded, text_bytes = build_payload()
    best_h, best_f, result = measure(event)
    print(
        f"payload: {EVENTS} events, {text_bytes / 1e6:.2f} MB of log text, {decoded / 1e6:.2f} MB decoded JSON,"
        f" {len(event['awslogs']['data']) / 1e6:.2f} MB base64; {REPORTS} reports -> {result.get('kills')} kills,"
        f" {result.get('alerts')} alerts per run"
    )
    print(f"handler best {best_h * 1000:.1f} ms, decode floor best {best_f * 1000:.1f} ms (best of {REPEATS})")
    # For information: the corpus excerpts whole (bursts of kills, a next report's start) instead of 20 reports.
    excerpts, _, _ = build_payload(whole_excerpts=True)
    ex_h, ex_f, ex_result = measure(excerpts)
    print(
        f"(info: {REPORTS} whole corpus excerpts -> {ex_result.get('kills')} kills: handler {ex_h * 1000:.1f} ms,"
        f" floor {ex_f * 1000:.1f} ms = {ex_h / ex_f:.2f}x)"
    )
    print(f"handler_vs_decode: ratio={best_h / best_f:.2f} (target ≤ 3)")


def _import_time(module: str, cache: str | None, path: Path = LAMBDAS) -> float:
    """Seconds to import ``module`` in a fresh interpreter; ``cache`` None = never read or write bytecode
    for the code under ``path`` (copied without __pycache__), as the Lambda asset is deployed."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, **ENV, "PYTHONPATH": str(path)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cache is not None:
        env["PYTHONPYCACHEPREFIX"] = cache
    args = [sys.executable, "-c", code] if cache is not None else [sys.executable, "-B", "-c", code]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_import() -> None:
    """Both imports with their bytecode cached (a private cache, filled by one warm-up run each), so
    the ratio compares import work, not compilation: boto3 is byte-compiled when it is installed."""
    import tempfile

    handler, boto3 = [], []
    with tempfile.TemporaryDirectory(prefix="oomwatch-bench-pyc-") as cache:
        _import_time("boto3", cache)
        _import_time("service.handlers.oom", cache)
        for _ in range(IMPORT_REPEATS):
            boto3.append(_import_time("boto3", cache))
            handler.append(_import_time("service.handlers.oom", cache))
        # For information: the deployed asset carries no bytecode (CDK excludes __pycache__ and /var/task is
        # read-only), so Lambda compiles our modules from source at every cold start.
        import shutil

        with tempfile.TemporaryDirectory(prefix="oomwatch-bench-src-") as tmp:
            src = Path(tmp) / "lambdas"
            shutil.copytree(LAMBDAS, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            from_source = min(_import_time("service.handlers.oom", None, src) for _ in range(IMPORT_REPEATS))
    best_h, best_b = min(handler), min(boto3)
    print(f"import service.handlers.oom best {best_h * 1000:.1f} ms, import boto3 best {best_b * 1000:.1f} ms")
    print(
        f"(info: from source, as deployed without bytecode: {from_source * 1000:.1f} ms ="
        f" {from_source / best_b:.2f}x boto3)"
    )
    print(f"cold_import_vs_boto3: ratio={best_h / best_b:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    with contextlib.redirect_stderr(io.StringIO()):
        bench_handler()
    bench_import()
