"""Userspace OOM killers (systemd-oomd, earlyoom) and systemd's notes about kernel kills.

These lines come from programs, not the kernel, so they are only read from the program they name (syslog tag or
journal ``SYSLOG_IDENTIFIER``). systemd's ``Failed with result 'oom-kill'`` and ``... killed by the OOM killer``
lines only name the unit of a kernel kill; they are never kills of their own.

A name is only a claim: ``logger -t systemd`` or ``logger -t earlyoom`` writes the same line as the real program.
Only the journal's trusted fields (set by journald from the sender's credentials and cgroup; see
systemd.journal-fields(7)) verify a sender: ``systemd_verified`` and ``killer_verified`` say when they do.
"""

import re
from types import MappingProxyType
from typing import NamedTuple, NotRequired, TypedDict

from oomwatch.lazy import lazy_pattern
from oomwatch.transport import Sender

# systemd-oomd, v247-v253: "Killed <cgroup> due to memory pressure for <cgroup> being 51.07% > 50.00% for > 20s ..."
# and "Killed <cgroup> due to memory used (N) / total (N) and swap used (N) / total (N) being more than 90.00%".
# v254+: "Marked <cgroup> for killing due to ...", then (debug) "oomd attempting to kill <pid> with <SIG>".
OOMD_KILLED = lazy_pattern(r"(?:Killed|Marked) (?P<cgroup>/\S*)(?: for killing)? due to (?P<reason>.*)")
OOMD_ATTEMPT = lazy_pattern(r"oomd attempting to kill (?P<pid>\d+)(?: with (?P<signal>\w+))?")
# earlyoom's kill line, release by release (rfjakob/earlyoom, kill.c; main.c before v0.5):
# v1.3 (2019-05) and later: 'sending SIGTERM to process 123 uid 1000 "name": oom_score 600, [oom_score_adj 0, ]
# VmRSS 1234 MiB[, cmdline "..."]' (v1.3: no uid, v1.3-v1.7: "badness" for "oom_score", v1.8+: cmdline, v1.9+:
# oom_score_adj). SIGKILL when escalating.
EARLYOOM = lazy_pattern(
    r"sending (?P<signal>SIG\w+|\d+) to process (?P<pid>\d+)(?: uid (?P<uid>\d+))?"
    r"(?: \"(?P<name>.*)\":| \((?P<name2>[^)]*)\):?)?(?P<rest>.*)"
)
# Before v1.3 a kill was announced as "Killing process ..."; the signal was SIGKILL (9) until v1.2 made it a number:
# v1.3-rc1 (2019-04): 'killing process 123 "name" with signal 15: badness 600, VmRSS 1234 MiB'
# v1.2 (2018-07): "Killing process 'name' with signal 15, pid: 123, badness: 600, VmRSS: 1234 MiB"
# v1.1 (2018-07, SIGKILL): "Killing process: name, pid: 123, badness: 600, VmRSS: 1234 MiB"
# v0.1-v1.0 (2014-2018, SIGKILL): "Killing process 123 name"; before v1.0 the name is the "(name)" token of
# /proc/<pid>/stat as %s reads it (cut at a space: "(Web").
EARLYOOM_OLD = (
    lazy_pattern(
        r"killing process (?P<pid>\d{1,10}) \"(?P<name>.{0,64}?)\" with signal (?P<signum>\d{1,2}): (?P<rest>.*)"
    ),
    lazy_pattern(
        r"Killing process '(?P<name>.{0,64}?)' with signal (?P<signum>\d{1,2}), pid: (?P<pid>\d{1,10}), (?P<rest>.*)"
    ),
    lazy_pattern(r"Killing process: (?P<name>.{0,64}?), pid: (?P<pid>\d{1,10}), (?P<rest>.*)"),
    lazy_pattern(r"Killing process (?P<pid>\d{1,10}) (?P<name>\S.{0,63})"),
)
EARLYOOM_FIELDS = lazy_pattern(r"(oom_score_adj|oom_score|badness|VmRSS):? (-?\d{1,20})")
_SIGNALS = MappingProxyType({"9": "SIGKILL", "15": "SIGTERM"})
# systemd unit results naming the unit a kernel kill happened in.
UNIT_OOM = lazy_pattern(
    r"(?P<unit>[^\s:]+): (?:Failed with result 'oom-kill'|A process of this unit has been killed by the OOM killer"
    r"|.*killed by the OOM killer)"
)
OOMD_IDENTS = ("systemd-oomd",)
EARLYOOM_IDENTS = ("earlyoom",)
SYSTEMD_IDENTS = ("systemd",)


