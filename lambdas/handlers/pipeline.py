"""What the OOM handler does with one CloudWatch Logs subscription delivery.

decode -> parse (shared ``oomwatch`` parser) -> complete split reports from the stream ->
enrich from EC2 -> for each kill: classify, de-duplicate, count in its noise window, write the
structured event, publish what noise control lets through.

AWS access goes through the adapters in :class:`Runtime`; decisions and texts come from the
pure ``alerting`` package. A failed enrichment or context call only removes its part of the
alert (and says so); a failed publish makes the invocation fail so Lambda retries it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from alerting.classify import (
    Fingerprint,
    Severity,
    allow_listed,
    comm,
    fingerprint,
    severity,
    victim,
    workload,
    workload_label,
)
from alerting.instance import InstanceInfo, instance_id_from_stream
from alerting.render import KillView, Message, render_kill, render_loop
from alerting.settings import Settings
from alerting.text import clean, pct
from oomwatch import OomParser
from oomwatch.sanitise import sanitise

from handlers.aws import AwsError, Clients, error_code
from handlers.ec2 import InstanceDirectory, Lookup
from handlers.logs import ContextFetcher
from handlers.regions import select
from handlers.sns import Publisher
from handlers.state import Claim, Count, DynamoState, KillRecord, KillState, MemoryState, VictimSummary

# Keys the logging library owns; an event field with one of these names is logged as event_<name>.
_RESERVED_LOG_KEYS = frozenset(
    {"message", "timestamp", "level", "location", "service", "name", "msg", "args", "process", "module",
     "filename", "exc_info", "stack_info", "lineno", "thread", "created", "asctime"}
)  # fmt: skip
CONTEXT_SPAN_MS = 10 * 60_000  # one fetch covers incomplete kills within this span


class Telemetry(Protocol):
    def event(self, record: dict[str, Any]) -> None: ...

    def info(self, message: str, **fields: Any) -> None: ...

    def warning(self, message: str, **fields: Any) -> None: ...

    def kills(self, severity: str, source: str, count: int) -> None: ...

    def count(self, name: str, value: int = 1) -> None: ...


@dataclass(eq=False)
class Runtime:
    """The handler's collaborators, built once per container and reused by warm invocations."""

    settings: Settings
    clients: Clients
    directory: InstanceDirectory
    store: DynamoState
    fallback: MemoryState
    publisher: Publisher
    fetcher: ContextFetcher
    telemetry: Telemetry
    clock: Callable[[], float]


class PublishFailed(RuntimeError):
    """At least one alert could not be published: fail the invocation so Lambda retries it."""


@dataclass(eq=False)
class Kill:
    event: dict[str, Any]
    time_ms: int
    notes: list[str] = field(default_factory=list)
    context: str | None = None  # fetched | not_found | failed


@dataclass(eq=False)
class Outcome:
    kills: int = 0
    alerts: int = 0
    folded: int = 0
    duplicates: int = 0
    event_only: int = 0
    failed: int = 0
    control: bool = False
    by_dimensions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (severity, source) -> kills

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "by_dimensions"}


# --------------------------------------------------------------------------- parsing


def parse_log_events(events: Sequence[Mapping[str, Any]], stream: str) -> list[Kill]:
    """Feed log events (``id``, ``timestamp``, ``message``) through the shared parser; one Kill per kill.

    Only the lines of regions around kill lines are fed (see :mod:`handlers.regions`).
    """
    if not events:
        return []
    lines = [str(e["message"]) for e in events]
    joined = "\n".join(lines)
    text: str | None = joined  # handed to select() when it is exactly the lines joined
    owner: list[int] | None = None  # line index -> event index, when an event holds several lines
    if joined.count("\n") != len(lines) - 1:  # multi-line events (rsyslog, agent multi_line_start_pattern)
        text = None
        split_lines: list[str] = []
        owner = []
        for n, line in enumerate(lines):
            parts = [part for part in line.split("\n") if part] if "\n" in line else [line]
            split_lines.extend(parts)
            owner.extend([n] * len(parts))
        lines = split_lines
    parser = OomParser()
    feed = parser.feed
    for i in select(lines, text):
        e = events[i if owner is None else owner[i]]
        feed(lines[i], stream=stream, time_ms=int(e["timestamp"]), event_id=str(e["id"]))
    last_ms = int(events[-1]["timestamp"])
    return [Kill(event=ev, time_ms=last_ms if t is None else t) for ev, t in parser.finish_timed()]


