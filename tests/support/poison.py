"""Characters that no echoed string may carry, and real corpus reports with one of them in every field.

The reports are played as the CloudWatch agent's journald JSON (the Amazon Linux 2023 path): JSON carries any
code point in any field, the host name included, where a syslog line would end a field at white space.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.support.corpus import corpus_file, corpus_lines

# Every kind the sanitiser must replace (tab and the space separators become a plain space, tested apart;
# a line feed inside a kernel message is a line boundary of the kernel's own, so it sits in the host only).
POISON: dict[str, tuple[str, ...]] = {
    "C0 controls": ("\x00", "\x07", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x1c", "\x1f"),
    "DEL and C1 controls": ("\x7f", "\x80", "\x85", "\x9b", "\x9f"),
    "line and paragraph separators": ("\u2028", "\u2029"),
    "bidi embeddings, overrides, isolates": (
        *("\u202a", "\u202b", "\u202c", "\u202d", "\u202e"),
        *("\u2066", "\u2067", "\u2068", "\u2069"),
    ),
    "bidi marks": ("\u200e", "\u200f", "\u061c"),
    "zero-width": ("\u200b", "\u200c", "\u200d", "\u2060", "\u2061", "\u2064", "\ufeff", "\u180e"),
    "other format characters": ("\u00ad", "\u206a", "\ufff9"),
    "tag characters": ("\U000e0001", "\U000e0020", "\U000e0041", "\U000e007f"),
    "variation selectors": ("\u180b", "\ufe00", "\ufe0f", "\U000e0100", "\U000e01ef"),
    "invisible fillers": ("\u034f", "\u115f", "\u3164", "\uffa0"),
    "surrogates": ("\ud800", "\udfff"),
    "private use": ("\ue000", "\uf8ff", "\U000f0000", "\U0010fffd"),
    "unassigned": ("\u0378", "\U000e0080", "\ufffe", "\U0010ffff"),
}
ALL = "".join(ch for chars in POISON.values() for ch in chars)
CASES = [(kind, ch) for kind, chars in POISON.items() for ch in chars]
CASE_IDS = [f"{kind}:U+{ord(ch):04X}" for kind, ch in CASES]
BAD = frozenset(ALL) | {"\n", "\t"}  # no field may keep a line feed or a tab either


def mark(ch: str) -> str:
    """How the sanitiser shows ``ch``."""
    return f"<U+{ord(ch):04X}>"


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def found(text: str, allowed: str = "") -> list[str]:
    """The characters of ``text`` that no output may carry (``allowed`` excepted)."""
    return sorted({f"U+{ord(c):04X}" for c in text if c in BAD and c not in allowed})


def _journal(lines: list[str], host: str, start_us: int, uptime_us: int) -> list[str]:
    out = []
    for n, line in enumerate(lines):
        fields = {
            "MESSAGE": line,
            "_TRANSPORT": "kernel",
            "_HOSTNAME": host,
            "SYSLOG_IDENTIFIER": "kernel",
            "PRIORITY": "6",
            "__REALTIME_TIMESTAMP": str(start_us + n * 10),
            "_SOURCE_MONOTONIC_TIMESTAMP": str(uptime_us + n * 10),
            "_BOOT_ID": "2f6d2c5f7e8a4b53a0f1c2d3e4f5a6b7",
        }
        out.append(json.dumps({"body": fields, "severity_number": 9, "attributes": {}, "resource": {}}))
    return out


def global_report(ch: str, start_us: int = 1_795_169_640_000_000, scope: str | None = None) -> list[str]:
    """Corpus 04 (Arch 6.1.1, global OOM, doxygen killed): ``ch`` in the victim's and trigger's comm (header,
    CPU line, task table, summary, kill and reaper lines), the task_memcg (so the workload and unit), another
    task's comm (a top memory user), a plain report line (Hardware name) and the host name. ``scope`` names
    the session scope instead, when given."""
    lines = []
    for line in corpus_lines(corpus_file("04")):
        if not line:
            continue
        line = line.replace("doxygen", f"doxy{ch}gen").replace("session-2.scope", scope or f"session-2{ch}.scope")
        line = line.replace("chrome", f"chr{ch}ome").replace("To Be Filled", f"To Be{ch} Filled")
        lines.append(line)
    return _journal(lines, f"web{ch}1", start_us, 12_345_678_901)


def memcg_report(ch: str, start_us: int = 1_795_169_640_000_000) -> list[str]:
    """Corpus 05 (Ubuntu 14.04, memcg v1 ``Task in /mem2 killed as a result of limit of /mem2``): ``ch`` in both
    cgroup paths (task_memcg and oom_memcg) and in the comm."""
    lines = [
        line.replace("/mem2", f"/mem{ch}2").replace("memorymonster", f"mem{ch}monster")
        for line in corpus_lines(corpus_file("05"))
        if line
    ]
    return _journal(lines, "db-1", start_us, 98_765_432_100)


def memcg_v2_report(scope: str, start_us: int = 1_795_169_640_000_000) -> list[str]:
    """Corpus 04 as the same 6.1 kernel prints a cgroup v2 limit kill: the summary names ``oom_memcg`` (the
    session scope ``scope``, as a user with a delegated cgroup can name it) and the kill line says
    ``Memory cgroup out of memory``. Every other line is the real report's."""
    lines = []
    for line in corpus_lines(corpus_file("04")):
        if not line:
            continue
        if line.startswith("oom-kill:"):
            line = line.replace("CONSTRAINT_NONE", "CONSTRAINT_MEMCG").replace(
                ",global_oom,", f",oom_memcg=/user.slice/user-504.slice/{scope},"
            )
        line = line.replace("session-2.scope", scope)
        lines.append(line.replace("Out of memory: Killed", "Memory cgroup out of memory: Killed"))
    return _journal(lines, "web-1", start_us, 12_345_678_901)
