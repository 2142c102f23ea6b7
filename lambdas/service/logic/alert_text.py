"""The texts people read: SNS subject, a phone-friendly plain-text body, a JSON document for
machine subscribers and the SNS message attributes, for kills, OOM loops and digests.

Every value that came from a log line or an EC2 tag passes through :func:`oomwatch.sanitise.sanitise`
(through the layout wrappers of :mod:`service.logic.text`) where it is put into a message, even though the parser
and the EC2 lookup already sanitised it where it entered: the same cheap function twice, so that a field
added later, or a view built by hand, cannot carry a line break or a bidi override into an e-mail.
Links are percent-encoded ASCII and pass through it unchanged.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from oomwatch.event import OomEvent
from oomwatch.sanitise import sanitise

from service.logic import links
from service.logic.layout import (
    SUBJECT_MAX,
    attributes,
    fit,
    hhmm,
    host_text,
    kv,
    raw_lines,
    squeeze,
    strip_prefix,
    when,
)
from service.logic.severity import workload_label
from service.logic.text import (
    ascii_only,
    clean,
    deep_clean,
    duration,
    mib,
    ordinal,
    pct,
    short_ids,
    size,
    span,
)
from service.models.instance import InstanceInfo
from service.models.views import SCHEMA, DigestView, KillView, Message

# --------------------------------------------------------------------------- helpers


def host_label(view: KillView) -> str:
    if view.instance and view.instance.name:
        return clean(view.instance.name, 40)
    host = view.event.get("host")
    if host:
        return clean(host, 40)
    return view.instance_id or clean(view.stream, 40) or "unknown host"


def view_host(view: KillView) -> str:
    """The host of one kill as subjects name it (see :func:`host_text`)."""
    name = view.instance.name if view.instance and view.instance.name else view.event.get("host")
    return host_text(name, view.instance_id, view.stream)


def _subject(parts: Sequence[str]) -> str:
    text = ascii_only(clean(" ".join(p for p in parts if p), 400))
    if len(text) > SUBJECT_MAX:
        text = text[: SUBJECT_MAX - 3].rstrip() + "..."
    return text


def _given_hint(view: KillView) -> tuple[str, ...]:
    """The WHAT TO DO lines the kill's use case computed (:func:`service.logic.hints.hint_lines`) and put in the
    view; the renderers never compute advice themselves."""
    return view.hint or ()


# --------------------------------------------------------------------------- one kill

_CONSTRAINT_TEXT = {
    "global": "global - the whole host ran out of memory",
    "memcg": "memcg - a memory cgroup hit its limit; the host may have had memory left",
    "cpuset": "cpuset - the cpuset's memory nodes ran out",
    "mempolicy": "mempolicy - the NUMA memory policy's nodes ran out",
    "unknown": "not shown in the lines received",
}
_KILLERS = {"kernel": "the kernel OOM killer", "systemd-oomd": "systemd-oomd", "earlyoom": "earlyoom"}


def describe_workload(event: OomEvent) -> str | None:
    w = cg.get("workload") if (cg := event.get("cgroup")) else None
    if not w:
        return None
    kind = clean(w.get("kind"), 30)
    label = clean(workload_label(event), 100)
    extras = []
    if w.get("pod_uid") and str(w.get("pod_uid")) not in label:
        extras.append(f"pod uid {clean(w.get('pod_uid'), 40)}")
    if w.get("qos"):
        extras.append(f"QoS {clean(w.get('qos'), 20)}")
    if w.get("id") and clean(w.get("id"), 100) != label:
        extras.append(f"id {clean(w.get('id'), 16)}")
    text = f"{kind} {label}".strip()
    return f"{text} ({', '.join(extras)})" if extras else text


def kill_doc(view: KillView, hint: Sequence[str], link_map: Mapping[str, str]) -> dict[str, object]:
    """The machine-readable form (SNS ``default``): the parser's event plus the enrichment."""
    doc: dict[str, object] = {
        "type": "oom_kill",
        "schema_version": SCHEMA,
        "severity": view.severity.level,
        "severity_reason": view.severity.reason,
        "account": view.account,
        "region": view.region,
        "instance_id": view.instance_id,
        "instance": view.instance.as_log() if view.instance else None,
        "kill_time": datetime.fromtimestamp(view.kill_time_ms / 1000, UTC).isoformat(),
        "fingerprint": view.fingerprint.key,
        "fingerprint_label": clean(view.fingerprint.label, 200),
        "occurrence": view.occurrence,
        "window_minutes": view.window_minutes,
        "log_group": view.log_group,
        "stream": view.stream,
        "hint": list(hint),
        "notes": list(view.notes),
        **({"memory_history": list(view.memory)} if view.memory is not None else {}),
    }
    doc = dict(deep_clean(doc, limit=1024, max_items=80))
    doc["links"] = {k: sanitise(v, None) for k, v in link_map.items()}
    doc["event"] = deep_clean(dict(view.event), limit=1024, max_items=80)
    return doc