def needs_context(ev: Mapping[str, Any]) -> bool:
    """A kernel kill without its trigger line or task table (a report split across deliveries)."""
    if ev.get("source", "kernel") != "kernel" or ev.get("complete"):
        return False
    return ev.get("trigger") is None or not ev.get("task_count")


def _richness(ev: Mapping[str, Any]) -> int:
    return (ev.get("trigger") is not None) + bool(ev.get("task_count")) + bool(ev.get("cgroup"))


def complete_from_stream(kills: Sequence[Kill], log_group: str, stream: str, rt: Runtime) -> None:
    """Fill in incomplete kills from the surrounding lines of their stream (one bounded fetch)."""
    todo = [k for k in kills if needs_context(k.event)]
    if not todo or not log_group:
        return
    first = min(k.time_ms for k in todo)
    todo = [k for k in todo if k.time_ms - first <= CONTEXT_SPAN_MS]
    s = rt.settings
    fetched = rt.fetcher.fetch(
        log_group, stream, first - s.context_before_s * 1000, max(k.time_ms for k in todo) + s.context_after_s * 1000
    )
    rt.telemetry.count("ContextFetches")
    if fetched.error:
        rt.telemetry.count("ContextFetchFailures")
        for k in todo:
            k.context = "failed"
            k.notes.append(f"The surrounding lines could not be read: {fetched.error}.")
        return
    found = parse_log_events(
        [{"id": e.get("eventId", ""), "timestamp": e.get("timestamp", 0), "message": e.get("message", "")}
         for e in fetched.events],
        stream,
    )  # fmt: skip
    for k in todo:
        kv = victim(k.event)
        candidates = [
            f
            for f in found
            if victim(f.event).get("pid") == kv.get("pid")
            and victim(f.event).get("comm") == kv.get("comm")
            and abs(f.time_ms - k.time_ms) <= 5_000
        ]
        best = min(candidates, key=lambda f: abs(f.time_ms - k.time_ms), default=None)
        if best is not None and _richness(best.event) > _richness(k.event):
            merged = dict(best.event)
            merged["kill_event_id"] = k.event.get("kill_event_id")
            merged["units"] = sorted(set(merged.get("units") or []) | set(k.event.get("units") or []))
            context = list(merged.get("systemd_context") or [])
            context += [c for c in k.event.get("systemd_context") or [] if c not in context]
            merged["systemd_context"] = context[:16]
            k.event = merged
            k.context = "fetched"
            if not merged.get("complete"):
                k.notes.append("Completed in part from the surrounding lines; some of the report is still missing.")
        else:
            k.context = "not_found"
            extra = " (read limit reached)" if fetched.truncated else ""
            k.notes.append(
                f"The trigger line or task table was in neither this delivery nor the {len(fetched.events)}"
                f" surrounding lines of the stream{extra}."
            )


# --------------------------------------------------------------------------- one kill


