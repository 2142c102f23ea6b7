"""``oomwatch mute``, ``oomwatch mutes`` and ``oomwatch unmute ID``: mutes without a redeploy (the ``aws`` extra).

Bad input is one clear line on standard error and exit status 2: ``--for 0``, a duration over the maximum
(``mute_max_hours``, read from the stack's ``MuteMaxHours`` output), no target or two, an unknown id.
The deployed digest run announces each set, removed and expired mute once (up to one schedule period later).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from oomwatch.mutes import KINDS, Mute, MuteError, human_span, parse_duration, parse_target

#: How the commands reach the store; tests replace it with one on moto.
Connect = Callable[[argparse.Namespace], Any]


def _connect(args: argparse.Namespace) -> Any:
    from oomwatch.mute_store import connect

    return connect(args.table, args.stack, args.region)


def _by(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    from oomwatch.mute_store import caller

    return caller()


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _line(m: Mute, now: float) -> str:
    return f"{m.id}  {m.label}  until {_when(m.end)} ({human_span(m.end - now)} left)  by {m.by}: {m.reason}"


def _target(args: argparse.Namespace) -> tuple[str, str]:
    given = [(kind, getattr(args, kind)) for kind in KINDS if getattr(args, kind) is not None]
    if not given:
        raise MuteError("name what to mute: one of --process, --unit, --instance, --asg, --tag")
    if len(given) > 1:
        raise MuteError(f"one target per mute, not {len(given)} ({', '.join('--' + k for k, _ in given)})")
    return parse_target(*given[0])


def _fail(exc: MuteError) -> int:
    print(f"oomwatch: {exc}", file=sys.stderr)
    return 2


def mute(args: argparse.Namespace, connect: Connect = _connect) -> int:
    try:
        kind, value = _target(args)
        if not args.duration:
            raise MuteError("--for is required: how long the mute lasts (90m, 4h, 2d)")
        if not (args.reason or "").strip():
            raise MuteError("--reason is required: say why the kills are muted")
        store = connect(args)
        seconds = parse_duration(args.duration, store.max_hours)
        m = store.set(kind, value, seconds, args.reason or "", _by(args))
    except MuteError as exc:
        return _fail(exc)
    now = m.start
    print(f"muted {m.label} as {m.id} until {_when(m.end)} ({human_span(m.end - now)}): {m.reason}")
    print("a notice goes to the alert topic within one digest period (5 minutes)")
    return 0


def mutes(args: argparse.Namespace, connect: Connect = _connect) -> int:
    try:
        store = connect(args)
        active = store.mutes()
    except MuteError as exc:
        return _fail(exc)
    import time

    now = time.time()
    if not active:
        print("no active mutes")
    for m in active:
        print(_line(m, now))
    return 0


def unmute(args: argparse.Namespace, connect: Connect = _connect) -> int:
    try:
        store = connect(args)
        m = store.remove(args.id)
    except MuteError as exc:
        return _fail(exc)
    print(f"unmuted {m.id} ({m.label}); a notice goes to the alert topic within one digest period")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", help="the state table (default: the stack's StateTableName output)")
    p.add_argument("--stack", default=os.environ.get("OOMWATCH_STACK", "OomWatch"), help="the stack (default OomWatch)")
    p.add_argument("--region", help="the stack's region (default: the AWS configuration's)")


def add_commands(sub: Any) -> None:
    """Wire the three commands into ``oomwatch``'s subparsers."""
    m = sub.add_parser(
        "mute",
        help="mute the alerts of matching kills for a while (pip install 'oomwatch[aws]')",
        description="Kills a mute matches are recorded (decision muted) and counted in digests, never alerted. "
        "One target: --process, --unit, --instance, --asg or --tag.",
    )
    m.add_argument("--process", metavar="GLOB", help="the killed process's name (comm), exact or a glob")
    m.add_argument("--unit", metavar="GLOB", help="the systemd unit, exact or a glob ('php*-fpm.service')")
    m.add_argument("--instance", metavar="ID", help="an instance id (i-...)")
    m.add_argument("--asg", metavar="NAME", help="an Auto Scaling group")
    m.add_argument("--tag", metavar="KEY=VALUE", help="an instance tag")
    m.add_argument("--for", dest="duration", metavar="DURATION", help="how long: 90m, 4h, 2d (at most the maximum)")
    m.add_argument("--reason", help="why (required; shown in the notices)")
    m.add_argument("--by", help="who (default: your AWS identity's ARN, else $USER)")
    _common(m)
    m.set_defaults(func=mute)
    ls = sub.add_parser("mutes", help="list the active mutes")
    _common(ls)
    ls.set_defaults(func=mutes)
    u = sub.add_parser("unmute", help="end a mute now")
    u.add_argument("id", metavar="ID", help="the mute's id (oomwatch mutes lists them)")
    _common(u)
    u.set_defaults(func=unmute)