def _limit_kb(ev: OomEvent) -> int | None:
    """The memory cgroup limit that was hit (memcg kills), or None (none reported, or "no limit")."""
    memcg = ev.get("memcg")
    if ev.get("constraint") != "memcg" or memcg is None:
        return None
    limit = memcg.get("limit_kb")
    return limit if isinstance(limit, int) and 0 < limit < 2**50 else None


class _Figures(NamedTuple):
    """The figures several sections of one kill's alert say, worked out once from its view."""

    view: KillView
    ev: OomEvent
    proc: str  # the process name, cleaned
    host: str  # the host as the body names it (Name tag, else syslog host, else instance id)
    named: str  # the host as subjects name it (Name tag and instance id)
    rss_kb: int | None
    ram_kb: int | None  # host RAM
    share: int | None  # the victim's share of host RAM, %
    limit_kb: int | None  # the memory cgroup limit that was hit
    limit_share: int | None  # the victim's share of it, %
    source: str
    killer: str
    pid_text: str
    constraint: str
    ram_text: str

    @classmethod
    def of(cls, view: KillView) -> "_Figures":
        ev = view.event
        v = ev["victim"]
        inst = view.instance
        rss_kb = v.get("rss_kb")
        ram_kb = inst.memory_kb if inst else None
        limit_kb = _limit_kb(ev)
        source = str(ev.get("source") or "kernel")
        pid = v.get("pid")
        return cls(
            view=view,
            ev=ev,
            proc=clean(v["comm"] or "unknown", 40),
            host=host_label(view),
            named=view_host(view),
            rss_kb=rss_kb,
            ram_kb=ram_kb,
            share=pct(rss_kb, ram_kb),
            limit_kb=limit_kb,
            limit_share=pct(rss_kb, limit_kb),
            source=source,
            killer=_KILLERS.get(source, clean(source, 30)),
            pid_text=f" (pid {pid})" if isinstance(pid, int) and pid >= 0 else "",
            constraint=str(ev.get("constraint") or "unknown"),
            ram_text=f"{inst.memory_mib:,} MiB RAM" if inst and inst.memory_mib else "",
        )


def _kill_subject(k: _Figures) -> str:
    """What died where, how big against what: the instance id goes first when the subject would be too long."""
    if k.limit_share is not None:
        against = f"{k.limit_share if k.limit_share else '<1'}% of its {size(k.limit_kb)} limit"
    elif k.share is not None:
        against = f"{k.share}% RAM" if k.share else "<1% RAM"
    else:
        against = ""
    subject = ""
    for where in dict.fromkeys((k.named, k.host)):
        subject = _subject(
            [
                f"[OOM {k.view.severity.level}]",
                f"{k.proc} killed on {where}",
                (size(k.rss_kb) + ("," if against else "")) if k.rss_kb is not None else "",
                against if k.rss_kb is not None else "",
            ]
        )
        if not subject.endswith("..."):
            break
    return subject


