"""``oomwatch demo``: the whole pipeline on a local AWS emulator (see docs/demo.md)."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from demo import fleet, inputs, mute_story, render, rollout_story
from demo.logplay import read_lines
from demo.pipeline import Delivery, Demo

SAMPLES = Path(__file__).resolve().parent / "samples"
_HOST_FIELD = re.compile(r"^(?:[A-Z][a-z]{2} +\d+ [\d:.]+|\d{4}-\d\d-\d\dT\S+) (?P<host>[A-Za-z0-9][\w.-]*) ")


@dataclass(frozen=True)
class Played:
    host: fleet.Host
    text: str
    #: Where the instance type came from ("--log", "demo/samples/fleet.json", or what in the report).
    type_source: str = ""
    kills: int = 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oomwatch demo",
        description=(
            "Deploy oomwatch with the real CDK CLI to a local AWS emulator (moto), play OOM logs through it "
            "and show the alerts and events it produces. Needs no AWS account; leaves nothing running."
        ),
    )
    parser.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="INSTANCE_ID=FILE[:TYPE]",
        help="play FILE (syslog, journalctl or CloudWatch agent journald JSON lines; gzip, xz or bzip2 "
        "compressed or not, as oomwatch scan reads it) as the log stream of INSTANCE_ID, seeded as an instance "
        "of TYPE (default: the report's own EC2 type or RAM figure); repeatable; default: the bundled samples "
        "in demo/samples",
    )
    parser.add_argument("--json", action="store_true", help="print only JSON Lines on stdout (one object per delivery)")
    parser.add_argument(
        "--verbose", action="store_true", help="also print the deployed resources, every invocation and the timings"
    )
    parser.add_argument("--app-dir", type=Path, default=None, help=argparse.SUPPRESS)  # a CDK app to use instead
    return parser


def _hostname(text: str) -> str | None:
    for line in read_lines(text[:20000]):
        if line.message.startswith("{"):
            with contextlib.suppress(ValueError, AttributeError):
                host = json.loads(line.message)["body"]["_HOSTNAME"]
                if isinstance(host, str):
                    return host
            continue
        m = _HOST_FIELD.match(line.message)
        if m and m.group("host") != "kernel:":
            return m.group("host")
    return None


#: Launched this long before its log's first line when the report gives no kernel uptime.
DEFAULT_UPTIME_S = 3600.0
#: The digest job sends a window 30 s after it ends (service/handlers/digest.py); the demo runs it a minute after.
DIGEST_GRACE_S = 60


def _launched_before_s(text: str, facts: inputs.ReportFacts) -> float:
    """Seconds before seeding that the host was launched: the log's whole span (its last line is replayed
    to "now", after seeding), then the kernel's uptime at the first kill, so LaunchTime is before boot."""
    stamps = [ln.original_ms for ln in read_lines(text) if ln.original_ms is not None]
    span_s = (max(stamps) - min(stamps)) / 1000 if stamps else 0.0
    return round(span_s + (facts.uptime_s if facts.uptime_s is not None else DEFAULT_UPTIME_S))


