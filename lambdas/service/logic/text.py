"""Text hygiene and number formatting for alerts.

Log lines are untrusted: anyone on a host can write ``Out of memory: Killed process ...``
with ``logger``, and EC2 tags are whatever their owner typed. Everything that came from a log
line or a tag goes through :func:`oomwatch.sanitise.sanitise`, the one rule for text that is
echoed (see there what it replaces and why), before it is put in a subject, body, message
attribute or the JSON form, so it can neither inject headers or fake lines, nor hide or reorder
text, nor blow the SNS size limits. The wrappers here only add layout: :func:`clean` makes one
tidy line (runs of spaces squeezed), :func:`clean_raw_line` keeps a task table's alignment,
:func:`deep_clean` walks the JSON form and :func:`ascii_only` narrows a subject to ASCII.
"""

from __future__ import annotations

import re
from typing import Any

from oomwatch.lazy import lazy_pattern
from oomwatch.sanitise import ELLIPSIS, cut, sanitise, sanitise_tree

_SPACES = lazy_pattern(" {2,}")  # after sanitise, " " is the only white space left
_LONG_HEX = re.compile(r"([0-9a-f]{12})[0-9a-f]{20,}")  # a container id (64 hex): its first 12, as docker ps


def clean(value: object, limit: int = 200) -> str:
    """Return ``value`` as one printable line of at most ``limit`` characters, runs of spaces squeezed."""
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    # Already one clean line (the usual case): printable ASCII (so its only white space is " "), not padded,
    # no runs of spaces, short enough.
    if (
        len(text) <= limit
        and text.isascii()
        and text.isprintable()
        and text[:1] != " "
        and text[-1:] != " "
        and "  " not in text
    ):
        return text
    text = sanitise(text, None).strip()
    if "  " in text:
        text = _SPACES().sub(" ", text)
    return cut(text, limit)


def clean_raw_line(value: object, limit: int = 300) -> str:
    """Like :func:`clean` but keeps the runs of spaces that align a kernel task table."""
    if type(value) is str and len(value) <= limit and value.isascii() and value.isprintable() and value[-1:] != " ":
        return value  # the usual report line
    return cut(sanitise(value, None).rstrip(), limit)


def ascii_only(text: str) -> str:
    """Map to printable ASCII: SNS subjects must be ASCII for every email client to show them."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)


def deep_clean(value: Any, limit: int = 500, max_items: int = 60) -> Any:
    """Sanitise every string inside a JSON-like structure (for the machine-readable alert)."""
    return sanitise_tree(value, limit, max_items)


def mib(kb: int | float | None) -> str:
    """Kilobytes as whole MiB, the unit people size services in."""
    if kb is None:
        return "?"
    return f"{round(kb / 1024):,} MiB"


def size(kb: int | float | None) -> str:
    """Kilobytes as a short human size: MiB below 1 GiB, GiB with one decimal above."""
    if kb is None:
        return "?"
    if kb >= 1024 * 1024:
        return f"{kb / (1024 * 1024):.1f} GiB"
    return f"{round(kb / 1024)} MiB"


def pct(part: float | None, whole: float | None) -> int | None:
    """Whole-number percentage, or None when either side is unknown."""
    if part is None or not whole:
        return None
    return round(100 * part / whole)


def ordinal(n: int) -> str:
    """1 -> 1st, 2 -> 2nd, 11 -> 11th, 23 -> 23rd."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def duration(seconds: float | None) -> str:
    """Uptime-style duration: 3d 4h, 2h 5m, 42s."""
    if seconds is None:
        return "?"
    s = int(seconds)
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` so its UTF-8 encoding fits in ``max_bytes`` (SNS limits are in bytes)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[: max_bytes - len(ELLIPSIS)].decode("utf-8", "ignore") + ELLIPSIS


def short_ids(text: str) -> str:
    """Long hex ids (a 64-hex docker or containerd id) cut to their first 12 digits and "...", as
    ``docker ps`` shows them: for places that repeat a path shown whole elsewhere. One linear regex pass."""
    return _LONG_HEX.sub(r"\1...", text) if len(text) > 32 else text


def span(ms: int) -> str:
    """A span between two kills as people say it: 4 s, 2 min 40 s, 1 h 5 min."""
    secs = max(0, round(ms / 1000))
    if secs < 60:
        return f"{secs} s"
    minutes, secs = divmod(secs, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