def _size_line(k: _Figures) -> list[str]:
    if k.rss_kb is None:
        return []
    if k.limit_kb is not None:
        mem = f"{mib(k.rss_kb)} RSS = {k.limit_share if k.limit_share else '<1'}% of its {mib(k.limit_kb)} cgroup limit"
        mem += f" (host {k.ram_text})" if k.ram_text else ""
    elif k.share is not None and k.ram_text:
        mem = f"{mib(k.rss_kb)} RSS = {k.share if k.share else '<1'}% of {k.ram_text}"
    else:
        mem = f"{mib(k.rss_kb)} RSS"
    return [f"Size: {mem}."]


def _headline(k: _Figures) -> list[str]:
    """The first lines: what died, where, how big against what limit, why, how bad, how often."""
    view = k.view
    scope = view.fingerprint.scope.split(":", 1)[-1]
    out = [f"{k.proc}{k.pid_text} was killed by {k.killer} on {k.named}.", *_size_line(k)]
    out.append(f"Why: {_CONSTRAINT_TEXT.get(k.constraint, clean(k.constraint, 30))}.")
    out.append(f"Severity: {view.severity.level} ({clean(view.severity.reason, 160)}).")
    occurrence = (
        f"Occurrence: {ordinal(view.occurrence)} kill of {clean(short_ids(view.fingerprint.subject), 60)}"
        f" on {clean(scope, 60)} in this {view.window_minutes}-min window"
    )
    if view.occurrence == 1:
        occurrence += f"; more are counted into one digest (an OOM-loop alert at {view.loop_threshold})."
    else:
        occurrence += "."
    out.append(occurrence)
    if view.previous_window_count > 1:
        out.append(f"The previous window had {view.previous_window_count} kills: this is still going on.")
    return out


def _hint_section(hint: Sequence[str]) -> list[str]:
    return ["", "WHAT TO DO", *(f"  - {line}" for line in hint)] if hint else []


def _process_lines(k: _Figures) -> list[str]:
    """The victim: name, pid, uid, and its memory by kind."""
    v = k.ev["victim"]
    uid = v.get("uid")
    pid = f", pid {v.get('pid')}" if k.pid_text else ""
    out = [kv("Process", k.proc + pid + (f", uid {uid}" if uid is not None else ""))]
    if k.rss_kb is None:
        return out
    parts = [
        f"{name} {mib(kb)}"
        for name, kb in (
            ("anon", v.get("anon_rss_kb")),
            ("file", v.get("file_rss_kb")),
            ("shmem", v.get("shmem_rss_kb")),
        )
        if kb is not None
    ]
    out.append(kv("Memory", mib(k.rss_kb) + " RSS" + (" (" + ", ".join(parts) + ")" if parts else "")))
    extra = []
    if v.get("total_vm_kb") is not None:
        extra.append(f"virtual {mib(v.get('total_vm_kb'))}")
    if v.get("oom_score_adj") is not None:
        extra.append(f"oom_score_adj {v.get('oom_score_adj')}")
    if extra:
        out.append(kv("", ", ".join(extra)))
    return out


def _workload_lines(k: _Figures) -> list[str]:
    """The workload, the systemd units that failed, systemd lines that decided nothing, an unverified sender."""
    ev = k.ev
    out = []
    wl = describe_workload(ev)
    if wl:
        out.append(kv("Workload", wl))
    unit_lines = [clean(u, 80) for u in ev.get("units") or [] if u]
    if unit_lines:
        out.append(kv("systemd", ", ".join(unit_lines[:3]) + " failed with result 'oom-kill'"))
    # Unit lines that decide nothing (unverified sender, or the kernel named the cgroup): shown as what they are,
    # unless they only repeat the unit the kernel's own cgroup line already named.
    known = set(ev.get("units") or []) | _kernel_units(ev)
    context = ev.get("systemd_context") or []
    said = [clean(c.get("unit"), 80) for c in context if c.get("unit") and c.get("unit") not in known]
    if said:
        why = (
            "sender not verified" if any(not c.get("verified") for c in context) else "the kernel's cgroup comes first"
        )
        out.append(kv("Context", f"systemd reports unit {', '.join(said[:3])} ({why}; not used for this alert)"))
    if k.source != "kernel" and ev.get("sender_verified") is False:
        out.append(kv("Sender", f"not verified: anyone on the host can write this line as {k.killer}"))
    return out


