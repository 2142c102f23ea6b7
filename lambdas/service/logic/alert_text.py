"""The texts people read: SNS subject, a phone-friendly plain-text body, a JSON document for
machine subscribers and the SNS message attributes, for kills, OOM loops and digests.

Every value that came from a log line or an EC2 tag passes through :func:`oomwatch.sanitise.sanitise`
(through the layout wrappers of :mod:`service.logic.text`) where it is put into a message, even though the parser
and the EC2 lookup already sanitised it where it entered: the same cheap function twice, so that a field
added later, or a view built by hand, cannot carry a line break or a bidi override into an e-mail.
Links are percent-encoded ASCII and pass through it unchanged.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from oomwatch.sanitise import sanitise

from service.logic import links
from service.logic.hints import advise
from service.logic.severity import Fingerprint, Severity, comm, victim, workload, workload_label
from service.logic.text import (
    ascii_only,
    clean,
    clean_raw_line,
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

SUBJECT_MAX = 99  # SNS: "less than 100 characters"
ATTRIBUTE_MAX = 256
HINT_MAX = 600  # a hint line quotes a cgroup path (capped at 160) and a workload label (100)
RAW_LINES_HEAD = 8
RAW_LINES_TAIL = 16
SCHEMA = 1


class Message(NamedTuple):
    """One SNS publish."""

    kind: str  # oom_kill | oom_loop | oom_digest | memory_alarm
    subject: str
    text: str
    doc: dict[str, Any]
    attributes: dict[str, str]


class KillView(NamedTuple):
    """Everything an alert about one kill needs, gathered by the handler."""

    event: Mapping[str, Any]
    kill_time_ms: int
    instance_id: str | None
    instance: InstanceInfo | None
    severity: Severity
    fingerprint: Fingerprint
    occurrence: int
    window_minutes: int
    loop_threshold: int
    region: str
    account: str
    log_group: str
    stream: str
    previous_window_count: int = 0
    notes: tuple[str, ...] = ()
    first_kill_ms: int | None = None  # the window's first kill, for a loop's span


class Victim(NamedTuple):
    """One line of a digest's "largest victims"."""

    comm: str
    pid: int | None
    rss_kb: int | None
    instance: str
    time_ms: int


class DigestView(NamedTuple):
    fingerprint: Fingerprint
    total: int  # kills in the window
    window_start_ms: int
    window_end_ms: int
    first_ms: int
    last_ms: int
    instances: Sequence[str]
    victims: Sequence[Victim]
    severity: str
    escalated: bool
    region: str
    account: str
    events_log_group: str | None
    names: Mapping[str, str] = MappingProxyType({})  # instance id -> Name tag


# --------------------------------------------------------------------------- helpers


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M")


def host_text(name: object, instance_id: str | None, host: object = None) -> str:
    """How every message names a host: the Name tag and the instance id, else whichever is known."""
    label = clean(name, 40) if name else ""
    if label and instance_id and label != instance_id:
        return f"{label} ({instance_id})"
    return label or instance_id or clean(host, 40) or "unknown host"


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


WIDTH = 78  # columns a phone shows without scrolling sideways; URLs are exempt
_KV_LABEL = re.compile(r"( {2}[A-Za-z][A-Za-z ]{0,10}: +)\S")