def load_plays(pairs: list[str]) -> tuple[list[Played], str]:
    """The streams to play and the instance whose memory alarm fires; raises :class:`inputs.InputError`."""
    if not pairs:
        manifest = json.loads((SAMPLES / "fleet.json").read_text())
        plays = []
        for h in manifest["hosts"]:
            text = (SAMPLES / h["file"]).read_text()
            facts = inputs.report_facts(text)
            host = fleet.Host(
                h["instance_id"],
                h["name"],
                h["instance_type"],
                h.get("asg"),
                swap_total_kb=facts.swap_kb,
                launched_before_s=_launched_before_s(text, facts),
            )
            plays.append(Played(host, text, "demo/samples/fleet.json", facts.kills))
        return plays, str(manifest["alarm_instance"])
    plays = []
    seen: set[str] = set()
    for index, pair in enumerate(pairs, start=1):
        spec = inputs.parse_spec(pair, fleet.INSTANCE_ID)
        if spec.instance_id in seen:
            raise inputs.InputError(f"--log {pair}: {spec.instance_id} given twice")
        seen.add(spec.instance_id)
        text = inputs.read_log(spec.path)
        facts = inputs.report_facts(text)
        if not facts.kills:
            raise inputs.InputError(
                f"--log {pair}: no OOM kill in {spec.path} (as oomwatch scan reads it); the demo would show nothing"
            )
        if spec.instance_type:
            instance_type, source = spec.instance_type, "--log"
        else:
            instance_type, source = facts.instance_type()
        name = _hostname(text) or f"demo-host-{index}"
        host = fleet.Host(
            spec.instance_id,
            name,
            instance_type,
            None,
            swap_total_kb=facts.swap_kb,
            launched_before_s=_launched_before_s(text, facts),
        )
        plays.append(Played(host, text, source, facts.kills))
    return plays, plays[0].host.instance_id


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so the ``finally`` that stops the emulator runs."""

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _failures(deliveries: list[Delivery]) -> list[str]:
    found = []
    for delivery in deliveries:
        if not delivery.ok:
            last = delivery.attempts[-1]
            found.append(
                f"{delivery.source} -> {delivery.function}: {last.error_type}: {last.error_message} "
                f"(after {len(delivery.attempts)} attempts)"
            )
    return found


def _stories(
    demo: Demo, progress: Callable[[str], None]
) -> tuple[rollout_story.Story, list[dict[str, Any]], mute_story.MuteStory]:
    """The rollout story, the structured events so far (the log path's and the rollout's), then the mute story."""
    story = rollout_story.run(demo, progress)
    events = demo.structured_events()
    return story, events, mute_story.run(demo, progress)


def _print_stories(
    story: rollout_story.Story, muting: mute_story.MuteStory, out: TextIO, mails: dict[str, list[dict[str, Any]]]
) -> None:
    rollout_story.print_story(story, out, mails)
    mute_story.print_story(muting, out, mails)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.monotonic()
    try:
        plays, alarm_instance = load_plays(args.log)
    except inputs.InputError as exc:
        print(f"oomwatch demo: {exc}", file=err)
        return 2

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=err, flush=True)

    demo = Demo(progress=progress)
    if args.app_dir is not None:
        demo.app_dir = args.app_dir.resolve()
    records: list[dict[str, Any]] = []
    with _terminate_as_interrupt():
        try:
            demo.up()
            progress(f"deployed {', '.join(s.name for s in demo.asm.stacks)}; seeding {len(plays)} instance(s)")
            for p in plays:
                progress(f"  {p.host.instance_id} ({p.host.name}): {p.host.instance_type}, from {p.type_source}")
            demo.seed([p.host for p in plays])
            demo.send_control_messages()
            host_filter = demo.host_filter()
            progress("playing " + ", ".join(f"{p.host.instance_id} ({p.host.name})" for p in plays))
            log_deliveries = demo.play({p.host.instance_id: p.text for p in plays}, host_filter=host_filter)
            shipped = f"{host_filter.shipped} of {host_filter.seen} lines"
            progress(f"the hosts' agents shipped {shipped}; {len(log_deliveries)} deliveries to the log handler")
            demo.emulated.append(
                "CloudWatch agent on the hosts: the filters of the agent configuration the stack hands them (its "
                f"SSM parameter) decide which lines are put into the log group, as on a host: {shipped} shipped"
            )
            alerts = demo.drain_topic()
            progress(f"firing the fleet memory alarm for {alarm_instance}")
            demo.fire_alarm(alarm_instance)
            notices = demo.drain_topic()
            ahead = demo.noise_window_s() + DIGEST_GRACE_S
            scheduled = demo.run_schedules(clock_offset_s=ahead)
            if scheduled:
                progress(
                    f"ran {len(scheduled)} scheduled target(s) once, their clock moved {ahead // 60} min ahead "
                    f"(past the {demo.noise_window_s() // 60}-min noise window)"
                )
            digests = demo.drain_topic()
            story, events, muting = _stories(demo, progress)
            bus = demo.drain_bus()  # after the stories: their notices and kills are events too
            records = alerts + notices + digests + story.notices + events + muting.records() + bus
            failures = _failures(demo.deliveries)
            if args.json:
                _write_json(records, out)
            else:
                _print_report(
                    demo, out, alerts, notices, digests, events, failures, verbose=args.verbose, ahead_s=ahead
                )
                _print_stories(story, muting, out, demo.mail())
                _print_bus(demo, out, bus)
            progress(
                f"done in {time.monotonic() - started:.1f}s: {len(alerts) + len(notices) + len(digests)} "
                f"message(s) on the topic, {len(events)} structured event(s), {len(bus)} EventBridge event(s)"
            )
            for failure in failures:
                print(f"FAILED: {failure}", file=err)
            return 1 if failures else 0
        finally:
            demo.down()
            progress("emulator stopped")


def _write_json(records: list[dict[str, Any]], out: TextIO) -> None:
    keys = ("channel", "subject", "message", "attributes", "event", "eventbridge")
    for record in records:
        line = {k: record[k] for k in keys if k in record}
        out.write(json.dumps(line, sort_keys=True, default=str) + "\n")


def _print_bus(demo: Any, out: TextIO, bus: list[dict[str, Any]]) -> None:
    """The EventBridge events the run put (after the rollout story, whose notices are events too)."""
    if not demo.event_bus:
        print(render.section("EventBridge events: none (event_bus is off)"), file=out)
        return
    title = f"EventBridge events put on the {demo.event_bus!r} bus: {len(bus)} (whole: --json; docs/eventbridge.md)"
    print(render.section(title), file=out)
    for record in bus:
        print(render.bus_event(record), file=out)


def _print_chat(demo: Any, out: TextIO, alerts: list[dict[str, Any]]) -> None:
    """The first alert's chat form: what SNS would POST to Amazon Q Developer for a Slack or Teams channel."""
    chats = demo.chat()
    first = next((r for r in alerts if chats.get(str(r.get("message_id")))), None)
    title = "The first alert as Slack and Teams show it (Amazon Q Developer's custom notification)"
    print(render.section(title), file=out)
    print(render.chat(first, chats[str(first.get("message_id"))]) if first else "(no chat form caught)", file=out)