def _trigger_lines(k: _Figures) -> list[str]:
    """The task whose allocation invoked the OOM killer, and what it asked for."""
    trig = k.ev.get("trigger")
    if trig is None:
        return [kv("Trigger", "not in the lines received")] if k.source == "kernel" else []
    t = clean(trig.get("comm"), 40) + (f" (pid {trig.get('pid')})" if trig.get("pid") is not None else "")
    detail = []
    if trig.get("order") == -1:
        detail.append("order -1 (a manual OOM: SysRq-f or echo f > /proc/sysrq-trigger)")
    elif trig.get("order") is not None:
        detail.append(f"order {trig.get('order')}")
    if trig.get("gfp_mask"):
        detail.append(f"gfp_mask {clean(trig.get('gfp_mask'), 40)}")
    return [kv("Trigger", t + (" asked for memory: " + ", ".join(detail) if detail else ""))]


def _limit_lines(k: _Figures) -> list[str]:
    """A memory-cgroup kill: the cgroup whose limit was hit, the victim's own, and the usage against the limit."""
    cg = k.ev.get("cgroup")
    if k.constraint != "memcg":
        return []
    out = []
    oom_path = cg.get("oom_memcg") if cg else None
    task_path = cg.get("task_memcg") if cg else None
    if oom_path:
        out.append(kv("Limit of", clean(oom_path, 512)))  # shown whole once; shortened elsewhere
    if task_path and task_path != oom_path:
        out.append(kv("Victim in", clean(task_path, 512)))
    memcg = k.ev.get("memcg")
    if memcg and memcg.get("limit_kb"):
        out.append(kv("Usage", f"{mib(memcg.get('usage_kb'))} used of {mib(memcg.get('limit_kb'))} limit"))
    return out


def _what_section(k: _Figures) -> list[str]:
    return ["", "WHAT", *_process_lines(k), *_workload_lines(k), *_trigger_lines(k), *_limit_lines(k)]


