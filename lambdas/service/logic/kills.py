"""What the OOM handler does with one CloudWatch Logs subscription delivery.

decode -> parse (shared ``oomwatch`` parser) -> complete split reports (log_mode=oom: from the
stream's stash; otherwise by reading the stream back) -> enrich from EC2 -> for each kill: classify,
claim, count in its noise window, write the structured event, publish what noise control lets
through, commit (the delivery protocol of :mod:`service.logic.delivery`).

AWS access goes through the adapters in :class:`Runtime`; decisions and texts come from the
pure modules of :mod:`service.logic`. A failed enrichment or context call only removes its part of the
alert (and says so); a failed publish makes the invocation fail so Lambda retries it; a kill that
cannot be classified or rendered goes out in a minimal form without affecting the others.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from oomwatch.event import OomEvent, Workload
from oomwatch.sanitise import sanitise

from service.dal.clients import error_code
from service.dal.ec2 import Lookup
from service.dal.state import Claim, Count, KillRecord, KillState, VictimSummary
from service.logic import events as bus_events
from service.logic.alert_text import render_kill, render_loop
from service.logic.delivery import PUBLISH_RESERVE_S, attempt, commit_or_keep, quietly
from service.logic.hints import hint_lines
from service.logic.layout import attributes
from service.logic.mutes import breakthrough_note, mute_of
from service.logic.ports import PublishFailed, Runtime, warn_state
from service.logic.reassembly import (
    Kill,
    complete_from_stash,
    complete_from_stream,
    inherited_groups,
    parse_log_events,
    stash_mode,
    stash_tail,
)
from service.logic.severity import allow_listed, fingerprint, severity, workload_label
from service.logic.text import ascii_only, clean, clean_raw_line, pct
from service.models.attempt import Attempt
from service.models.decisions import Fingerprint, Severity
from service.models.event_record import EventRecord, InstanceLog, MinimalEventRecord, RecordExtra
from service.models.instance import InstanceInfo, instance_id_from_stream
from service.models.settings import Settings
from service.models.views import KillView, Message


class Outcome:
    """What one delivery did, counted: the handler's return value (``as_dict``) and its metrics."""

    def __init__(self) -> None:
        self.kills = 0
        self.alerts = 0
        self.folded = 0
        self.duplicates = 0
        self.event_only = 0
        self.muted = 0
        self.failed = 0
        self.control = False
        self.by_dimensions: Counter[tuple[str, str]] = Counter()  # (severity, source) -> kills

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "by_dimensions"}


# --------------------------------------------------------------------------- parsing


# --------------------------------------------------------------------------- one kill


