"""Shared test kit for the Lambda handler tests: real corpus reports, real subscription payloads
(gzip + base64), a moto world (table, topic, log group, instances) and capture of what the
handlers publish and log.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import moto  # noqa: F401 - must be imported before the session below, so moto can intercept its clients

# A session kept across tests: moto resets boto3's default session on every mock start, which
# would re-parse the service models (seconds per test).
_SESSION = boto3.session.Session()


def serialise(patch: Any, owner: type, names: Iterable[str], lock: Any) -> None:
    """Make threads call ``owner``'s methods one at a time (moto and Powertools' metrics do not lock).

    ``patch`` is pytest's monkeypatch, so the methods are restored after the test.
    """
    for name in names:
        original = getattr(owner, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        patch.setattr(owner, name, locked)


def client(service: str) -> Any:
    return _SESSION.client(service, region_name=REGION)


FIXED_MS = 1_795_169_700_000  # 2026-11-20 10:15:00 UTC: kill time of the snapshot payloads


class Clock:
    """Settable time for noise windows and caches (seconds since the epoch)."""

    def __init__(self, start_s: float) -> None:
        self.now = start_s

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


INSTANCES = [
    ("web-1", "t3.large", "web-asg"),
    ("web-2", "t3.large", "web-asg"),
    ("web-3", "t3.large", "web-asg"),
    ("db-1", "r5.xlarge", None),
]


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
TABLE = "oomwatch-state"
SYSLOG_GROUP = "/oomwatch/ec2/syslog"
EVENTS_GROUP = "/aws/lambda/oomwatch-oom"


def corpus_lines(name: str) -> list[str]:
    """The lines of a corpus report without its ``# `` comment lines (read from tests/corpus)."""
    matches = sorted(CORPUS.glob(f"{name}*.log"))
    assert matches, f"corpus file {name}* not found under {CORPUS}"
    text = matches[0].read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.startswith("# ") and line != "#"]


def event_id(time_ms: int, seq: int) -> str:
    """A 56-digit id shaped like CloudWatch Logs' own."""
    return f"{time_ms:020d}{seq:036d}"


@dataclass
class LogEvent:
    id: str
    timestamp: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "timestamp": self.timestamp, "message": self.message}


def log_events(lines: Sequence[str], start_ms: int, step_ms: int = 1, seq0: int = 0) -> list[LogEvent]:
    return [LogEvent(event_id(start_ms + i * step_ms, seq0 + i), start_ms + i * step_ms, line) for i, line in
            enumerate(lines)]  # fmt: skip


def payload(
    stream: str,
    events: Iterable[LogEvent],
    group: str = SYSLOG_GROUP,
    message_type: str = "DATA_MESSAGE",
    owner: str = ACCOUNT,
) -> dict[str, Any]:
    """A CloudWatch Logs subscription invocation event, encoded as Lambda receives it."""
    data = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["oomwatch-oom"],
        "logEvents": [e.as_dict() for e in events],
    }
    raw = gzip.compress(json.dumps(data).encode("utf-8"))
    return {"awslogs": {"data": base64.b64encode(raw).decode("ascii")}}


def only_filter_lines(events: Sequence[LogEvent]) -> list[LogEvent]:
    """What the subscription filter passes: the lines that start, identify and end a report."""
    keys = (
        "invoked oom-killer",
        "Killed process",
        "oom-kill:",
        "Task in ",
        "oom_reaper",
        "Memory cgroup out of memory",
    )
    return [e for e in events if any(k in e.message for k in keys)]


@dataclass
class Sent:
    subject: str
    text: str
    doc: dict[str, Any]
    attributes: dict[str, str]


@dataclass
class World:
    topic_arn: str
    instances: dict[str, str] = field(default_factory=dict)  # Name -> instance id

    def sent(self) -> list[Sent]:
        """Every SNS publish so far, decoded (moto keeps them on the topic)."""
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        out = []
        for _mid, message, subject, attrs, _group in topic.sent_notifications:
            body = json.loads(message)
            out.append(
                Sent(
                    subject=subject or "",
                    text=body["email"],
                    doc=json.loads(body["default"]),
                    attributes={
                        k: v["Value"] if isinstance(v, dict) and "Value" in v else str(v)
                        for k, v in (attrs or {}).items()
                    },
                )
            )
        return out


def make_world(instances: Iterable[tuple[str, str, str | None]] = ()) -> World:
    """Create the table, topic, syslog group and (name, type, asg) instances inside mock_aws."""
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    topic = client("sns").create_topic(Name="oomwatch-alerts")["TopicArn"]
    client("logs").create_log_group(logGroupName=SYSLOG_GROUP)
    world = World(topic_arn=topic)
    ec2 = client("ec2")
    for name, itype, asg in instances:
        tags = [{"Key": "Name", "Value": name}, {"Key": "team", "Value": "web"}]
        if asg:
            tags.append({"Key": "aws:autoscaling:groupName", "Value": asg})
        resp = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType=itype,
            Placement={"AvailabilityZone": f"{REGION}a"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        world.instances[name] = resp["Instances"][0]["InstanceId"]
    return world


def put_stream(stream: str, events: Sequence[LogEvent], group: str = SYSLOG_GROUP) -> None:
    """Write a full report into the moto log group, so FilterLogEvents can find the context."""
    logs = client("logs")
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": e.timestamp, "message": e.message} for e in events],
    )