def _instance_lines(inst: InstanceInfo) -> list[str]:
    """What EC2 says about the instance: type and RAM, zone and ASG, image and IP, launch time, tags."""
    out = []
    if inst.instance_type:
        ram = f", {inst.memory_mib:,} MiB RAM" if inst.memory_mib else ""
        out.append(kv("Type", f"{inst.instance_type}{ram}"))
    zone = ", ".join(x for x in (inst.az, f"ASG {clean(inst.asg, 80)}" if inst.asg else "") if x)
    if zone:
        out.append(kv("Zone", zone))
    image = ", ".join(x for x in (inst.image_id, f"IP {inst.private_ip}" if inst.private_ip else "") if x)
    if image:
        out.append(kv("Image", image))
    if inst.launch_time:
        out.append(kv("Launched", inst.launch_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")))
    tags = inst.user_tags()
    if tags:
        shown = ", ".join(f"{clean(k, 40)}={clean(v, 60)}" for k, v in list(tags.items())[:5])
        out.append(kv("Tags", shown + (f" (+{len(tags) - 5})" if len(tags) > 5 else "")))
    return out


def _where_section(k: _Figures) -> list[str]:
    view, iid = k.view, k.view.instance_id
    out = ["", "WHERE", kv("Host", k.host + (f" ({iid})" if iid and iid != k.host else ""))]
    if view.instance:
        out += _instance_lines(view.instance)
    out.append(kv("Account", f"{view.account or '?'}, {view.region}"))
    out.append(kv("Log", f"{clean(view.log_group, 120)} / {clean(view.stream, 80)}"))
    return out


def _memory_lines(view: KillView) -> list[str]:
    """The memory and swap use of the hour before the kill (service.logic.sparkline), as the use case read it."""
    return [f"  {line}" for line in view.memory or ()]


def _when_section(k: _Figures) -> list[str]:
    uptime = k.ev.get("uptime_s")
    return [
        "",
        "WHEN",
        "  " + when(k.view.kill_time_ms) + (f" (uptime {duration(uptime)})" if uptime is not None else ""),
        *_memory_lines(k.view),
    ]


def _top_section(k: _Figures) -> list[str]:
    """The task table's largest rows, with their share of host RAM."""
    top = k.ev.get("top_consumers") or []
    if not top:
        return []
    tasks = k.ev.get("task_count")
    counted = f", {tasks} task{'s' if tasks != 1 else ''}" if tasks else ""
    out = ["", f"TOP MEMORY USERS (task table{counted})"]
    for row in top[:5]:
        share_row = pct(row.get("rss_kb"), k.ram_kb)
        share_text = "" if share_row is None else f" {share_row}%" if share_row else " <1%"
        out.append(f"  {mib(row.get('rss_kb')):>10}  {clean(row.get('comm'), 30)} (pid {row.get('pid')}){share_text}")
    return out


def _kill_links(view: KillView) -> dict[str, str]:
    """The stream around the kill (short), the Logs Insights query (JSON form only) and the instance page."""
    link_map: dict[str, str] = {}
    if view.log_group and view.stream:
        link_map["log_stream"] = links.kill_stream_url(view.region, view.log_group, view.stream, view.kill_time_ms)
        link_map["logs"] = links.kill_context_url(view.region, view.log_group, view.stream, view.kill_time_ms)
    if view.instance_id:
        link_map["instance"] = links.instance_url(view.region, view.instance_id)
    return link_map


def _links_section(link_map: Mapping[str, str]) -> list[str]:
    if not link_map:
        return []
    out = ["", "LINKS"]
    if "log_stream" in link_map:
        out += ["  The stream, 10 min before to 5 min after the kill:", f"  {link_map['log_stream']}"]
    if "instance" in link_map:
        out += ["  Instance:", f"  {link_map['instance']}"]
    return out


def _notes_section(k: _Figures) -> list[str]:
    """What went wrong on the way (enrichment, context, noise control) and what the report lacks."""
    notes = list(k.view.notes)
    if not k.ev.get("complete", True):
        notes.append(
            "The report is incomplete: "
            + (", ".join(clean(w, 120) for w in k.ev.get("warnings") or []) or "parts were missing.")
        )
    return ["", "NOTES", *(f"  - {clean(n, 300)}" for n in notes)] if notes else []


def _raw_section(k: _Figures) -> list[str]:
    """The report's own lines, noise left out, their common syslog prefix said once."""
    lines = raw_lines(k.ev.get("lines") or [])
    if not lines:
        return []
    prefix, lines = strip_prefix(lines)
    title = "KERNEL LINES" if k.source == "kernel" else "LOG LINES"
    # A line too wide for a phone loses its column padding (a task-table row) before it is wrapped.
    return [
        "",
        title + (f' (each after "{prefix.strip()}")' if prefix else ""),
        *(f"  {squeeze(short_ids(line))}" for line in lines),
    ]


def render_kill(view: KillView) -> Message:
    """One kill. The first screen (about 20 lines) says what died, where, how big against what limit and what
    to do; the details follow, the kernel lines come last; lines fit 78 columns (URLs aside)."""
    k = _Figures.of(view)
    hint = _given_hint(view)
    link_map = _kill_links(view)
    out = [
        *_headline(k),
        *_hint_section(hint),
        *_what_section(k),
        *_where_section(k),
        *_when_section(k),
        *_top_section(k),
        *_links_section(link_map),
        *_notes_section(k),
        *_raw_section(k),
    ]
    subject = _kill_subject(k)
    doc = kill_doc(view, hint, link_map)
    doc["subject"] = subject
    w = cg.get("workload") if (cg := view.event.get("cgroup")) else None
    attrs = attributes(
        severity=view.severity.level,
        instance_id=view.instance_id or "",
        process=k.proc,
        source=k.source,
        kind="oom_kill",
        workload_kind=(w.get("kind") if w else None) or "",
        constraint=k.constraint,
    )
    return Message("oom_kill", subject, "\n".join(fit(out)) + "\n", doc, attrs)


# --------------------------------------------------------------------------- OOM loop


def _others(instances: Sequence[str], shown: str | None) -> str:
    rest = len([i for i in instances if i != shown]) if shown else len(instances)
    return f" +{rest} more" if rest else ""


def render_loop(view: KillView, instances: Sequence[str]) -> Message:
    """Escalation sent once when a fingerprint reaches LOOP_THRESHOLD kills in its window."""
    fp = view.fingerprint
    scope_kind, scope = fp.scope.split(":", 1)
    first = view.first_kill_ms if view.first_kill_ms is not None else view.kill_time_ms
    took = span(view.kill_time_ms - first)
    named = view_host(view)
    subject = _subject(
        [
            f"[OOM loop] {clean(short_ids(fp.subject), 40)}: {view.occurrence} kills in {took}",
            f"on {named}{_others(instances, view.instance_id)}",
        ]
    )
    rss = view.event["victim"].get("rss_kb")
    out = [
        f"{clean(short_ids(fp.subject), 60)} was OOM-killed {view.occurrence} times in {took}"
        f" (first to latest kill) on {scope_kind} {clean(scope, 60)} ({fp.source}).",
        "This is a loop: the service is restarted and killed again. Fix the memory budget, not the restart.",
        f"Latest kill: {when(view.kill_time_ms)} on {named}" + (f", {mib(rss)} RSS" if rss is not None else ""),
        f"Severity: {view.severity.level}",
        *(view.memory or ()),
    ]
    hint = _given_hint(view)
    out += _hint_section(hint)
    out += [
        "",
        f"Instances so far: {', '.join(clean(i, 40) for i in list(instances)[:10])}"
        + (f" and {len(instances) - 10} more" if len(instances) > 10 else ""),
        f"No further message for this until the {view.window_minutes}-min window ends; then one digest"
        " with the count, instances and largest victims.",
    ]
    loop_links: dict[str, str] = {}
    if view.log_group and view.stream:
        loop_links["log_stream"] = links.kill_stream_url(view.region, view.log_group, view.stream, view.kill_time_ms)
        loop_links["logs"] = links.kill_context_url(view.region, view.log_group, view.stream, view.kill_time_ms)
        out += ["", "The stream around the latest kill:", f"  {loop_links['log_stream']}"]
    doc = {
        "type": "oom_loop",
        "schema_version": SCHEMA,
        "subject": subject,
        "severity": view.severity.level,
        "fingerprint": fp.key,
        "fingerprint_label": clean(fp.label, 200),
        "count": view.occurrence,
        "window_minutes": view.window_minutes,
        "instances": [clean(i, 40) for i in instances][:100],
        "latest_instance_id": view.instance_id,
        "process": clean(view.event["victim"]["comm"] or "unknown", 40),
        "account": view.account,
        "region": view.region,
        "hint": list(hint),
        **({"memory_history": list(view.memory)} if view.memory is not None else {}),
    }
    doc = deep_clean(doc, limit=1024, max_items=100)
    doc["links"] = {k: sanitise(v, None) for k, v in loop_links.items()}
    attrs = attributes(
        severity=view.severity.level,
        instance_id=view.instance_id or "",
        process=view.event["victim"]["comm"] or "unknown",
        source=fp.source,
        kind="oom_loop",
    )
    return Message("oom_loop", subject, "\n".join(fit(out)) + "\n", doc, attrs)


# --------------------------------------------------------------------------- digest


def render_digest(d: DigestView) -> Message:
    """One message per noise window that folded kills: counts, instances, largest victims."""
    fp = d.fingerprint
    scope_kind, scope = fp.scope.split(":", 1)
    minutes = max(1, round((d.window_end_ms - d.window_start_ms) / 60_000))
    folded = d.total - 1
    took = span(d.last_ms - d.first_ms)
    # The host named first: the largest victim's, else the first instance.
    first_host = next((v.instance for v in d.victims if v.instance in d.instances), None) or (
        next(iter(d.instances)) if d.instances else None
    )
    named = host_text(d.names.get(first_host), first_host) if first_host else clean(scope, 40)
    subject = _subject(
        [
            f"[OOM digest] {clean(short_ids(fp.subject), 40)}: {d.total} kills in {took}",
            f"on {named}{_others(d.instances, first_host)}",
        ]
    )
    out = [
        f"{clean(short_ids(fp.subject), 60)} was OOM-killed {d.total} times in {took} (first to last kill)"
        f" on {scope_kind} {clean(scope, 60)} ({fp.source}), "
        + (
            f"between {hhmm(d.first_ms)} and {hhmm(d.last_ms)} UTC."
            if hhmm(d.first_ms) != hhmm(d.last_ms)
            else f"at {hhmm(d.first_ms)} UTC."
        ),
        f"The first kill was alerted on its own; these {folded} further kills were held back by noise control"
        + (" (an OOM-loop alert was sent)." if d.escalated else "."),
        *(
            [
                f"{d.muted} more kill{'s' if d.muted != 1 else ''} of it {'were' if d.muted != 1 else 'was'} muted"
                " (oomwatch mutes) and not counted above."
            ]
            if d.muted
            else []
        ),
        "",
        f"Window: {when(d.window_start_ms)} + {minutes} min",
        f"Severity: {d.severity}",
        "",
        f"INSTANCES ({len(d.instances)})",
    ]
    for iid in list(d.instances)[:20]:
        name = d.names.get(iid)
        out.append(f"  {host_text(name, clean(iid, 40))}")
    if len(d.instances) > 20:
        out.append(f"  ... and {len(d.instances) - 20} more")
    if d.victims:
        out += ["", "LARGEST VICTIMS"]
        for vic in d.victims[:5]:
            out.append(
                f"  {mib(vic.rss_kb):>10}  {clean(vic.comm, 30)} (pid {vic.pid}) on"
                f" {clean(d.names.get(vic.instance) or vic.instance, 40)}"
                f" at {hhmm(vic.time_ms)}"
            )
    link = search = None
    if d.events_log_group:
        start, end = d.window_start_ms - 60_000, d.window_end_ms + 60_000
        link = links.events_query_url(d.region, d.events_log_group, fp.key, start, end)
        search = links.events_search_url(d.region, d.events_log_group, fp.key, start, end)
        out += ["", "Every kill of this window (the events log, searched for this fingerprint):", f"  {search}"]
    doc = {
        "type": "oom_digest",
        "schema_version": SCHEMA,
        "subject": subject,
        "severity": d.severity,
        "fingerprint": fp.key,
        "fingerprint_label": clean(fp.label, 200),
        "count": d.total,
        "folded": folded,
        "escalated": d.escalated,
        "window_start": datetime.fromtimestamp(d.window_start_ms / 1000, UTC).isoformat(),
        "window_end": datetime.fromtimestamp(d.window_end_ms / 1000, UTC).isoformat(),
        "instances": [clean(i, 40) for i in d.instances][:100],
        "largest_victims": [
            {"comm": clean(v.comm, 40), "pid": v.pid, "rss_kb": v.rss_kb, "instance": clean(v.instance, 40)}
            for v in d.victims[:5]
        ],
        "account": d.account,
        "region": d.region,
    }
    if d.muted:
        doc["muted"] = d.muted
    doc = deep_clean(doc, limit=1024, max_items=100)
    doc["links"] = {"events": sanitise(link, None), "events_search": sanitise(search, None)} if link and search else {}
    attrs = attributes(
        severity=d.severity,
        instance_id=d.instances[0] if len(d.instances) == 1 else "",
        process=fp.subject,
        source=fp.source,
        kind="oom_digest",
    )
    return Message("oom_digest", subject, "\n".join(fit(out)) + "\n", doc, attrs)


def _kernel_units(ev: OomEvent) -> set[str]:
    """The unit names of the workload the kernel's cgroup lines gave (a systemd line naming one adds nothing)."""
    w = cg.get("workload") if (cg := ev.get("cgroup")) else None
    if w is None:
        return set()
    return {v for v in (w.get("name"), w.get("unit")) if v}
