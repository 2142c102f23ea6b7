"""What ``oomwatch demo --log`` plays: the ``INSTANCE_ID=FILE[:TYPE]`` arguments, the files read as
``oomwatch scan`` reads them (compressed or not), and the facts about each host that the report itself gives
(instance type, RAM, swap, uptime), so the emulated fleet does not contradict the log it plays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Common instance types by memory (MiB, as DescribeInstanceTypes gives ``MemoryInfo.SizeInMiB``; the
#: figures are AWS's, https://aws.amazon.com/ec2/instance-types/, and moto's copy of them agrees, see
#: tests/e2e/test_demo_parts.py). A host without a type of its own gets the smallest one that holds the
#: report's RAM: burstable t3 up to 32 GiB, then memory-optimised r6i, then x2idn.
TYPES_BY_MEMORY: Final[tuple[tuple[str, int], ...]] = (
    ("t3.nano", 512),
    ("t3.micro", 1024),
    ("t3.small", 2048),
    ("t3.medium", 4096),
    ("t3.large", 8192),
    ("t3.xlarge", 16384),
    ("t3.2xlarge", 32768),
    ("r6i.2xlarge", 65536),
    ("r6i.4xlarge", 131072),
    ("r6i.8xlarge", 262144),
    ("r6i.16xlarge", 524288),
    ("r6i.32xlarge", 1048576),
    ("x2idn.32xlarge", 2097152),
)
#: When a report says nothing of the host's size (the type EC2 itself defaults to is m1.small; t3.medium is
#: what the demo has always used).
FALLBACK_TYPE: Final = "t3.medium"
#: The demo holds a log in memory: more than this (after decompression) is refused, not played.
MAX_LOG_BYTES: Final = 64 * 1024 * 1024

INSTANCE_TYPE: Final = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# Mem-Info's "N pages RAM" (mm/show_mem.c); the kernel's DMI line on EC2 ("Hardware name: Amazon EC2
# t3.medium/, BIOS ..."); show_swap_cache_info's "Total swap = NkB". Searched anywhere in a line, so they are
# found inside rsyslog's #012-joined records and the agent's journald JSON too.
_PAGES_RAM = re.compile(r"(?<![0-9])([0-9]{1,12}) pages RAM")
_EC2_HARDWARE = re.compile(r"Hardware name: Amazon EC2 ([a-z][a-z0-9-]*\.[a-z0-9]+)/")
_TOTAL_SWAP = re.compile(r"Total swap = ([0-9]{1,15})kB")


class InputError(ValueError):
    """A ``--log`` argument or file the demo cannot play: the message says why, in one line."""


@dataclass(frozen=True)
class LogSpec:
    instance_id: str
    path: Path
    instance_type: str | None


def parse_spec(spec: str, instance_id_pattern: re.Pattern[str]) -> LogSpec:
    """``INSTANCE_ID=FILE`` or ``INSTANCE_ID=FILE:TYPE``. A file whose own name ends in ``:something`` is
    still found: the whole value is tried as a path first."""
    instance_id, sep, rest = spec.partition("=")
    if not sep or not rest:
        raise InputError(f"--log expects INSTANCE_ID=FILE[:TYPE], got {spec!r}")
    if not instance_id_pattern.match(instance_id):
        raise InputError(f"--log {spec}: {instance_id!r} is not an EC2 instance id (i-0123456789abcdef0)")
    path, instance_type = Path(rest), None
    if not path.is_file() and ":" in rest:
        file, _, wanted = rest.rpartition(":")
        if not INSTANCE_TYPE.match(wanted):
            raise InputError(f"--log {spec}: {wanted!r} is not an instance type (r5.large)")
        path, instance_type = Path(file), wanted
    if not path.is_file():
        raise InputError(f"--log {spec}: no such file {path}")
    return LogSpec(instance_id, path, instance_type)


def read_log(path: Path) -> str:
    """The file's text, decompressed by its magic bytes exactly as ``oomwatch scan`` does (the scan CLI's own
    opener: gzip, xz, bzip2, and zstd where this Python has it)."""
    from oomwatch.cli import _open, _Unreadable  # the scan CLI's opener, not a copy of it

    try:
        opened = _open(str(path))
    except _Unreadable as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = opened.fh.read(MAX_LOG_BYTES + 1)
    except opened.errors as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        opened.close()
    if len(data) > MAX_LOG_BYTES:
        raise InputError(f"{path}: more than {MAX_LOG_BYTES // (1024 * 1024)} MiB of log; the demo plays at most that")
    return data.decode("utf-8", errors="replace")


def type_for_memory(mib: float) -> str | None:
    """The smallest type of :data:`TYPES_BY_MEMORY` with at least ``mib`` MiB, or None if none is that big."""
    for name, size in TYPES_BY_MEMORY:
        if size >= mib:
            return name
    return None


@dataclass(frozen=True)
class ReportFacts:
    """What a log's own OOM reports say about the host."""

    kills: int
    ram_mib: float | None  # Mem-Info's pages RAM x page size, the largest seen
    hardware_type: str | None  # the kernel's "Hardware name: Amazon EC2 <type>/"
    swap_kb: int | None  # "Total swap = NkB", the largest seen; None when no report shows it
    largest_rss_mib: float | None  # the most memory the report's tasks held together (task table, or victim)
    uptime_s: float | None  # the kernel's uptime at the first kill

    def instance_type(self) -> tuple[str, str]:
        """The type to seed and why: the kernel's own DMI line, else the RAM figure, else what the tasks held."""
        if self.hardware_type:
            return self.hardware_type, "the report's Hardware name line"
        if self.ram_mib is not None and (chosen := type_for_memory(self.ram_mib)):
            return chosen, f"the report's {self.ram_mib:,.0f} MiB RAM (Mem-Info pages RAM)"
        if self.largest_rss_mib is not None and (chosen := type_for_memory(self.largest_rss_mib)):
            return chosen, f"the {self.largest_rss_mib:,.0f} MiB the report's tasks held"
        return FALLBACK_TYPE, "a default: the report gives no RAM figure"


def report_facts(text: str) -> ReportFacts:
    """Scan the whole log once (linear: one pass of the parser, three regular expressions per line)."""
    from oomwatch import parse_lines

    lines = text.splitlines()
    events = parse_lines(lines, stream="demo")
    page_kb = next((size for e in events if isinstance(size := e.get("page_kb"), int)), 4)
    pages = swap = None
    hardware = None
    for line in lines:
        if "pages RAM" in line:
            for m in _PAGES_RAM.finditer(line):
                pages = max(pages or 0, int(m.group(1)))
        if "Total swap" in line:
            for m in _TOTAL_SWAP.finditer(line):
                swap = max(swap or 0, int(m.group(1)))
        if hardware is None and "Amazon EC2" in line and (dmi := _EC2_HARDWARE.search(line)):
            hardware = dmi.group(1)
    held = []
    for e in events:
        tasks = sum(int(t.get("rss_kb") or 0) for t in e.get("top_consumers") or [] if isinstance(t, dict))
        victim = e.get("victim")
        rss = int(victim.get("rss_kb") or 0) if isinstance(victim, dict) else 0
        held.append(max(tasks, rss) / 1024)
    uptimes = [float(up) for e in events if isinstance(up := e.get("uptime_s"), int | float)]
    return ReportFacts(
        kills=len(events),
        ram_mib=pages * page_kb / 1024 if pages else None,
        hardware_type=hardware,
        swap_kb=swap,
        largest_rss_mib=max(held) if held and max(held) > 0 else None,
        uptime_s=uptimes[0] if uptimes else None,
    )