class FakeContext:
    function_name = "oomwatch-oom"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:oomwatch-oom"
    log_group_name = EVENTS_GROUP
    log_stream_name = "2026/11/26/[$LATEST]0123"

    def __init__(self, request_id: str | None = None, remaining_ms: int = 30_000) -> None:
        """Each invocation is its own request unless ``request_id`` says it is Lambda's retry of one."""
        import uuid

        self.aws_request_id = request_id or str(uuid.uuid4())
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class LogCapture:
    """Reads what the Powertools logger wrote (the function's JSON log = the events log group)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.startswith("{")]

    def events(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("message") == "oom_kill"]


def snapshot(name: str, text: str) -> None:
    """Compare with tests/handlers/snapshots/<name>; UPDATE_SNAPSHOTS=1 rewrites the file."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"snapshot {name} is missing; run with UPDATE_SNAPSHOTS=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"snapshot {name} differs; run with UPDATE_SNAPSHOTS=1 to accept the new text"


def normalize(text: str, world: World) -> str:
    """Replace what moto makes up (instance ids, private IPs, launch times) with fixed values."""
    import re

    for n, (_name, iid) in enumerate(sorted(world.instances.items()), start=1):
        text = text.replace(iid, f"i-0{n:016x}")
    text = re.sub(r"IP \d+\.\d+\.\d+\.\d+", "IP 10.0.0.10", text)
    text = re.sub(r"\"private_ip\": \"[0-9.]+\"", '"private_ip": "10.0.0.10"', text)
    return re.sub(r"Launched:(\s+)\d{4}-\d\d-\d\d \d\d:\d\d UTC", r"Launched:\g<1>2026-11-01 08:00 UTC", text)


def flat(text: str) -> str:
    """An alert body with its phone wrapping undone (runs of white space as one space), for substring checks."""
    return " ".join(text.split())


def rendered(sent: Sent, world: World) -> str:
    """Subject, attributes and body of one SNS message as one text, for snapshots."""
    attrs = ", ".join(f"{k}={v}" for k, v in sorted(sent.attributes.items()))
    return normalize(f"Subject: {sent.subject}\nAttributes: {attrs}\n\n{sent.text}", world)


def php_report(host: str, pid: int, rss_kb: int, uptime: float, stamp: str = "Nov 20 10:15:00") -> list[str]:
    """A compact, complete kernel 5.15 global OOM report killing one php-fpm worker (syslog format).

    Used for storms, where hundreds of distinct kills are needed; the format is the one the
    corpus shows for Ubuntu 20.04/22.04 rsyslog (kernel: [uptime] ...).
    """
    prefix = f"{stamp} {host} kernel: [{uptime:.6f}] "
    pages = rss_kb // 4
    rows = [(812, 0, 120000, 30000, "mysqld"), (pid - 1, 33, pages + 88000, max(1, pages - 2000), "php-fpm8.1"),
            (pid, 33, pages + 95000, pages, "php-fpm8.1")]  # fmt: skip
    out = [
        f"{prefix}php-fpm8.1 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0,"
        " oom_score_adj=0",
        f"{prefix}CPU: 1 PID: {pid} Comm: php-fpm8.1 Not tainted 5.15.0-1051-aws #56-Ubuntu",
        f"{prefix}Tasks state (memory values in pages):",
        f"{prefix}[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    ]
    for rpid, uid, vm, rss, name in rows:
        out.append(f"{prefix}[{rpid:>7}] {uid:>5} {rpid:>5} {vm:>8} {rss:>8}   524288        0             0 {name}")
    out.append(
        f"{prefix}oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
        f"task_memcg=/system.slice/php8.1-fpm.service,task=php-fpm8.1,pid={pid},uid=33"
    )
    out.append(
        f"{prefix}Out of memory: Killed process {pid} (php-fpm8.1) total-vm:{rss_kb + 380000}kB,"
        f" anon-rss:{rss_kb - 4000}kB,"
        f" file-rss:4000kB, shmem-rss:0kB, UID:33 pgtables:512kB oom_score_adj:0"
    )
    return out


def kills(host: str, first_pid: int, count: int, start_ms: int, rss_kb: int = 600_000) -> list[LogEvent]:
    """``count`` complete php-fpm reports from one host, 1 s apart, as log events."""
    events: list[LogEvent] = []
    for n in range(count):
        t = start_ms + n * 1000
        for i, line in enumerate(php_report(host, first_pid + 10 * n, rss_kb + 1000 * n, 5000.0 + n)):
            events.append(LogEvent(event_id(t + i, first_pid + 10 * n + i), t + i, line))
    return events


def emf(stdout: str) -> list[dict[str, Any]]:
    """The EMF metric blobs Powertools printed."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
