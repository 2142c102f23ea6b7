"""Rollout notices: a State Manager association that failed (or recovered) on one host, and fleet coverage.

Pure code (no AWS): the use cases (:mod:`service.logic.rollout_notices`, :mod:`service.logic.coverage`) gather
the facts, this module decides what they mean and writes the text.

The input of the failure notice is the EventBridge event ``EC2 State Manager Instance Association State
Change`` (source ``aws.ssm``; detail fields ``association-id``, ``instance-id``, ``document-name``,
``status``, ``detailed-status``, ``error-code``, ``execution-summary``, ``last-execution-date``, ...: AWS
Systems Manager user guide, "Amazon EventBridge event examples for Systems Manager", State Manager events)
plus, when the use case could read it, the output of the rollout document's two steps
(``ssm:GetCommandInvocation``: stdout capped by AWS at 24,000 characters, stderr at 8,000).

That output is host-controlled text: any process with root on the host can write it. It is sanitised
(:func:`oomwatch.sanitise.sanitise`), cut to :data:`ERROR_MAX_CHARS`, scanned with linear-time patterns
only, and quoted, never interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from oomwatch.sanitise import sanitise

from service.logic import links
from service.logic.layout import attributes, fit
from service.logic.text import ascii_only, clean, deep_clean
from service.models.views import Message

#: The rollout document's steps (``infra.agent_rollout.rollout_document``), in the order they run.
INSTALL_STEP: Final = "installAgent"
CONFIGURE_STEP: Final = "configureAgent"
STEP_LABELS: Final = {INSTALL_STEP: "install (AWS-ConfigureAWSPackage)", CONFIGURE_STEP: "configure script"}

#: How much of a step's stderr (or stdout) the notice quotes, after sanitising.
ERROR_MAX_CHARS: Final = 1500
#: How much host output is scanned for known failures (AWS returns at most 8,000 characters of stderr
#: and 24,000 of stdout; both are cut to this before any pattern runs).
SCAN_MAX_CHARS: Final = 24_000
#: Hosts listed by name in one coverage notice; the rest are counted.
COVERAGE_LIST_MAX: Final = 40

DETAIL_TYPE: Final = "EC2 State Manager Instance Association State Change"
FAILED_STATUSES: Final = frozenset({"Failed", "TimedOut"})


class AssociationChange(NamedTuple):
    """One host's association run, from the EventBridge event."""

    association_id: str
    instance_id: str
    status: str
    detailed_status: str
    error_code: str
    summary: str
    document: str
    execution_date: str
    region: str
    account: str


_INSTANCE = re.compile(r"(?:i-[0-9a-f]{8}(?:[0-9a-f]{9})?|mi-[0-9a-f]{17})")
_ASSOCIATION = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_association_event(event: Mapping[str, Any]) -> AssociationChange | None:
    """The change in an ``EC2 State Manager Instance Association State Change`` event; None if not one."""
    if event.get("source") != "aws.ssm" or event.get("detail-type") != DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    instance_id = str(detail.get("instance-id") or "")
    association_id = str(detail.get("association-id") or "")
    if not _INSTANCE.fullmatch(instance_id) or not _ASSOCIATION.fullmatch(association_id):
        return None

    def text(key: str, limit: int = 300) -> str:
        return clean(detail.get(key), limit)

    return AssociationChange(
        association_id=association_id,
        instance_id=instance_id,
        status=text("status", 40),
        detailed_status=text("detailed-status", 80),
        error_code=text("error-code", 120),
        summary=text("execution-summary", 300),
        document=text("document-name", 128),
        execution_date=text("last-execution-date", 40),
        region=clean(event.get("region"), 40),
        account=clean(event.get("account"), 20),
    )


class StepOutput(NamedTuple):
    """What one step of the rollout document reported on the host (from GetCommandInvocation)."""

    step: str
    status: str
    stdout: str
    stderr: str


class Failure(NamedTuple):
    """A classified association failure: ``kind`` is the noise key (one notice per host and kind)."""

    kind: str
    step: str  # INSTALL_STEP, CONFIGURE_STEP or "" (unknown)
    title: str
    fix: str
    error: str  # the sanitised, capped excerpt quoted in the notice


class KnownFailure(NamedTuple):
    kind: str
    step: str
    pattern: re.Pattern[str]
    title: str
    fix: str


