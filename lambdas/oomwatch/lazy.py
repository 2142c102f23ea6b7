"""Regular expressions compiled at their first use, for the patterns a typical delivery never needs.

Each ``re.compile`` costs 50-300 µs, and every Lambda cold start pays for every pattern compiled at import. A
CloudWatch delivery holds classic syslog or journald lines, read by their own patterns; the patterns of the other
layouts ``oomwatch scan`` reads (dmesg and its variants, ISO and journalctl stamps, kmsg, VMware, OpenWrt, CJK dates,
``aws logs`` read-backs) and of rare lines (earlyoom, systemd-oomd, RHEL 6, oom_reaper failures, mute ids) are
compiled by the first line that needs them instead. Only patterns a typical delivery does not use belong here:
deferring one it uses would only move its cost into the first invocation. The result is cached for the process like
``re``'s own cache: a pure function of its source, never state that one parser can change for another.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable


def lazy_pattern(source: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """A function that returns ``re.compile(source, flags)``, compiled on its first call."""

    @functools.cache
    def compiled() -> re.Pattern[str]:
        return re.compile(source, flags)

    return compiled