def kill_key(ev: Mapping[str, Any], stream: str, time_ms: int) -> str:
    """What makes a kill the same kill: stable across retries, duplicate deliveries and copies.

    A kill line keeps its content whichever way it reaches us. With the default agent config an Ubuntu host
    ships each kernel line up to three times (/var/log/syslog, /var/log/kern.log and the journal), each copy
    with its own log event id; keyed on the event id alone, the copies would count as repeats and trip the
    OOM-loop escalation. So a parsed kill is keyed on its stream, pid, comm and memory figures (a pid is
    killed once); the log event id of the kill line is the key only when the line did not parse.
    """
    from hashlib import sha256  # only when there are kills

    v = victim(ev)
    source = ev.get("source") or "kernel"
    cgroup = ev.get("cgroup") or {}
    if v.get("pid") not in (None, -1) and v.get("comm") is not None:
        basis = (
            f"{stream}|{source}|{v.get('pid')}|{v.get('comm')}|{v.get('total_vm_kb')}|{v.get('anon_rss_kb')}"
            f"|{v.get('file_rss_kb')}|{v.get('rss_kb')}"
        )
    elif source == "systemd-oomd" and cgroup.get("task_memcg"):
        basis = f"{stream}|{source}|{cgroup.get('task_memcg')}|{ev.get('message')}"
    elif ev.get("kill_event_id"):
        return str(ev["kill_event_id"])[:200]
    else:
        basis = f"{stream}|{v.get('pid')}|{v.get('comm')}|{ev.get('kill_line') or ''}|{time_ms}"
    return "k" + sha256(basis.encode()).hexdigest()[:40]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def event_record(view: KillView, decision: str, kill: Kill, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The structured ``oom_kill`` event: the parser's event plus enrichment and the decision.

    The parser's event and the instance block were sanitised where their text entered (event build, EC2
    lookup); the strings derived from them here pass through the same function again.
    """
    rec: dict[str, Any] = {}
    for key, value in view.event.items():
        rec[f"event_{key}" if key in _RESERVED_LOG_KEYS else key] = value
    inst = view.instance.as_log() if view.instance else ({"id": view.instance_id} if view.instance_id else None)
    rss = victim(view.event).get("rss_kb")
    rec.update(
        kill_time=_iso(view.kill_time_ms),
        instance_id=view.instance_id,
        instance=inst,
        rss_share_pct=pct(rss, view.instance.memory_kb if view.instance else None),
        severity=view.severity.level,
        severity_reason=sanitise(view.severity.reason, 512),
        fingerprint=view.fingerprint.key,
        fingerprint_label=sanitise(view.fingerprint.label, 512),
        occurrence=view.occurrence,
        decision=decision,
        account=view.account,
        region=view.region,
        log_group=view.log_group,
        workload_label=sanitise(workload_label(view.event), 512) or None,
        notes=[sanitise(n, 1024) for n in view.notes],
        context=kill.context,
    )
    rec.update(extra)
    return rec


class Delivery(NamedTuple):
    """Facts about the delivery that every kill in it shares."""

    log_group: str
    stream: str
    account: str
    instance_id: str | None
    lookup: Lookup
    now_s: float


@dataclass(eq=False)
class Work:
    """One kill on its way through noise control."""

    kill: Kill
    key: str
    info: InstanceInfo | None
    sev: Severity
    fp: Fingerprint
    where: str
    notes: list[str]
    state: KillState
    claim: Claim | None = None
    count: Count | None = None
    messages: list[Message] = field(default_factory=list)
    decision: str = ""

    @property
    def first_attempt(self) -> bool:
        return self.claim is not None and self.claim.occurrence is None


def _summary(w: Work) -> VictimSummary:
    v = victim(w.kill.event)
    pid = v.get("pid")
    rss = v.get("rss_kb")
    return VictimSummary(
        kill_key=w.key,
        comm=clean(comm(w.kill.event), 64),
        pid=pid if isinstance(pid, int) else None,
        rss_kb=rss if isinstance(rss, int) else None,
        where=w.where,
        time_ms=w.kill.time_ms,
        critical=w.sev.level == "critical",
    )


def _degraded_note(exc: BaseException) -> str:
    return (
        f"Noise control ran from this function's memory only: DynamoDB failed ({error_code(exc)});"
        " duplicates are possible and no digest will follow for this window."
    )


def _view(w: Work, d: Delivery, s: Settings) -> KillView:
    count = w.count or Count(occurrence=0, window_start_ms=0, window_end_ms=0, instances=[])
    return KillView(
        event=w.kill.event, kill_time_ms=w.kill.time_ms, instance_id=d.instance_id, instance=w.info,
        severity=w.sev, fingerprint=w.fp, occurrence=count.occurrence, window_minutes=s.window_minutes,
        loop_threshold=s.loop_threshold, region=s.region, account=d.account, log_group=d.log_group,
        stream=d.stream, previous_window_count=count.prev_count, notes=tuple(w.notes),
    )  # fmt: skip


def _to_fallback(works: Sequence[Work], exc: BaseException, step: str, rt: Runtime) -> None:
    rt.telemetry.warning("state_unavailable", step=step, error=error_code(exc))
    rt.telemetry.count("StateFailures")
    for w in works:
        w.notes.append(_degraded_note(exc))
        w.state = rt.fallback


def _claim(works: Sequence[Work], d: Delivery, rt: Runtime) -> None:
    try:
        claims = rt.store.claim_kills([w.key for w in works], d.now_s)
    except AwsError as exc:
        _to_fallback(works, exc, "claim", rt)
        claims = rt.fallback.claim_kills([w.key for w in works], d.now_s)
    for w in works:
        w.claim = claims.get(w.key)


def _count(works: Sequence[Work], d: Delivery, rt: Runtime) -> None:
    """Number the new kills within their fingerprint's window (one counter update per fingerprint)."""
    s = rt.settings
    groups: dict[str, list[Work]] = {}
    for w in works:
        if w.claim is not None and w.claim.occurrence is not None:
            c = w.claim
            w.count = Count(c.occurrence or 0, c.window_start_ms or 0, c.window_end_ms or 0, c.instances, c.prev_count)
        elif w.claim is not None:
            groups.setdefault(w.fp.key, []).append(w)
    for group in groups.values():
        state = group[0].state
        try:
            counts = state.count_kills(group[0].fp, d.now_s, s.window_seconds, [_summary(w) for w in group])
        except AwsError as exc:
            _to_fallback(group, exc, "count", rt)
            rt.fallback.claim_kills([w.key for w in group], d.now_s)
            counts = rt.fallback.count_kills(group[0].fp, d.now_s, s.window_seconds, [_summary(w) for w in group])
        for w, count in zip(group, counts, strict=True):
            w.count = count