def kill_key(ev: OomEvent, stream: str, time_ms: int, host: str | None = None) -> str:
    """What makes a kill the same kill: the host and the kill's own content, never the stream.

    A kill line keeps its content whichever way it reaches us: an Ubuntu host ships each kernel
    line up to three times (/var/log/syslog, /var/log/kern.log and the journal), an existing setup
    may have a stream per file, each copy with its own log event id. Keyed on the stream or the
    event id, the copies would count as repeats and trip the OOM-loop escalation. So a parsed kill
    is keyed on its host (the instance id, else the syslog host name; the stream only when nothing
    names the host), source, pid, comm and memory figures; the log event id of the kill line is the
    key only when the line did not parse. The boot is not in the key: a journal copy may carry no
    uptime while the syslog copy does, so the copies would differ; the same pid, comm and four
    memory figures after a reboot within the key's 2-day life is the accepted collision.
    """
    from hashlib import sha256  # only when there are kills

    v = ev["victim"]
    source = ev.get("source") or "kernel"
    task_memcg = cg.get("task_memcg") if (cg := ev.get("cgroup")) else None
    where = host or ev.get("host") or stream
    if v.get("pid") not in (None, -1) and v.get("comm") is not None:
        basis = (
            f"{where}|{source}|{v.get('pid')}|{v.get('comm')}|{v.get('total_vm_kb')}|{v.get('anon_rss_kb')}"
            f"|{v.get('file_rss_kb')}|{v.get('rss_kb')}"
        )
    elif source == "systemd-oomd" and task_memcg:
        basis = f"{where}|{source}|{task_memcg}|{ev.get('message')}"
    elif ev.get("kill_event_id"):
        return str(ev["kill_event_id"])[:200]
    else:
        basis = f"{where}|{v.get('pid')}|{v.get('comm')}|{ev.get('kill_line') or ''}|{time_ms}"
    return "k" + sha256(basis.encode()).hexdigest()[:40]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def event_record(view: KillView, decision: str, kill: Kill, extra: RecordExtra) -> EventRecord:
    """The structured ``oom_kill`` event: the parser's event plus enrichment and the decision.

    The parser's event and the instance block were sanitised where their text entered (event build, EC2
    lookup); the strings derived from them here pass through the same function again.
    """
    inst: InstanceLog | None = (
        view.instance.as_log() if view.instance else ({"id": view.instance_id} if view.instance_id else None)
    )
    rss = view.event["victim"].get("rss_kb")
    return {
        **view.event,
        "kill_time": _iso(view.kill_time_ms),
        "instance_id": view.instance_id,
        "instance": inst,
        "rss_share_pct": pct(rss, view.instance.memory_kb if view.instance else None),
        "severity": view.severity.level,
        "severity_reason": sanitise(view.severity.reason, 512),
        "fingerprint": view.fingerprint.key,
        "fingerprint_label": sanitise(view.fingerprint.label, 512),
        "occurrence": view.occurrence,
        "decision": decision,
        "account": view.account,
        "region": view.region,
        "log_group": view.log_group,
        "workload_label": sanitise(workload_label(view.event), 512) or None,
        "notes": [sanitise(n, 1024) for n in view.notes],
        "context": kill.context,
        **extra,
    }


class LogDelivery(NamedTuple):
    """Facts about one CloudWatch Logs subscription delivery that every kill in it shares."""

    log_group: str
    stream: str
    account: str
    instance_id: str | None
    lookup: Lookup
    now_s: float
    attempt: Attempt


class KillCase:
    """One kill on its way through noise control: what it is, then what noise control found and did."""

    def __init__(
        self,
        kill: Kill,
        key: str,
        info: InstanceInfo | None,
        sev: Severity,
        fp: Fingerprint,
        where: str,
        notes: list[str],
        state: KillState,
    ) -> None:
        self.kill = kill
        self.key = key
        self.info = info
        self.sev = sev
        self.fp = fp
        self.where = where
        self.notes = notes
        self.state = state
        self.claim: Claim | None = None
        self.count: Count | None = None
        self.messages: list[Message] = []
        self.decision = ""
        self.render_error: BaseException | None = None
        self.memory: tuple[str, ...] | None = None  # the sparkline lines (service.logic.memory_history); None: not read
        self.mute_id: str | None = None  # the mute it broke through (mute_breakthrough_critical)
        self.sent: list[Message] = []  # what went out in this invocation (its events follow)
        self.record: EventRecord | None = None  # the structured event written for it, if this invocation wrote one

    @property
    def first_attempt(self) -> bool:
        return self.claim is not None and self.claim.occurrence is None

    @property
    def sent_kinds(self) -> list[str]:
        return [m.kind for m in self.sent]