class KillerFields(TypedDict):
    """What a userspace killer's lines say about one kill: each key only once a line has said it."""

    pid: NotRequired[int | None]
    uid: NotRequired[int | None]
    comm: NotRequired[str | None]
    signal: NotRequired[str | None]
    rss_kb: NotRequired[int | None]
    oom_score_adj: NotRequired[int | None]
    cgroup: NotRequired[str | None]
    reason: NotRequired[str | None]


class OomdAttempt(NamedTuple):
    """systemd-oomd's (debug) ``oomd attempting to kill <pid> with <SIG>``."""

    pid: int
    signal: str | None


def oomd_kill(text: str) -> KillerFields | None:
    m = OOMD_KILLED().match(text)
    if not m:
        return None
    cgroup = m.group("cgroup")
    return {
        "cgroup": cgroup,
        "reason": m.group("reason").strip(),
        "comm": cgroup.rstrip("/").rsplit("/", 1)[-1],
    }


def oomd_attempt(text: str) -> OomdAttempt | None:
    m = OOMD_ATTEMPT().match(text)
    if not m:
        return None
    return OomdAttempt(int(m.group("pid")), m.group("signal"))


def earlyoom_kill(text: str) -> KillerFields | None:
    m = EARLYOOM().match(text)
    if m:
        name = m.group("name") if m.group("name") is not None else m.group("name2")
        signal = m.group("signal")
    else:
        m = _earlyoom_old(text)
        if m is None:
            return None
        name = m.group("name")
        if name[:1] == "(":
            name = name[1:-1] if name[-1:] == ")" else name[1:]
        num = m.groupdict().get("signum")
        signal = _SIGNALS.get(num, num) if num else "SIGKILL"
    # The figures come right after the name (a cmdline, if any, after them): a long forged tail costs nothing.
    fields = {k: int(v) for k, v in EARLYOOM_FIELDS().findall((m.groupdict().get("rest") or "")[:1024])}
    rss_mib = fields.get("VmRSS")
    return {
        "pid": int(m.group("pid")),
        "uid": int(m.group("uid")) if m.groupdict().get("uid") else None,
        "comm": name,
        "signal": signal,
        "rss_kb": rss_mib * 1024 if rss_mib is not None else None,
        "oom_score_adj": fields.get("oom_score_adj"),
    }


def _earlyoom_old(text: str) -> re.Match[str] | None:
    if text[1:15] != "illing process":
        return None
    for pattern in EARLYOOM_OLD:
        m = pattern().fullmatch(text.rstrip()) if pattern is EARLYOOM_OLD[-1] else pattern().match(text)
        if m:
            return m
    return None


def unit_oom(text: str) -> str | None:
    m = UNIT_OOM().match(text)
    return m.group("unit") if m else None


# The service each userspace killer runs as: a process can name itself anything, but only root can put it into a
# system service's cgroup, which journald reads into _SYSTEMD_UNIT.
KILLER_UNITS = MappingProxyType({"earlyoom": "earlyoom.service", "systemd-oomd": "systemd-oomd.service"})
_KILLER_TRANSPORTS = ("journal", "stdout", "syslog")  # transports whose _PID/_UID/_COMM come from the socket


def systemd_verified(sender: Sender | None, victim_uid: int | None) -> bool:
    """True when a systemd unit line may decide about a kernel kill: the journal shows it came from the system
    manager (``_PID=1``, ``_UID=0``, ``_COMM=systemd``, native protocol), or from a user manager
    (``_COMM=systemd``) of the victim's own user. Text logs verify nothing."""
    if sender is None or sender.transport != "journal" or sender.comm != "systemd":
        return False
    if sender.pid == 1:
        return sender.uid == 0
    return sender.uid is not None and sender.uid == victim_uid


def killer_verified(source: str, sender: Sender | None) -> bool:
    """True when the journal shows the userspace killer's own service wrote the line (``_COMM`` and
    ``_SYSTEMD_UNIT``)."""
    return (
        sender is not None
        and sender.transport in _KILLER_TRANSPORTS
        and sender.comm == source
        and sender.unit == KILLER_UNITS.get(source)
    )
