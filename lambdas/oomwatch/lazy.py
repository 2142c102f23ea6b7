"""Regular expressions compiled at their first use, for the patterns a typical delivery never needs.

Each ``re.compile`` costs 50-300 µs, and every Lambda cold start pays for every pattern compiled at import:
the ones for rare layouts (CloudWatch read-backs, CJK dates, earlyoom, RHEL 6 lines, mute ids) are compiled by
the first line that needs them instead. The result is cached for the process like ``re``'s own cache: a pure
function of its source, never state that one parser can change for another.
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
