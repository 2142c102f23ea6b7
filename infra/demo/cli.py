"""``oomwatch demo``: the whole pipeline on a local AWS emulator (see docs/demo.md)."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from infra.demo import fleet, render, rollout_story
from infra.demo.logplay import read_lines
from infra.demo.pipeline import Delivery, Demo

SAMPLES = Path(__file__).resolve().parents[2] / "demo" / "samples"
_HOST_FIELD = re.compile(r"^(?:[A-Z][a-z]{2} +\d+ [\d:.]+|\d{4}-\d\d-\d\dT\S+) (?P<host>[A-Za-z0-9][\w.-]*) ")


@dataclass(frozen=True)
class Played:
    host: fleet.Host
    text: str


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
        metavar="INSTANCE_ID=FILE",
        help="play FILE (syslog, journalctl or CloudWatch agent journald JSON lines) as the log stream of "
        "INSTANCE_ID; repeatable; default: the bundled samples in demo/samples",
    )
    parser.add_argument("--json", action="store_true", help="print only JSON Lines on stdout (one object per delivery)")
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


def load_plays(pairs: list[str]) -> tuple[list[Played], str]:
    """The streams to play and the instance whose memory alarm fires."""
    if not pairs:
        manifest = json.loads((SAMPLES / "fleet.json").read_text())
        plays = [
            Played(
                fleet.Host(h["instance_id"], h["name"], h["instance_type"], h.get("asg")),
                (SAMPLES / h["file"]).read_text(),
            )
            for h in manifest["hosts"]
        ]
        return plays, str(manifest["alarm_instance"])
    plays = []
    seen: set[str] = set()
    for index, pair in enumerate(pairs, start=1):
        instance_id, sep, file = pair.partition("=")
        if not sep or not file:
            raise SystemExit(f"--log expects INSTANCE_ID=FILE, got {pair!r}")
        if not fleet.INSTANCE_ID.match(instance_id):
            raise SystemExit(f"--log {pair}: {instance_id!r} is not an EC2 instance id (i-0123456789abcdef0)")
        if instance_id in seen:
            raise SystemExit(f"--log {pair}: {instance_id} given twice")
        seen.add(instance_id)
        path = Path(file)
        if not path.is_file():
            raise SystemExit(f"--log {pair}: no such file {file}")
        text = path.read_text(errors="replace")
        name = _hostname(text) or f"demo-host-{index}"
        plays.append(Played(fleet.Host(instance_id, name, "t3.medium", None), text))
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


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.monotonic()
    plays, alarm_instance = load_plays(args.log)

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
            demo.seed([p.host for p in plays])
            demo.send_control_messages()
            progress("playing " + ", ".join(f"{p.host.instance_id} ({p.host.name})" for p in plays))
            log_deliveries = demo.play({p.host.instance_id: p.text for p in plays})
            progress(f"{len(log_deliveries)} subscription deliveries to the log handler")
            alerts = demo.drain_topic()
            progress(f"firing the fleet memory alarm for {alarm_instance}")
            demo.fire_alarm(alarm_instance)
            notices = demo.drain_topic()
            scheduled = demo.run_schedules()
            if scheduled:
                progress(f"ran {len(scheduled)} scheduled target(s) once")
            digests = demo.drain_topic()
            story = rollout_story.run(demo, progress)
            events = demo.structured_events()
            records = alerts + notices + digests + story.notices + events
            failures = _failures(demo.deliveries)
            if args.json:
                for record in records:
                    keys = ("channel", "subject", "message", "attributes", "event")
                    line = {k: record[k] for k in keys if k in record}
                    out.write(json.dumps(line, sort_keys=True, default=str) + "\n")
            else:
                _print_report(demo, out, alerts, notices, digests, events, failures)
                rollout_story.print_story(story, out, demo.mail())
            progress(
                f"done in {time.monotonic() - started:.1f}s: {len(alerts) + len(notices) + len(digests)} "
                f"message(s) on the topic, {len(events)} structured event(s)"
            )
            for failure in failures:
                print(f"FAILED: {failure}", file=err)
            return 1 if failures else 0
        finally:
            demo.down()
            progress("emulator stopped")


def _print_report(
    demo: Demo,
    out: TextIO,
    alerts: list[dict[str, Any]],
    notices: list[dict[str, Any]],
    digests: list[dict[str, Any]],
    events: list[dict[str, Any]],
    failures: list[str],
) -> None:
    asm = demo.asm
    rows = []
    for stack in asm.stacks:
        for lid, res in stack.resources.items():
            physical = demo.physical.get((stack.name, lid), "(not created by moto: emulated or not needed)")
            rows.append((stack.name, lid, str(res.get("Type")), physical))
    print(render.section("Deployed resources (cdk deploy to moto_server)"), file=out)
    print(render.resources(rows), file=out)
    print("\nEmulated by the demo:", file=out)
    print(render.bullet(demo.emulated), file=out)
    mails = demo.mail()
    for title, batch in (
        ("Alerts from the OOM log path, as e-mailed", alerts),
        ("Alarm notice (fleet memory alarm -> EventBridge -> alarm handler), as e-mailed", notices),
        ("Scheduled run (digest), as e-mailed", digests),
    ):
        print(render.section(f"{title}: {len(batch)}"), file=out)
        for record in batch:
            print(render.email(record, mails.get(str(record.get("message_id")), [])), file=out)
            print("-" * 100, file=out)
    print(render.section(f"Structured events in {demo.events_log_group()}: {len(events)} (whole: --json)"), file=out)
    for record in events:
        print(render.event(record), file=out)
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