#: Known failures, first match wins. Patterns are plain literals or bounded classes (linear time).
#: Sources: the configure script's own messages (``infra.agent_rollout.configure_script``); the agent's
#: merge error ("Failed to merge multiple json config files", "Different values are specified for <key>":
#: ``translator/jsonconfig/mergeJsonConfig.go``, ``mergeJsonUtil/util.go``, see ``agent_config.merge_model``);
#: AWS-ConfigureAWSPackage's failures as the Distributor documents them (package not found for the
#: platform, download failures).
KNOWN_FAILURES: Final[tuple[KnownFailure, ...]] = (
    KnownFailure(
        "mem_swap_conflict",
        CONFIGURE_STEP,
        re.compile(r"Different values are specified for (?:mem|swap)\b"),
        "the host's own agent config has mem/swap sections",
        "This host's own CloudWatch agent configuration collects mem or swap itself (the agent wizard's standard"
        " plan does), and the agent has no merge rule for those sections. Delete mem and swap from the host's own"
        " file in /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/ (OOMWatch's sections supply both"
        " metrics). See docs/configuration.md, Hosts with their own agent configuration.",
    ),
    KnownFailure(
        "append_dimensions_conflict",
        CONFIGURE_STEP,
        re.compile(r"Different values are specified for append_dimensions"),
        "the host's own agent config sets append_dimensions",
        "This host's own CloudWatch agent configuration sets append_dimensions to a value OOMWatch's configuration"
        " does not have, and the agent has no merge rule for it. Remove it from the host's own file (or make it"
        " equal); see docs/configuration.md, Hosts with their own agent configuration.",
    ),
    KnownFailure(
        "journald_conflict",
        CONFIGURE_STEP,
        re.compile(r"Different values are specified for journald"),
        "the host's own agent config has a journald section",
        "journald has no merge rule in the agent: deploy OOMWatch with log_sources=files (and rsyslog on the host),"
        " or remove the host's own logs_collected.journald section.",
    ),
    KnownFailure(
        "merge_conflict",
        CONFIGURE_STEP,
        re.compile(r"Failed to merge multiple json config files|Different values are specified for"),
        "the host's own agent config conflicts",
        "Another agent configuration file on this host sets a key OOMWatch's configuration also sets, to a"
        " different value (the key is named in the error). Make the two agree or remove the key from the host's"
        " file; the agent keeps running its previous configuration meanwhile. See docs/configuration.md, Hosts"
        " with their own agent configuration.",
    ),
    KnownFailure(
        "agent_too_old",
        CONFIGURE_STEP,
        re.compile(r"OOMWatch: CloudWatch agent \S{0,60} is older than"),
        "agent older than journald support",
        "Set agent_version to latest (or a newer release) and deploy again, so the install step upgrades the"
        " agent; or deploy with log_sources=files.",
    ),
    KnownFailure(
        "not_installed",
        CONFIGURE_STEP,
        re.compile(r"the CloudWatch agent is not installed"),
        "agent not installed (install step failed)",
        "The install step did not install the agent: see its output below. Check that the host reaches S3 and"
        " SSM (VPC endpoints or NAT), has disk space, and that the AmazonCloudWatchAgent package exists for its"
        " OS and architecture.",
    ),
    KnownFailure(
        "parameter_denied",
        CONFIGURE_STEP,
        re.compile(r"AccessDenied|ParameterNotFound|not authorized to perform: ssm:GetParameter"),
        "host cannot read the OOMWatch parameter",
        "Attach OOMWatch's AgentManagedPolicyArn (stack output) to the instance role, next to"
        " AmazonSSMManagedInstanceCore, or launch with the InstanceProfileName output.",
    ),
    KnownFailure(
        "install_failed",
        INSTALL_STEP,
        re.compile(
            r"[Ff]ailed to (?:install|download)|[Pp]ackage \S{0,80} (?:is not|was not) found|"
            r"could not (?:find|download)|No space left on device"
        ),
        "agent package install failed",
        "Check that the host reaches S3 and SSM (VPC endpoints or NAT), has disk space, and that the"
        " AmazonCloudWatchAgent package exists for its OS and architecture; agent_version must name a"
        " published release (or be latest).",
    ),
)

UNKNOWN_FIX: Final = (
    "Read the step's output (below, or in Systems Manager > State Manager > the association > Execution"
    " history) and run the rollout document again once fixed: it re-runs daily and on every deploy that"
    " changes the configuration."
)
TIMEOUT_FIX: Final = (
    "The run did not finish in time: check that the SSM agent on the host is online and not busy, then run"
    " the association again."
)


def excerpt(text: object, limit: int = ERROR_MAX_CHARS) -> str:
    """Host output made safe to quote: sanitised (one line per output line), capped, blank lines dropped."""
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    raw = raw[:SCAN_MAX_CHARS]
    # Only "\n" ends a line: U+2028, U+0085, "\r" and the like are marked visibly by sanitise, not obeyed.
    lines = [sanitise(line, 300).rstrip() for line in raw.split("\n")]
    kept = "\n".join(line for line in lines if line.strip())
    return kept if len(kept) <= limit else kept[: limit - 3] + "..."