def fit(lines: Sequence[str], width: int = WIDTH) -> list[str]:
    """Wrap every line wider than ``width`` (a URL line aside): continuation lines line up under the value of
    a ``Label:`` line, else two columns in. Words longer than a line (paths) break hard;
    nothing inside them is changed."""
    out: list[str] = []
    for line in lines:
        body = line.lstrip(" ")
        if len(line) <= width or body.startswith("https://"):
            out.append(line)
            continue
        label = _KV_LABEL.match(line)
        lead = len(line) - len(body)
        cont = " " * (len(label.group(1)) if label else min(lead + 2, 20))
        out.extend(
            textwrap.wrap(
                line[lead:],
                width=width,
                initial_indent=" " * lead,
                subsequent_indent=cont,
                break_long_words=True,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [line[:width]]
        )
    return out


def _subject(parts: Sequence[str]) -> str:
    text = ascii_only(clean(" ".join(p for p in parts if p), 400))
    if len(text) > SUBJECT_MAX:
        text = text[: SUBJECT_MAX - 3].rstrip() + "..."
    return text


def attributes(**values: object) -> dict[str, str]:
    """SNS message attributes: cleaned, capped, and never empty (SNS rejects empty strings)."""
    out = {}
    for key, value in values.items():
        text = clean(value, ATTRIBUTE_MAX)
        if text:
            out[key] = text
    return out


# Report lines that say nothing to a reader on a phone: stack frames, register and hex dumps,
# per-zone page statistics. They stay in the JSON form and behind the Logs Insights link.
# Three patterns rather than one alternation: each starts with a literal or a narrow class, so the
# regex engine skips ahead at C speed instead of trying every alternative at every position
# (tests/unit/alerting holds them equal to the single pattern they replace).
_NOISE_WORDS = re.compile(
    r"\[<[0-9a-f]{8,}>\]|\+0x[0-9a-f]+/0x[0-9a-f]+|Call Trace:|</?TASK>|Hardware name:"
    r"|Node \d+ (?:DMA|DMA32|Normal|Movable|hugepages)|lowmem_reserve|hugepages_total|total pagecache pages"
    r"|pages in swap cache|Swap cache stats|pages RAM|pages HighMem|pages reserved|pages hwpoisoned"
    r"|pages cma reserved|Code: (?:[0-9a-f]{2} |Unable to access opcode bytes)"
)
# "RIP: " and the other registers at a word start, found from the colon.
_NOISE_REGISTER = re.compile(r":(?:(?<=(?<!\w)(?:RIP|RSP|RAX|RDX|RBP|R10|R13|CR2):)|(?<=(?<!\w)[FC]S:))\s")
# Three 16-digit hex words (a stack or register dump), at the line start or after white space.
_NOISE_HEX = re.compile(r"[0-9a-f]{16}(?:\s+[0-9a-f]{16}){2}")
_NOISE_HEX_INSIDE = re.compile(r"\s[0-9a-f]{16}(?:\s+[0-9a-f]{16}){2}")


def noise_line(line: str) -> bool:
    """A report line that says nothing to a reader (stack frame, register or hex dump, page statistics)."""
    return bool(
        _NOISE_WORDS.search(line)
        or _NOISE_REGISTER.search(line)
        or _NOISE_HEX_INSIDE.search(line)
        or _NOISE_HEX.match(line)
    )


_LEFT_OUT = "[... "


def raw_lines(lines: Sequence[object], head: int = RAW_LINES_HEAD, tail: int = RAW_LINES_TAIL) -> list[str]:
    cleaned: list[str] = []
    for line in lines:
        if isinstance(line, str) and not noise_line(line):
            text = clean_raw_line(line, 240)
            if not cleaned or cleaned[-1] != text:  # a multi-line record may repeat its prefix line
                cleaned.append(text)
    if len(cleaned) <= head + tail + 1:
        return cleaned
    left_out = len(cleaned) - head - tail
    return [*cleaned[:head], f"{_LEFT_OUT}{left_out} lines left out: see the stream link ...]", *cleaned[-tail:]]


# The syslog/journal prefix a phone need not read on every line: "Nov 26 10:00:00 web-1 kernel: ". Anchored,
# one bounded token per part: linear on any line.
_SYSLOG_PREFIX = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?|\d{4}-\d\d-\d\dT[\d:.+-]{8,32}Z?) [^ ]{1,64} kernel: "
)


def _squeeze(line: str) -> str:
    return _RUNS.sub(" ", line) if len(line) > WIDTH - 2 else line


_RUNS = re.compile(" {2,}")


def strip_prefix(lines: list[str]) -> tuple[str, list[str]]:
    """(the prefix, the lines without it) when every line starts with the same syslog prefix, else ("", lines)."""
    first = _SYSLOG_PREFIX.match(lines[0]) if lines else None
    if first is None:
        return "", lines
    prefix = first.group(0)
    if not all(line.startswith((prefix, _LEFT_OUT)) for line in lines):
        return "", lines
    return prefix, [line.removeprefix(prefix) for line in lines]


def hint_lines(event: Mapping[str, Any], instance: InstanceInfo | None) -> list[str]:
    """The WHAT TO DO lines, each one clean line: a hint quotes cgroup paths and unit names."""
    _, hint = advise(event, instance)
    return [clean(line, HINT_MAX) for line in hint]


def _kv(label: str, value: str, width: int = 11) -> str:
    return f"  {label + ':' if label else '':<{width}} {value}"


# --------------------------------------------------------------------------- one kill

_CONSTRAINT_TEXT = {
    "global": "global - the whole host ran out of memory",
    "memcg": "memcg - a memory cgroup hit its limit; the host may have had memory left",
    "cpuset": "cpuset - the cpuset's memory nodes ran out",
    "mempolicy": "mempolicy - the NUMA memory policy's nodes ran out",
    "unknown": "not shown in the lines received",
}