def _print_dashboards(demo: Any, out: TextIO) -> None:
    for name, widgets in demo.dashboards():
        print(render.section("The dashboard the stack created (CloudWatch GetDashboard)"), file=out)
        print(render.dashboard(name, widgets), file=out)


def _print_report(
    demo: Any,
    out: TextIO,
    alerts: list[dict[str, Any]],
    notices: list[dict[str, Any]],
    digests: list[dict[str, Any]],
    events: list[dict[str, Any]],
    failures: list[str],
    *,
    verbose: bool = False,
    ahead_s: int = 0,
) -> None:
    """Alerts first (what a user came to see), then the events and what was emulated; the resource table,
    every invocation and the timings only with ``--verbose``."""
    mails = demo.mail()
    later = f", {ahead_s // 60} min later on the demo's clock" if ahead_s else ""
    for title, batch in (
        ("Alerts from the OOM log path, as e-mailed", alerts),
        ("Alarm notice (fleet memory alarm -> EventBridge -> alarm handler), as e-mailed", notices),
        (f"Digest (the digest schedule's run{later}), as e-mailed", digests),
    ):
        print(render.section(f"{title}: {len(batch)}"), file=out)
        for record in batch:
            print(render.email(record, mails.get(str(record.get("message_id")), [])), file=out)
            print("-" * 100, file=out)
    _print_chat(demo, out, alerts)
    print(render.section(f"Structured events in {demo.events_log_group()}: {len(events)} (whole: --json)"), file=out)
    for record in events:
        print(render.event(record), file=out)
    _print_dashboards(demo, out)
    print("\nEmulated by the demo:", file=out)
    print(render.bullet(demo.emulated), file=out)
    ok = sum(1 for d in demo.deliveries if d.ok)
    print(f"\nInvocations: {len(demo.deliveries)}, {ok} ok" + ("" if verbose else " (--verbose lists them)"), file=out)
    if verbose:
        rows = []
        for stack in demo.asm.stacks:
            for lid, res in stack.resources.items():
                physical = demo.physical.get((stack.name, lid), "(not created by moto: emulated or not needed)")
                rows.append((stack.name, lid, str(res.get("Type")), physical))
        print(render.section("Deployed resources (cdk deploy to moto_server)"), file=out)
        print(render.resources(rows), file=out)
        print(render.section("Invocations"), file=out)
        for delivery in demo.deliveries:
            last = delivery.attempts[-1]
            state = "ok" if delivery.ok else f"FAILED {last.error_type}: {last.error_message}"
            cold = " (cold start)" if delivery.attempts[0].cold_start else ""
            print(f"  {delivery.source:<60} {len(delivery.attempts)} attempt(s){cold}: {state}", file=out)
        print(render.section("Timings"), file=out)
        for timing in demo.timings:
            print(f"  {timing.name:<40} {timing.seconds:6.1f}s", file=out)
    if failures:
        print(render.section("FAILURES"), file=out)
        print(render.bullet(failures), file=out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print("interrupted; the emulator was stopped", file=sys.stderr)
        return 130
