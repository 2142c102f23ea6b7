"""Text hygiene and number formatting for alerts.

Log lines are untrusted: anyone on a host can write ``Out of memory: Killed process ...``
with ``logger``. Everything that came from a log line goes through :func:`clean` before it is
echoed in a subject, body or message attribute, so a forged line can neither inject headers
or fake paragraphs (newlines), nor hide text (bidi overrides), nor blow the SNS size limits.
"""

from __future__ import annotations

import re
from typing import Any

# C0/C1 controls, DEL, and the Unicode format characters that reorder or hide text
# (bidi embeddings/overrides/isolates, zero-width joiners, BOM, line/paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"\s{2,}")
ELLIPSIS = "..."


def _printable(text: str) -> str:
    """Replace every non-printable character (controls, format/bidi, unassigned, surrogates) by a space."""
    if text.isprintable():
        return text
    text = _UNSAFE.sub(" ", text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)


def clean(value: object, limit: int = 200) -> str:
    """Return ``value`` as one printable line of at most ``limit`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Already one clean line (the usual case): printable (so its only white space is " "), not padded,
    # no runs of spaces, short enough.
    if (
        type(text) is str
        and len(text) <= limit
        and text.isprintable()
        and text[:1] != " "
        and text[-1:] != " "
        and "  " not in text
    ):
        return text
    text = _printable(text).strip()
    if "  " in text:
        text = _SPACES.sub(" ", text)
    if len(text) > limit:
        text = text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS
    return text


def clean_raw_line(value: object, limit: int = 300) -> str:
    """Like :func:`clean` but keeps the runs of spaces that align a kernel task table."""
    text = value if isinstance(value, str) else str(value)
    text = _printable(text).rstrip()
    if len(text) > limit:
        text = text[: limit - len(ELLIPSIS)] + ELLIPSIS
    return text


def ascii_only(text: str) -> str:
    """Map to printable ASCII: SNS subjects must be ASCII for every email client to show them."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)


_KEYS: dict[str, str] = {}  # clean(key, 64) of the keys seen (the event schema's few dozen names)
_KEYS_MAX = 512


def _key(key: object) -> str:
    if type(key) is str:
        done = _KEYS.get(key)
        if done is None:
            done = clean(key, 64)
            if len(_KEYS) < _KEYS_MAX:
                _KEYS[key] = done
        return done
    return clean(key, 64)


def deep_clean(value: Any, limit: int = 500, max_items: int = 60) -> Any:
    """Sanitise every string inside a JSON-like structure (for the machine-readable alert)."""
    kind = type(value)
    if kind is str:
        if len(value) <= limit and value.isprintable() and value[-1:] != " ":
            return value  # what clean_raw_line would return
        return clean_raw_line(value, limit)
    if kind is int or kind is bool or kind is float or value is None:
        return value
    if isinstance(value, str):
        return clean_raw_line(value, limit)  # keeps a task table's alignment
    if isinstance(value, dict):
        items = value.items() if len(value) <= max_items else list(value.items())[:max_items]
        return {_key(k): deep_clean(v, limit, max_items) for k, v in items}
    if isinstance(value, list | tuple):
        return [
            v
            if type(v) is str and len(v) <= limit and v.isprintable() and v[-1:] != " "
            else deep_clean(v, limit, max_items)
            for v in (value if len(value) <= max_items else value[:max_items])
        ]
    return value


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