def classify_failure(change: AssociationChange, outputs: Sequence[StepOutput]) -> Failure:
    """Which known failure this is (first match over the failed steps' stderr, then stdout)."""
    failed = [o for o in outputs if o.status not in ("Success", "")] or list(outputs)
    for output in failed:
        scanned = (output.stderr or "")[:SCAN_MAX_CHARS] + "\n" + (output.stdout or "")[:SCAN_MAX_CHARS]
        for known in KNOWN_FAILURES:
            if known.pattern.search(scanned):
                return Failure(known.kind, output.step, known.title, known.fix, excerpt(output.stderr or output.stdout))
    step = failed[0].step if failed else ""
    error = excerpt(failed[0].stderr or failed[0].stdout) if failed else ""
    if change.status == "TimedOut" or "timed" in change.detailed_status.lower():
        return Failure("timed_out", step, "the association run timed out", TIMEOUT_FIX, error)
    summary = change.summary or change.error_code or change.detailed_status
    return Failure("unknown", step, f"the association run failed ({summary or 'no reason given'})", UNKNOWN_FIX, error)


def _host(instance_id: str, name: str | None) -> str:
    return f"{clean(name, 60)} ({instance_id})" if name else instance_id


def _subject(text: str) -> str:
    subject = ascii_only(clean(text, 99))
    return subject if len(subject) <= 99 else subject[:96] + "..."


def render_failure_notice(
    change: AssociationChange, failure: Failure, *, name: str | None, notes: Sequence[str] = ()
) -> Message:
    """The notice for a host whose OOMWatch rollout failed: which host, which step, the error, the fix."""
    host = _host(change.instance_id, name)
    subject = _subject(f"[OOMWatch rollout failed] {name or change.instance_id}: {failure.title}")
    step = STEP_LABELS.get(failure.step, failure.step or "unknown (the step output could not be read)")
    out = [
        f"OOMWatch could not set up the CloudWatch agent on {host}: {failure.title}.",
        "Until this is fixed, OOM kills on this host may not be reported.",
        "",
        f"Host:    {host}",
        f"Step:    {step}",
        f"Status:  {change.status}" + (f" ({change.detailed_status})" if change.detailed_status else ""),
    ]
    if change.execution_date:
        out.append(f"Run:     {change.execution_date}")
    out += ["", "FIX", f"  {failure.fix}", ""]
    if failure.error:
        out += ["ERROR (the step's output on the host, sanitised and shortened)"]
        out += [f"  {line}" for line in failure.error.splitlines()]
        out.append("")
    if change.region:
        out.append(f"  {links.instance_url(change.region, change.instance_id)}")
    out.append("You get this once per host and kind of failure, and one notice when the host succeeds again.")
    if notes:
        out += ["", "NOTES"] + [f"  - {clean(n, 300)}" for n in notes]
    doc = deep_clean(
        {
            "type": "rollout_failed",
            "schema_version": 1,
            "subject": subject,
            "instance_id": change.instance_id,
            "instance_name": name,
            "association_id": change.association_id,
            "status": change.status,
            "detailed_status": change.detailed_status,
            "step": failure.step,
            "kind": failure.kind,
            "fix": failure.fix,
            "error": failure.error,
            "region": change.region,
            "account": change.account,
            "notes": list(notes),
        },
        limit=ERROR_MAX_CHARS,
    )
    attrs = attributes(
        severity="warning", instance_id=change.instance_id, source="ssm-association", kind="rollout_failed"
    )
    return Message("rollout_failed", subject, "\n".join(fit(out)).rstrip() + "\n", doc, attrs)


def render_fixed_notice(change: AssociationChange, kinds: Iterable[str], *, name: str | None) -> Message:
    """The one notice when a host whose rollout failed succeeds again."""
    host = _host(change.instance_id, name)
    subject = _subject(f"[OOMWatch rollout fixed] {name or change.instance_id}")
    was = ", ".join(sorted(clean(k, 40) for k in kinds)) or "a failure"
    out = [
        f"The OOMWatch rollout succeeded again on {host} (it had failed: {was}).",
        "The CloudWatch agent there runs OOMWatch's configuration.",
    ]
    if change.execution_date:
        out.append(f"Run: {change.execution_date}")
    doc = deep_clean(
        {
            "type": "rollout_fixed",
            "schema_version": 1,
            "subject": subject,
            "instance_id": change.instance_id,
            "instance_name": name,
            "association_id": change.association_id,
            "was": sorted(kinds),
            "region": change.region,
            "account": change.account,
        }
    )
    attrs = attributes(severity="info", instance_id=change.instance_id, source="ssm-association", kind="rollout_fixed")
    return Message("rollout_fixed", subject, "\n".join(fit(out)).rstrip() + "\n", doc, attrs)