def _summary(w: KillCase) -> VictimSummary:
    v = w.kill.event["victim"]
    pid = v.get("pid")
    rss = v.get("rss_kb")
    return VictimSummary(
        kill_key=w.key,
        comm=clean(v["comm"] or "unknown", 64),
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


def _view(w: KillCase, d: LogDelivery, s: Settings, hint: tuple[str, ...] | None = None) -> KillView:
    count = w.count or Count(occurrence=0, window_start_ms=0, window_end_ms=0, instances=[])
    return KillView(
        event=w.kill.event, kill_time_ms=w.kill.time_ms, instance_id=d.instance_id, instance=w.info,
        severity=w.sev, fingerprint=w.fp, occurrence=count.occurrence, window_minutes=s.noise_window_minutes,
        loop_threshold=s.loop_threshold, region=s.region, account=d.account, log_group=d.log_group,
        stream=d.stream, previous_window_count=count.prev_count, notes=tuple(w.notes), first_kill_ms=count.first_ms,
        hint=hint, memory=w.memory,
    )  # fmt: skip


def _to_fallback(works: Sequence[KillCase], exc: BaseException, step: str, rt: Runtime) -> None:
    rt.telemetry.warning("state_unavailable", step=step, error=error_code(exc))
    rt.telemetry.count("StateFailures")
    for w in works:
        if w.state is not rt.fallback:
            w.notes.append(_degraded_note(exc))
        w.state = rt.fallback


def _claim(works: Sequence[KillCase], d: LogDelivery, rt: Runtime) -> None:
    """Rule 1 of :mod:`service.logic.delivery`: own each kill, or learn it is done or in flight elsewhere."""
    keys = [w.key for w in works]
    try:
        claims = rt.store.claims.claim_kills(keys, d.now_s, d.attempt)
    except Exception as exc:
        _to_fallback(works, exc, "claim", rt)
        claims = rt.fallback.claims.claim_kills(keys, d.now_s, d.attempt)
    for w in works:
        w.claim = claims.get(w.key)


def _count(works: Sequence[KillCase], d: LogDelivery, rt: Runtime) -> None:
    """Number the new kills within their fingerprint's window (one counter update per fingerprint)."""
    s = rt.settings
    groups: dict[str, list[KillCase]] = {}
    for w in works:
        if w.claim is not None and w.claim.occurrence is not None:
            c = w.claim
            w.count = Count(c.occurrence or 0, c.window_start_ms or 0, c.window_end_ms or 0, c.instances, c.prev_count)
        elif w.claim is not None:
            groups.setdefault(w.fp.key, []).append(w)
    for group in groups.values():
        state, fp, minutes = group[0].state, group[0].fp, s.noise_window_minutes
        try:
            counts = state.windows.count_kills(fp, d.now_s, minutes, [_summary(w) for w in group], d.attempt)
        except Exception as exc:
            _to_fallback(group, exc, "count", rt)
            counts = rt.fallback.windows.count_kills(fp, d.now_s, minutes, [_summary(w) for w in group])
        for w, count in zip(group, counts, strict=True):
            w.count = count


def _stores(rt: Runtime) -> list[KillState]:
    """Where a kill's place and outcome are written: the durable table first, then memory."""
    return [rt.store, rt.fallback]


def _save(works: Sequence[KillCase], d: LogDelivery, rt: Runtime, step: str) -> None:
    """Write the kills' places (before their events and publishes): a retry resends, never recounts."""
    rows = [KillRecord(w.key, w.count, not w.messages, w.decision) for w in works if w.count is not None]
    if not rows:
        return
    for state in _stores(rt):
        failed = quietly(lambda state=state: state.claims.save_kills(rows, d.now_s, d.attempt), sleep=rt.sleep)  # type: ignore[misc]
        if failed is not None:
            warn_state(rt, step, failed)


def _commit(w: KillCase, d: LogDelivery, rt: Runtime) -> None:
    """Rule 2: right after the kill's messages went out, record it as done (retried, else kept)."""
    assert w.count is not None
    row = KillRecord(w.key, w.count, True, w.decision)
    rt.fallback.claims.commit_kills([row], d.now_s, d.attempt)

    def write() -> None:
        rt.store.claims.commit_kills([row], d.now_s, d.attempt)

    if not commit_or_keep(f"kill#{w.key}", write, rt.outbox, sleep=rt.sleep):
        rt.telemetry.warning("commit_kept", kill_key=w.key)
        rt.telemetry.count("StateFailures")


def _release(w: KillCase, d: LogDelivery, rt: Runtime) -> None:
    """Rule 3: the publish failed; hand the claim back (a failure is harmless: the retry owns it)."""
    rt.fallback.claims.release_kill(w.key)
    failed = quietly(lambda: rt.store.claims.release_kill(w.key), sleep=rt.sleep)
    if failed is not None:
        warn_state(rt, "release", failed)


def _safe_text(value: object, limit: int = 120) -> str:
    """A field of the minimal alert: never raises, whatever the value (a 5,000-digit int included)."""
    try:
        return clean(value if isinstance(value, str) else repr(value)[:limit], limit)
    except Exception:
        return "?"


def minimal_message(w: KillCase, d: LogDelivery, s: Settings, error: BaseException) -> Message:
    """The alert of a kill whose details could not be rendered: victim, host, raw kill line."""
    ev = w.kill.event
    v = ev["victim"]
    name = _safe_text(v.get("comm") or "unknown process", 64)
    pid = v.get("pid") if isinstance(v.get("pid"), int) and len(str(v.get("pid"))) < 12 else None
    host = _safe_text(ev.get("host") or d.instance_id or d.stream or "unknown host", 64)
    line = clean_raw_line(_safe_text(ev.get("kill_line") or ev.get("message") or "", 600), 500)
    kind = "details could not be rendered"
    subject = ascii_only(clean(f"[OOM] {name} killed on {host} ({kind})", 200))[:99]
    text = "\n".join(
        [
            f"{name}{f' (pid {pid})' if pid is not None else ''} was killed by the OOM killer on {host}.",
            "",
            f"The details could not be rendered ({type(error).__name__}); the kill line as received:",
            f"  {line}",
            "",
            f"Instance: {d.instance_id or 'unknown'}",
            f"Log: {_safe_text(d.log_group, 200)} / {_safe_text(d.stream, 200)}",
            f"Kill key: {w.key}",
        ]
    )
    doc: dict[str, object] = {"kind": "oom_kill", "minimal": True, "process": name, "pid": pid, "host": host,
           "instance_id": d.instance_id, "kill_line": line, "kill_key": w.key,
           "error": type(error).__name__}  # fmt: skip
    return Message("oom_kill", subject, text, doc, attributes(kind="oom_kill", severity=w.sev.level,
                   instance_id=d.instance_id, process=name, source=w.fp.source))  # fmt: skip


def _render(w: KillCase, d: LogDelivery, rt: Runtime) -> KillView | None:
    """The kill's messages; a kill that cannot be rendered gets its minimal form (isolated)."""
    s = rt.settings
    assert w.count is not None
    view: KillView | None = None
    try:
        alerting = w.count.occurrence in (1, s.loop_threshold)
        # the hint is the use case's: the renderers only show it
        view = _view(w, d, s, hint_lines(w.kill.event, w.info) if alerting else None)
        if w.count.occurrence == 1:
            w.messages.append(render_kill(view))
        if w.count.occurrence == s.loop_threshold:
            w.messages.append(render_loop(view, w.count.instances))
    except Exception as exc:
        rt.telemetry.warning("render_failed", kill_key=w.key, error=type(exc).__name__)
        rt.telemetry.count("RenderFailures")
        w.render_error = exc
        if w.count.occurrence == 1 or w.count.occurrence == s.loop_threshold:
            w.messages = [minimal_message(w, d, s, exc)]
    kinds = "+".join(m.kind.removeprefix("oom_") for m in w.messages)
    w.decision = {"kill": "alert", "loop": "loop", "kill+loop": "alert+loop"}.get(kinds, "folded")
    return view


def _write_event(w: KillCase, view: KillView | None, d: LogDelivery, rt: Runtime, out: Outcome) -> None:
    """The kill's structured event, once (first attempt); a minimal one if the full one fails."""
    extra: RecordExtra = {"kill_key": w.key, "durable_state": w.state.durable}
    if w.mute_id is not None:
        extra["mute_id"] = w.mute_id
    if w.render_error is not None:
        extra["render_error"] = type(w.render_error).__name__
    try:
        if view is None:
            raise w.render_error or ValueError("no view")
        w.record = event_record(view, w.decision, w.kill, extra)
        rt.telemetry.event(w.record)
    except Exception as exc:
        rt.telemetry.count("RenderFailures")
        rt.telemetry.event(_minimal_record(w, d, exc, extra))
    out.by_dimensions[(w.sev.level, w.fp.source)] += 1
    out.kills += 1


def _minimal_record(w: KillCase, d: LogDelivery, exc: BaseException, extra: RecordExtra) -> MinimalEventRecord:
    """The event of a kill whose full record could not be built: what is known without rendering."""
    return {
        "kill_key": w.key,
        "decision": w.decision,
        "instance_id": d.instance_id,
        "log_group": d.log_group,
        "kill_time": _iso(w.kill.time_ms),
        "kill_line": _safe_text(w.kill.event.get("kill_line") or "", 600),
        "occurrence": w.count.occurrence if w.count else None,
        "complete": False,
        "notes": [f"The event could not be rendered in full ({type(exc).__name__})."],
        **extra,
    }


def handle_kills(
    kills: Sequence[Kill], d: LogDelivery, rt: Runtime, out: Outcome, failures: list[BaseException]
) -> None:
    """Classify, de-duplicate, count, log and alert every kill of one delivery (see :mod:`service.logic.delivery`)."""
    done: list[KillCase] = []  # allow-listed and muted kills: recorded, never published; their events go first
    works = _not_allow_listed(kills, d, rt, out, done)
    if not works:
        _put_events(done, d, rt)
        return
    works = _claimed(works, d, rt, out)
    works = _not_muted(works, d, rt, out, done)
    if not works:
        _put_events(done, d, rt)
        return
    _count(works, d, rt)
    _add_memory(works, d, rt)
    views = {id(w): _render(w, d, rt) for w in works}
    # The places first (a retry then resends the same alerts), then the events, then the publishes.
    _save([w for w in works if w.first_attempt], d, rt, "save")
    _write_events(works, views, d, rt, out)
    try:
        _publish_all(works, d, rt, out, failures)
    finally:
        _put_events([*done, *works], d, rt)


def _add_memory(works: Sequence[KillCase], d: LogDelivery, rt: Runtime) -> None:
    """The memory before each alerting kill: one GetMetricData call for the whole delivery (memory_history.py)."""
    if rt.metrics is None:  # the setting is off (the default): nothing to read, nor to import
        return
    from service.logic.memory_history import memory_lines

    s = rt.settings
    alerting = [w for w in works if w.count is not None and w.count.occurrence in (1, s.loop_threshold)]
    found = memory_lines([(d.instance_id, w.kill.time_ms) for w in alerting], rt, d.attempt)
    for w, lines in zip(alerting, found, strict=True):
        w.memory = lines


def _kill_events(w: KillCase) -> list[bus_events.Entry]:
    """The EventBridge events of one kill: one per message that went out in this invocation (the kill's record
    with its "OOM Kill" event), or, for a kill folded on its first attempt, one "OOM Kill" event of its own.

    A kill whose alert went out earlier (a retry that only commits) gets none: its events went with its alert.
    An allow-listed kill has no claim: its one event goes with the delivery that recorded it.
    """
    record: dict[str, Any] | None = dict(w.record) if w.record is not None else None
    if w.sent:
        return [
            bus_events.message_entry(
                m, decision=w.decision, record=record if m.kind == "oom_kill" else None, time_ms=w.kill.time_ms
            )
            for m in w.sent
        ]
    if not w.messages and (w.claim is None or w.first_attempt) and record is not None:
        return [
            bus_events.kill_entry(
                record, fingerprint=w.fp.key, kill_key=w.key, decision=w.decision, time_ms=w.kill.time_ms
            )
        ]
    return []


def _put_events(works: Sequence[KillCase], d: LogDelivery, rt: Runtime) -> None:
    """The kills' events on the bus, after their alerts; a failure here is counted and logged, never raised."""
    if rt.events is None:
        return
    entries: list[bus_events.Entry] = []
    for w in works:
        try:
            entries += _kill_events(w)
        except Exception as exc:
            rt.telemetry.warning("event_build_failed", kill_key=w.key, error=type(exc).__name__)
            rt.telemetry.count("EventFailures")
    if entries and d.attempt.time_left(rt.clock()) < PUBLISH_RESERVE_S:
        rt.telemetry.warning("events_skipped", count=len(entries), reason="too little of the invocation left")
        rt.telemetry.count("EventFailures", len(entries))
        return
    bus_events.emit(rt, entries)


def _not_allow_listed(
    kills: Sequence[Kill], d: LogDelivery, rt: Runtime, out: Outcome, recorded: list[KillCase]
) -> list[KillCase]:
    """Each kill classified; an allow-listed one gets its event (added to ``recorded``, for its bus event) and
    nothing else (no claim, count or alert)."""
    s = rt.settings
    info = d.lookup.instances.get(d.instance_id) if d.instance_id else None
    works: list[KillCase] = []
    for kill, group in zip(kills, inherited_groups(kills), strict=True):
        w = _prepare(kill, d, info, rt, group)
        allowed = _allowed(w, info, s)
        if allowed:
            w.decision = "event_only"
            w.record = event_record(_view(w, d, s), w.decision, kill, {"allow_listed": allowed, "kill_key": w.key})
            rt.telemetry.event(w.record)
            recorded.append(w)
            rt.telemetry.kills(w.sev.level, w.fp.source, 1)
            out.event_only += 1
            out.kills += 1
            continue
        works.append(w)
    return works


def _not_muted(
    works: Sequence[KillCase], d: LogDelivery, rt: Runtime, out: Outcome, silenced: list[KillCase]
) -> list[KillCase]:
    """The claimed kills no mute silences. A muted kill is counted in its window's ``muted`` (the digest says
    how many), recorded (decision ``muted``, ``mute_id``), added to ``silenced`` (for its event) and done: never
    published. A failure to read the mutes mutes nothing (the alert goes out, with a warning)."""
    s = rt.settings
    try:
        mutes = rt.store.mutes.cached(d.now_s)
    except Exception as exc:
        warn_state(rt, "mutes", exc)
        return list(works)
    if not mutes:
        return list(works)
    kept: list[KillCase] = []
    muted: list[tuple[KillCase, str]] = []
    for w in works:
        found = None
        if w.claim is not None and w.claim.occurrence is None:  # a retry of a counted kill keeps its way
            try:
                found = mute_of(
                    mutes,
                    w.kill.event,
                    w.sev,
                    d.instance_id,
                    w.info,
                    now_s=d.now_s,
                    max_hours=s.mute_max_hours,
                    breakthrough_critical=s.mute_breakthrough_critical,
                )
            except Exception as exc:
                rt.telemetry.warning("mute_match_failed", kill_key=w.key, error=type(exc).__name__)
        if found is None:
            kept.append(w)
        elif found.muted:
            muted.append((w, found.mute.id))
        else:
            w.mute_id = found.mute.id
            w.notes.append(breakthrough_note(found.mute))
            kept.append(w)
    if muted:
        _record_muted(muted, d, rt, out)
        silenced += [w for w, _ in muted]
    return kept


def _record_muted(muted: Sequence[tuple[KillCase, str]], d: LogDelivery, rt: Runtime, out: Outcome) -> None:
    s = rt.settings
    heads: dict[str, tuple[int, int]] = {}
    for fp_key in dict.fromkeys(w.fp.key for w, _ in muted):
        group = [w for w, _ in muted if w.fp.key == fp_key]
        state = group[0].state
        try:
            heads[fp_key] = state.windows.add_muted(group[0].fp, d.now_s, s.noise_window_minutes, len(group))
        except Exception as exc:
            _to_fallback(group, exc, "count", rt)
            heads[fp_key] = rt.fallback.windows.add_muted(group[0].fp, d.now_s, s.noise_window_minutes, len(group))
    rows = []
    for w, mute_id in muted:
        start, end = heads[w.fp.key]
        w.count = Count(0, start, end, [])
        w.decision = "muted"
        extra: RecordExtra = {"kill_key": w.key, "durable_state": w.state.durable, "mute_id": mute_id}
        try:
            w.record = event_record(_view(w, d, s), "muted", w.kill, extra)
            rt.telemetry.event(w.record)
        except Exception as exc:
            rt.telemetry.warning("render_failed", kill_key=w.key, error=type(exc).__name__)
            rt.telemetry.event(_minimal_record(w, d, exc, extra))
        out.by_dimensions[(w.sev.level, w.fp.source)] += 1
        out.kills += 1
        out.muted += 1
        rows.append(KillRecord(w.key, w.count, True, "muted"))
    rt.telemetry.count("KillsMuted", len(muted))
    for state in _stores(rt):
        failed = quietly(lambda state=state: state.claims.commit_kills(rows, d.now_s, d.attempt), sleep=rt.sleep)  # type: ignore[misc]
        if failed is not None:
            warn_state(rt, "save_muted", failed)


def _claimed(works: Sequence[KillCase], d: LogDelivery, rt: Runtime, out: Outcome) -> list[KillCase]:
    """The kills this invocation owns; the others are done or in flight elsewhere (duplicates)."""
    _claim(works, d, rt)
    for w in works:
        if w.claim is None:
            rt.telemetry.info("duplicate_kill", kill_key=w.key, stream=d.stream)
            rt.telemetry.count("DuplicateKills")
            out.duplicates += 1
    return [w for w in works if w.claim is not None]


def _write_events(
    works: Sequence[KillCase], views: Mapping[int, KillView | None], d: LogDelivery, rt: Runtime, out: Outcome
) -> None:
    """Each kill's structured event (on its first attempt only), and the count of kills noise control folded."""
    folded = 0
    for w in works:
        if w.first_attempt:
            _write_event(w, views[id(w)], d, rt, out)
        if not w.messages:
            out.folded += 1
            folded += 1
    if folded:
        rt.telemetry.count("KillsFolded", folded)


def _publish_all(
    works: Sequence[KillCase], d: LogDelivery, rt: Runtime, out: Outcome, failures: list[BaseException]
) -> None:
    """Publish the kills' messages not yet sent; what went out is counted even if the runtime stops midway."""
    before = out.alerts
    try:
        for w in works:
            if w.messages and not w.sent_kinds:
                _publish(w, d, rt, out, failures)
    finally:
        sent = out.alerts - before
        if sent:
            rt.telemetry.count("AlertsSent", sent)  # one EMF value per invocation, not one per alert


def _publish(w: KillCase, d: LogDelivery, rt: Runtime, out: Outcome, failures: list[BaseException]) -> None:
    """One kill's messages, then rule 2 (commit); a failed publish: rule 3 (release), or, when a kill alert
    already went out before its loop alert failed, the commit of what went out."""
    try:
        if d.attempt.time_left(rt.clock()) < PUBLISH_RESERVE_S:
            raise TimeoutError("too little of the invocation left to publish and record it")
        for message in w.messages:
            rt.publisher.publish(message)
            w.sent.append(message)
            out.alerts += 1
    except Exception as exc:
        rt.telemetry.warning("publish_failed", kill_key=w.key, error=error_code(exc))
        rt.telemetry.count("PublishFailures")
        if w.sent_kinds:  # a loop alert after its kill alert: what went out is recorded
            w.messages = [m for m in w.messages if m.kind not in w.sent_kinds]
            w.decision = "+".join(w.sent_kinds)
            _commit(w, d, rt)
        else:
            _release(w, d, rt)
        out.failed += 1
        failures.append(exc)
        return
    _commit(w, d, rt)


def _prepare(
    kill: Kill, d: LogDelivery, info: InstanceInfo | None, rt: Runtime, group: Workload | None = None
) -> KillCase:
    """A kill's identity and decisions; a kill whose fields break them gets safe stand-ins (isolated)."""
    s = rt.settings
    ev = kill.event
    notes = [*d.lookup.notes, *kill.notes]
    try:
        sev = severity(ev, s.critical_processes)
        fp = fingerprint(ev, d.instance_id, info, group)
        where = d.instance_id or clean(ev.get("host") or d.stream, 64) or "unknown"
        key = kill_key(ev, d.stream, kill.time_ms, d.instance_id)
        return KillCase(kill, key, info, sev, fp, where, notes, rt.store)
    except Exception as exc:
        rt.telemetry.warning("classify_failed", error=type(exc).__name__)
        from hashlib import sha256

        raw = _safe_text(ev.get("kill_line") or ev.get("kill_event_id") or kill.time_ms, 600)
        key = "k" + sha256(f"{d.instance_id or d.stream}|{raw}".encode()).hexdigest()[:40]
        where = d.instance_id or _safe_text(d.stream, 64) or "unknown"
        scope = f"instance:{d.instance_id}" if d.instance_id else f"host:{where}"
        fp = Fingerprint(sha256(f"{scope}|unclassified".encode()).hexdigest()[:24], scope, "kernel", "unclassified",
                         f"unclassified kill on {scope}")  # fmt: skip
        sev = Severity("warning", f"the kill could not be classified ({type(exc).__name__})")
        w = KillCase(kill, key, info, sev, fp, where, notes, rt.store)
        w.render_error = exc
        return w


def _allowed(w: KillCase, info: InstanceInfo | None, s: Settings) -> str | None:
    try:
        return allow_listed(w.kill.event, info, s.allow_list)
    except Exception:
        return None


def record_last_kills(kills: Sequence[Kill], d: LogDelivery, rt: Runtime) -> None:
    """Store the newest kill of this delivery as the instance's "last kill" (for alarm notices).

    A userspace-killer line whose sender is not verified (anyone can write it to a text log) never replaces it.
    """
    kills = [k for k in kills if k.event.get("sender_verified") is not False]
    if not d.instance_id or not kills:
        return
    latest = max(kills, key=lambda k: k.time_ms)
    v = latest.event["victim"]
    w = cg.get("workload") if (cg := latest.event.get("cgroup")) else None
    summary = {
        "time_ms": latest.time_ms,
        "comm": clean(v["comm"] or "unknown", 64),
        "pid": v.get("pid") if isinstance(v.get("pid"), int) else None,
        "rss_kb": v.get("rss_kb") if isinstance(v.get("rss_kb"), int) else None,
        "severity": severity(latest.event, rt.settings.critical_processes).level,
        "constraint": str(latest.event.get("constraint") or "unknown"),
        "workload": clean(workload_label(latest.event) or "", 120) or None,
        "workload_kind": (w.get("kind") if w else None) or None,
        "kill_event_id": str(latest.event.get("kill_event_id") or "") or None,
    }
    failed = quietly(lambda: rt.store.last_kills.put(d.instance_id or "", summary, d.now_s), sleep=rt.sleep)
    if failed is not None:
        warn_state(rt, "last_kill", failed)


# --------------------------------------------------------------------------- one delivery


def process_subscription(
    raw_event: Mapping[str, Any], rt: Runtime, request_id: str | None = None, remaining_ms: int | None = None
) -> dict[str, Any]:
    """Handle one subscription delivery; raises :class:`PublishFailed` if an alert was not sent.

    ``request_id`` and ``remaining_ms`` come from the Lambda context: the request id is kept by
    Lambda across its retries, which is how a retry recognises its own claims (``service.logic.delivery``).
    """
    started = rt.clock()
    if len(rt.outbox):
        rt.outbox.flush()
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
    events = data["logEvents"]
    kills = parse_log_events(events, stream)
    if stash_mode(data.log_group, rt.settings):
        stash_tail(events, kills, data.log_group, stream, rt)
        kills = complete_from_stash(kills, events, data.log_group, stream, rt)
    elif kills:
        complete_from_stream(kills, data.log_group, stream, rt)
    if not kills:
        return out.as_dict()
    instance_id = instance_id_from_stream(stream)
    lookup = rt.directory.lookup([instance_id]) if instance_id else Lookup()
    if lookup.failed:
        rt.telemetry.count("EnrichmentFailures", len(lookup.failed))
        rt.telemetry.warning("enrichment_failed", calls=lookup.failed, instance_id=instance_id)
    delivery = LogDelivery(
        log_group=data.log_group,
        stream=stream,
        account=data.owner,
        instance_id=instance_id,
        lookup=lookup,
        now_s=rt.clock(),
        attempt=attempt(request_id, remaining_ms, started),
    )
    failures: list[BaseException] = []
    try:
        handle_kills(kills, delivery, rt, out, failures)
    finally:
        for (level, source), count in sorted(out.by_dimensions.items()):
            rt.telemetry.kills(level, source, count)
    record_last_kills(kills, delivery, rt)
    if len(rt.outbox):
        rt.outbox.flush()
    if failures:
        raise PublishFailed(
            f"{len(failures)} alert(s) not published ({error_code(failures[0])}); the invocation fails so"
            " Lambda retries it, then hands the payload to the dead-letter queue"
        ) from failures[0]
    return out.as_dict()