def describe_workload(event: Mapping[str, Any]) -> str | None:
    w = workload(event)
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


def kill_doc(view: KillView, hint: list[str], link_map: Mapping[str, str]) -> dict[str, Any]:
    """The machine-readable form (SNS ``default``): the parser's event plus the enrichment."""
    doc = {
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
        "hint": hint,
        "notes": list(view.notes),
    }
    doc = dict(deep_clean(doc, limit=1024, max_items=80))
    doc["links"] = {k: sanitise(v, None) for k, v in link_map.items()}
    doc["event"] = deep_clean(dict(view.event), limit=1024, max_items=80)
    return doc


def _limit_kb(ev: Mapping[str, Any]) -> int | None:
    """The memory cgroup limit that was hit (memcg kills), or None (none reported, or "no limit")."""
    memcg = ev.get("memcg")
    if ev.get("constraint") != "memcg" or not isinstance(memcg, Mapping):
        return None
    limit = memcg.get("limit_kb")
    return limit if isinstance(limit, int) and 0 < limit < 2**50 else None


def render_kill(view: KillView) -> Message:
    """One kill. The first screen (about 20 lines) says what died, where, how big against what limit and what
    to do; the details follow, the kernel lines come last; lines fit 78 columns (URLs aside)."""
    ev = view.event
    v = victim(ev)
    proc = clean(comm(ev), 40)
    host = host_label(view)
    named = view_host(view)
    inst = view.instance
    rss_kb = v.get("rss_kb")
    ram_kb = inst.memory_kb if inst else None
    share = pct(rss_kb, ram_kb)
    limit_kb = _limit_kb(ev)
    limit_share = pct(rss_kb, limit_kb)
    iid = view.instance_id

    if limit_share is not None:
        against = f"{limit_share if limit_share else '<1'}% of its {size(limit_kb)} limit"
    elif share is not None:
        against = f"{share}% RAM" if share else "<1% RAM"
    else:
        against = ""
    subject = ""
    for where in dict.fromkeys((named, host)):  # the instance id goes first when the subject would be too long
        subject = _subject(
            [
                f"[OOM {view.severity.level}]",
                f"{proc} killed on {where}",
                (size(rss_kb) + ("," if against else "")) if rss_kb is not None else "",
                against if rss_kb is not None else "",
            ]
        )
        if not subject.endswith("..."):
            break

    source = str(ev.get("source") or "kernel")
    killer = {"kernel": "the kernel OOM killer", "systemd-oomd": "systemd-oomd", "earlyoom": "earlyoom"}.get(
        source, clean(source, 30)
    )
    pid = v.get("pid")
    pid_text = f" (pid {pid})" if isinstance(pid, int) and pid >= 0 else ""
    scope = view.fingerprint.scope.split(":", 1)[-1]
    constraint = str(ev.get("constraint") or "unknown")
    memcg = ev.get("memcg")
    cg_raw = ev.get("cgroup")
    cg: Mapping[str, Any] = cg_raw if isinstance(cg_raw, Mapping) else {}
    ram_text = f"{inst.memory_mib:,} MiB RAM" if inst and inst.memory_mib else ""

    # FIRST SCREEN: what died, where, how big against what limit, what to do.
    out: list[str] = [f"{proc}{pid_text} was killed by {killer} on {named}."]
    if rss_kb is not None:
        if limit_kb is not None:
            mem = f"{mib(rss_kb)} RSS = {limit_share if limit_share else '<1'}% of its {mib(limit_kb)} cgroup limit"
            mem += f" (host {ram_text})" if ram_text else ""
        elif share is not None and ram_text:
            mem = f"{mib(rss_kb)} RSS = {share if share else '<1'}% of {ram_text}"
        else:
            mem = f"{mib(rss_kb)} RSS"
        out.append(f"Size: {mem}.")
    out.append(f"Why: {_CONSTRAINT_TEXT.get(constraint, clean(constraint, 30))}.")
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

    hint = hint_lines(ev, inst)
    if hint:
        out += ["", "WHAT TO DO"]
        out += [f"  - {line}" for line in hint]

    # WHAT
    out += ["", "WHAT"]
    uid = v.get("uid")
    out.append(
        _kv("Process", proc + (f", pid {pid}" if pid_text else "") + (f", uid {uid}" if uid is not None else ""))
    )
    if rss_kb is not None:
        mem = mib(rss_kb) + " RSS"
        parts = [
            f"{name} {mib(v.get(key))}"
            for name, key in (("anon", "anon_rss_kb"), ("file", "file_rss_kb"), ("shmem", "shmem_rss_kb"))
            if v.get(key) is not None
        ]
        if parts:
            mem += " (" + ", ".join(parts) + ")"
        out.append(_kv("Memory", mem))
        extra = []
        if v.get("total_vm_kb") is not None:
            extra.append(f"virtual {mib(v.get('total_vm_kb'))}")
        if v.get("oom_score_adj") is not None:
            extra.append(f"oom_score_adj {v.get('oom_score_adj')}")
        if extra:
            out.append(_kv("", ", ".join(extra)))
    wl = describe_workload(ev)
    if wl:
        out.append(_kv("Workload", wl))
    unit_lines = [clean(u, 80) for u in ev.get("units") or [] if u]
    if unit_lines:
        out.append(_kv("systemd", ", ".join(unit_lines[:3]) + " failed with result 'oom-kill'"))
    # Unit lines that decide nothing (unverified sender, or the kernel named the cgroup): shown as what they are,
    # unless they only repeat the unit the kernel's own cgroup line already named.
    known = set(ev.get("units") or []) | _kernel_units(ev)
    said = [
        clean(c.get("unit"), 80)
        for c in ev.get("systemd_context") or []
        if isinstance(c, Mapping) and c.get("unit") and c.get("unit") not in known
    ]
    if said:
        unverified = any(isinstance(c, Mapping) and not c.get("verified") for c in ev.get("systemd_context") or [])
        why = "sender not verified" if unverified else "the kernel's cgroup comes first"
        out.append(_kv("Context", f"systemd reports unit {', '.join(said[:3])} ({why}; not used for this alert)"))
    if source != "kernel" and ev.get("sender_verified") is False:
        out.append(_kv("Sender", f"not verified: anyone on the host can write this line as {killer}"))
    trig = ev.get("trigger")
    if isinstance(trig, Mapping):
        t = clean(trig.get("comm"), 40) + (f" (pid {trig.get('pid')})" if trig.get("pid") is not None else "")
        detail = []
        if trig.get("order") == -1:
            detail.append("order -1 (a manual OOM: SysRq-f or echo f > /proc/sysrq-trigger)")
        elif trig.get("order") is not None:
            detail.append(f"order {trig.get('order')}")
        if trig.get("gfp_mask"):
            detail.append(f"gfp_mask {clean(trig.get('gfp_mask'), 40)}")
        out.append(_kv("Trigger", t + (" asked for memory: " + ", ".join(detail) if detail else "")))
    elif source == "kernel":
        out.append(_kv("Trigger", "not in the lines received"))
    if constraint == "memcg":
        oom_path = cg.get("oom_memcg")
        task_path = cg.get("task_memcg")
        if oom_path:
            out.append(_kv("Limit of", clean(oom_path, 512)))  # shown whole once; shortened elsewhere
        if task_path and task_path != oom_path:
            out.append(_kv("Victim in", clean(task_path, 512)))
        if isinstance(memcg, Mapping) and memcg.get("limit_kb"):
            out.append(_kv("Usage", f"{mib(memcg.get('usage_kb'))} used of {mib(memcg.get('limit_kb'))} limit"))

    # WHERE
    out += ["", "WHERE"]
    out.append(_kv("Host", host + (f" ({iid})" if iid and iid != host else "")))
    if inst:
        if inst.instance_type:
            ram = f", {inst.memory_mib:,} MiB RAM" if inst.memory_mib else ""
            out.append(_kv("Type", f"{inst.instance_type}{ram}"))
        zone = ", ".join(x for x in (inst.az, f"ASG {clean(inst.asg, 80)}" if inst.asg else "") if x)
        if zone:
            out.append(_kv("Zone", zone))
        image = ", ".join(x for x in (inst.image_id, f"IP {inst.private_ip}" if inst.private_ip else "") if x)
        if image:
            out.append(_kv("Image", image))
        if inst.launch_time:
            out.append(_kv("Launched", inst.launch_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")))
        tags = inst.user_tags()
        if tags:
            shown = ", ".join(f"{clean(k, 40)}={clean(v, 60)}" for k, v in list(tags.items())[:5])
            out.append(_kv("Tags", shown + (f" (+{len(tags) - 5})" if len(tags) > 5 else "")))
    out.append(_kv("Account", f"{view.account or '?'}, {view.region}"))
    out.append(_kv("Log", f"{clean(view.log_group, 120)} / {clean(view.stream, 80)}"))

    # WHEN
    out += ["", "WHEN"]
    uptime = ev.get("uptime_s")
    out.append("  " + when(view.kill_time_ms) + (f" (uptime {duration(uptime)})" if uptime is not None else ""))

    # TOP CONSUMERS
    top = [r for r in ev.get("top_consumers") or [] if isinstance(r, Mapping)]
    if top:
        tasks = ev.get("task_count")
        counted = f", {tasks} task{'s' if tasks != 1 else ''}" if tasks else ""
        out += ["", f"TOP MEMORY USERS (task table{counted})"]
        for row in top[:5]:
            share_row = pct(row.get("rss_kb"), ram_kb)
            share_text = "" if share_row is None else f" {share_row}%" if share_row else " <1%"
            out.append(
                f"  {mib(row.get('rss_kb')):>10}  {clean(row.get('comm'), 30)} (pid {row.get('pid')}){share_text}"
            )

    # LINKS: the stream around the kill (short); the Logs Insights query stays in the JSON form.
    link_map: dict[str, str] = {}
    if view.log_group and view.stream:
        link_map["log_stream"] = links.kill_stream_url(view.region, view.log_group, view.stream, view.kill_time_ms)
        link_map["logs"] = links.kill_context_url(view.region, view.log_group, view.stream, view.kill_time_ms)
    if iid:
        link_map["instance"] = links.instance_url(view.region, iid)
    if link_map:
        out += ["", "LINKS"]
        if "log_stream" in link_map:
            out += ["  The stream, 10 min before to 5 min after the kill:", f"  {link_map['log_stream']}"]
        if "instance" in link_map:
            out += ["  Instance:", f"  {link_map['instance']}"]

    notes = list(view.notes)
    if not ev.get("complete", True):
        notes.append(
            "The report is incomplete: "
            + (", ".join(clean(w, 120) for w in ev.get("warnings") or []) or "parts were missing.")
        )
    if notes:
        out += ["", "NOTES"]
        out += [f"  - {clean(n, 300)}" for n in notes]

    lines = raw_lines(ev.get("lines") or [])
    if lines:
        prefix, lines = strip_prefix(lines)
        title = "KERNEL LINES" if source == "kernel" else "LOG LINES"
        out += ["", title + (f' (each after "{prefix.strip()}")' if prefix else "")]
        # A line too wide for a phone loses its column padding (a task-table row) before it is wrapped.
        out += [f"  {_squeeze(short_ids(line))}" for line in lines]

    doc = kill_doc(view, hint, link_map)
    doc["subject"] = subject
    attrs = attributes(
        severity=view.severity.level,
        instance_id=iid or "",
        process=proc,
        source=source,
        kind="oom_kill",
        workload_kind=workload(ev).get("kind") or "",
        constraint=constraint,
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
    rss = victim(view.event).get("rss_kb")
    out = [
        f"{clean(short_ids(fp.subject), 60)} was OOM-killed {view.occurrence} times in {took}"
        f" (first to latest kill) on {scope_kind} {clean(scope, 60)} ({fp.source}).",
        "This is a loop: the service is restarted and killed again. Fix the memory budget, not the restart.",
        f"Latest kill: {when(view.kill_time_ms)} on {named}" + (f", {mib(rss)} RSS" if rss is not None else ""),
        f"Severity: {view.severity.level}",
    ]
    hint = hint_lines(view.event, view.instance)
    if hint:
        out += ["", "WHAT TO DO"] + [f"  - {line}" for line in hint]
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
        "process": clean(comm(view.event), 40),
        "account": view.account,
        "region": view.region,
        "hint": hint,
    }
    doc = deep_clean(doc, limit=1024, max_items=100)
    doc["links"] = {k: sanitise(v, None) for k, v in loop_links.items()}
    attrs = attributes(
        severity=view.severity.level,
        instance_id=view.instance_id or "",
        process=comm(view.event),
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


def _kernel_units(ev: Mapping[str, Any]) -> set[str]:
    """The unit names of the workload the kernel's cgroup lines gave (a systemd line naming one adds nothing)."""
    cgroup = ev.get("cgroup")
    workload = cgroup.get("workload") if isinstance(cgroup, Mapping) else None
    if not isinstance(workload, Mapping):
        return set()
    return {str(v) for v in (workload.get("name"), workload.get("unit")) if v}