# ---------------------------------------------------------------------------------------------- coverage


class Expected(NamedTuple):
    """An instance OOMWatch should hear from: SSM-managed, online, Linux, in the target."""

    instance_id: str
    name: str | None
    launch_time: datetime | None


class CoverageChange(NamedTuple):
    silent: frozenset[str]  # the new set of silent instances
    new_silent: tuple[str, ...]
    back: tuple[str, ...]
    gone: tuple[str, ...]  # were silent, no longer expected (stopped, untagged, terminated)

    @property
    def announce(self) -> bool:
        return bool(self.new_silent or self.back)


def silent_instances(
    expected: Iterable[Expected], reporting: Iterable[str], *, now: datetime, grace_s: int
) -> frozenset[str]:
    """Expected instances that sent no ``mem_used_percent``, except those launched in the last ``grace_s``."""
    heard = set(reporting)
    out = set()
    for host in expected:
        if host.instance_id in heard:
            continue
        if host.launch_time is not None and (now - host.launch_time).total_seconds() < grace_s:
            continue
        out.add(host.instance_id)
    return frozenset(out)


def coverage_change(previous: Iterable[str], silent: frozenset[str], expected_ids: Iterable[str]) -> CoverageChange:
    """What changed since the last check: new silent hosts, hosts heard from again, hosts no longer expected."""
    before = set(previous)
    expected = set(expected_ids)
    left = before - silent
    return CoverageChange(
        silent=silent,
        new_silent=tuple(sorted(silent - before)),
        back=tuple(sorted(i for i in left if i in expected)),
        gone=tuple(sorted(i for i in left if i not in expected)),
    )


def render_coverage_notice(
    change: CoverageChange,
    *,
    names: Mapping[str, str | None],
    expected_count: int,
    lookback_minutes: int,
    target: str,
    region: str,
    account: str,
) -> Message:
    """One notice per change of the silent set: the new silent hosts and the hosts back."""
    silent_n = len(change.silent)
    parts = []
    if change.new_silent:
        parts.append(f"{len(change.new_silent)} silent")
    if change.back:
        parts.append(f"{len(change.back)} back")
    subject = _subject(f"[OOMWatch coverage] {', '.join(parts)}: {silent_n} of {expected_count} hosts silent")

    def listed(ids: Sequence[str]) -> list[str]:
        rows = [f"  {_host(i, names.get(i))}" for i in ids[:COVERAGE_LIST_MAX]]
        if len(ids) > COVERAGE_LIST_MAX:
            rows.append(f"  ... and {len(ids) - COVERAGE_LIST_MAX} more")
        return rows

    out = [
        f"{silent_n} of the {expected_count} instances OOMWatch should watch ({clean(target, 120)}) sent no"
        f" mem_used_percent in the last {lookback_minutes} minutes.",
        "",
    ]
    if change.new_silent:
        out += ["NEWLY SILENT (no CloudWatch agent metrics: OOM kills there may not be reported)"]
        out += listed(change.new_silent)
        out += [
            "  Fix: check the OOMWatch association's last run on the host (a failure notice names the error), "
            "that the agent runs (systemctl status amazon-cloudwatch-agent), and that the instance role may "
            "publish CWAgent metrics.",
            "",
        ]
    if change.back:
        out += ["BACK (sending metrics again)", *listed(change.back), ""]
    if change.gone:
        out += [f"No longer expected (stopped, untagged or gone): {len(change.gone)}", ""]
    out.append("Instances launched in the last 15 minutes are not counted as silent yet.")
    out.append("You get a coverage notice only when the set of silent hosts changes.")
    doc = deep_clean(
        {
            "type": "coverage",
            "schema_version": 1,
            "subject": subject,
            "expected": expected_count,
            "silent": sorted(change.silent)[:200],
            "new_silent": list(change.new_silent)[:200],
            "back": list(change.back)[:200],
            "gone": list(change.gone)[:200],
            "names": {i: names.get(i) for i in (*change.new_silent, *change.back)[:200]},
            "region": region,
            "account": account,
        },
        max_items=200,
    )
    attrs = attributes(severity="warning" if change.new_silent else "info", source="coverage", kind="coverage")
    return Message("coverage", subject, "\n".join(fit(out)).rstrip() + "\n", doc, attrs)


def parse_time(value: object) -> datetime | None:
    """A boto3 datetime or an ISO 8601 string, as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