def _save(records: dict[int, tuple[KillState, list[KillRecord]]], d: Delivery, rt: Runtime, step: str) -> None:
    for state, rows in records.values():
        if rows:
            _quiet(rt, step, lambda state=state, rows=rows: state.save_kills(rows, d.now_s))  # type: ignore[misc]


def _rows(works: Iterable[Work], done: Callable[[Work], bool]) -> dict[int, tuple[KillState, list[KillRecord]]]:
    out: dict[int, tuple[KillState, list[KillRecord]]] = {}
    for w in works:
        if w.count is not None:
            out.setdefault(id(w.state), (w.state, []))[1].append(KillRecord(w.key, w.count, done(w), w.decision))
    return out


def handle_kills(kills: Sequence[Kill], d: Delivery, rt: Runtime, out: Outcome, failures: list[BaseException]) -> None:
    """Classify, de-duplicate, count, log and alert every kill of one delivery."""
    s = rt.settings
    info = d.lookup.instances.get(d.instance_id) if d.instance_id else None
    works: list[Work] = []
    for kill in kills:
        ev = kill.event
        sev = severity(ev, s.critical_processes)
        fp = fingerprint(ev, d.instance_id, info)
        where = d.instance_id or clean(ev.get("host") or d.stream, 64) or "unknown"
        w = Work(kill, kill_key(ev, d.stream, kill.time_ms), info, sev, fp, where, [*d.lookup.notes, *kill.notes],
                 rt.store)  # fmt: skip
        allowed = allow_listed(ev, info, s.allow_list)
        if allowed:
            rt.telemetry.event(
                event_record(_view(w, d, s), "event_only", kill, {"allow_listed": allowed, "kill_key": w.key})
            )
            rt.telemetry.kills(sev.level, fp.source, 1)
            out.event_only += 1
            out.kills += 1
            continue
        works.append(w)
    if not works:
        return

    _claim(works, d, rt)
    for w in works:
        if w.claim is None:
            rt.telemetry.info("duplicate_kill", kill_key=w.key, stream=d.stream)
            rt.telemetry.count("DuplicateKills")
            out.duplicates += 1
    works = [w for w in works if w.claim is not None]
    _count(works, d, rt)

    folded = 0
    for w in works:
        assert w.count is not None
        view = _view(w, d, s)
        if w.count.occurrence == 1:
            w.messages.append(render_kill(view))
        if w.count.occurrence == s.loop_threshold:
            w.messages.append(render_loop(view, w.count.instances))
        kinds = "+".join(m.kind.removeprefix("oom_") for m in w.messages)
        w.decision = {"kill": "alert", "loop": "loop", "kill+loop": "alert+loop"}.get(kinds, "folded")
        if w.first_attempt:
            extra = {"kill_key": w.key, "durable_state": w.state.durable}
            rt.telemetry.event(event_record(view, w.decision, w.kill, extra))
            out.by_dimensions[(w.sev.level, w.fp.source)] += 1
            out.kills += 1
        if not w.messages:
            out.folded += 1
            folded += 1
    if folded:
        rt.telemetry.count("KillsFolded", folded)

    # Remember every new kill's place (folded ones are done; the others wait for their publish).
    _save(_rows((w for w in works if w.first_attempt), lambda w: not w.messages), d, rt, "save")

    published: list[Work] = []
    sent = 0
    try:
        for w in (w for w in works if w.messages):
            try:
                for message in w.messages:
                    rt.publisher.publish(message)
                    sent += 1
                    out.alerts += 1
            except AwsError as exc:
                rt.telemetry.warning("publish_failed", kill_key=w.key, error=error_code(exc))
                rt.telemetry.count("PublishFailures")
                _quiet(rt, "release", lambda w=w: w.state.release_kill(w.key))  # type: ignore[misc]
                out.failed += 1
                failures.append(exc)
                continue
            published.append(w)
    finally:
        if sent:
            rt.telemetry.count("AlertsSent", sent)  # one EMF value per invocation, not one per alert
    _save(_rows(published, lambda w: True), d, rt, "finish")


def _quiet(rt: Runtime, step: str, call: Callable[[], None]) -> None:
    """A bookkeeping write whose failure must not cost the alert (the event is already logged)."""
    try:
        call()
    except AwsError as exc:
        rt.telemetry.warning("state_unavailable", step=step, error=error_code(exc))
        rt.telemetry.count("StateFailures")


def record_last_kills(kills: Sequence[Kill], d: Delivery, rt: Runtime) -> None:
    """Store the newest kill of this delivery as the instance's "last kill" (for alarm notices).

    A userspace-killer line whose sender is not verified (anyone can write it to a text log) never replaces it.
    """
    kills = [k for k in kills if k.event.get("sender_verified") is not False]
    if not d.instance_id or not kills:
        return
    latest = max(kills, key=lambda k: k.time_ms)
    v = victim(latest.event)
    summary = {
        "time_ms": latest.time_ms,
        "comm": clean(comm(latest.event), 64),
        "pid": v.get("pid") if isinstance(v.get("pid"), int) else None,
        "rss_kb": v.get("rss_kb") if isinstance(v.get("rss_kb"), int) else None,
        "severity": severity(latest.event, rt.settings.critical_processes).level,
        "constraint": str(latest.event.get("constraint") or "unknown"),
        "workload": clean(workload_label(latest.event) or "", 120) or None,
        "workload_kind": str(workload(latest.event).get("kind") or "") or None,
        "kill_event_id": str(latest.event.get("kill_event_id") or "") or None,
    }
    _quiet(rt, "last_kill", lambda: rt.store.put_last_kill(d.instance_id or "", summary, d.now_s))


# --------------------------------------------------------------------------- one delivery


def process_subscription(raw_event: Mapping[str, Any], rt: Runtime) -> dict[str, Any]:
    """Handle one subscription delivery; raises :class:`PublishFailed` if an alert was not sent."""
    # Imported on first use: the data-classes package imports every event source (~15 ms of cold start).
    from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import CloudWatchLogsEvent

    data = CloudWatchLogsEvent(dict(raw_event)).parse_logs_data()
    out = Outcome()
    if data.message_type != "DATA_MESSAGE":
        out.control = True
        return out.as_dict()
    rt.store.new_invocation()
    stream = data.log_stream
    # The decoded list itself: a wrapper object per event (data.log_events) would cost more than decoding.
    kills = parse_log_events(data["logEvents"], stream)
    if not kills:
        return out.as_dict()
    complete_from_stream(kills, data.log_group, stream, rt)
    instance_id = instance_id_from_stream(stream)
    lookup = rt.directory.lookup([instance_id]) if instance_id else Lookup()
    if lookup.failed:
        rt.telemetry.count("EnrichmentFailures", len(lookup.failed))
        rt.telemetry.warning("enrichment_failed", calls=lookup.failed, instance_id=instance_id)
    delivery = Delivery(
        log_group=data.log_group,
        stream=stream,
        account=data.owner,
        instance_id=instance_id,
        lookup=lookup,
        now_s=rt.clock(),
    )
    failures: list[BaseException] = []
    try:
        handle_kills(kills, delivery, rt, out, failures)
    finally:
        for (level, source), count in sorted(out.by_dimensions.items()):
            rt.telemetry.kills(level, source, count)
    record_last_kills(kills, delivery, rt)
    if failures:
        raise PublishFailed(
            f"{len(failures)} alert(s) not published ({error_code(failures[0])}); the invocation fails so"
            " Lambda retries it, then hands the payload to the dead-letter queue"
        ) from failures[0]
    return out.as_dict()
