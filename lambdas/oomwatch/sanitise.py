"""The one rule for every string that came from a log (or an EC2 tag) before it is printed, stored or sent.

Any local user writes log lines (``logger``), names processes (``prctl``) and, with a delegated cgroup, names
cgroups that the kernel then prints inside its own OOM report. Whatever such text carries must not move the
cursor, break a line, reorder or hide text in an alert, a terminal or a JSON consumer. :func:`sanitise` keeps
printable text as it is and replaces, character by character:

- C0 and C1 controls (tab excepted) and DEL, U+0085 (NEL), U+2028 / U+2029 (line and paragraph separators);
- format characters (``Cf``): bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the marks
  U+200E / U+200F / U+061C, zero-width characters (U+200B-U+200D, U+2060-U+2064, U+FEFF, U+180E), tag
  characters (U+E0000-U+E007F) and the rest of that category (soft hyphen, interlinear annotation...);
- surrogates (``Cs``: a ``surrogateescape``-decoded byte), private-use (``Co``) and unassigned (``Cn``) code
  points, whose look depends on the reader's fonts and Unicode version;
- variation selectors (U+180B-U+180F, U+FE00-U+FE0F, U+E0100-U+E01EF) and other code points that draw nothing
  (U+034F, U+115F, U+1160, U+17B4, U+17B5, U+3164, U+FFA0). Python counts them printable, but they are
  invisible: a string of them after one visible character smuggles arbitrary bytes past a reader (and into a
  command pasted from an alert). No kernel comm or cgroup name needs them; an emoji may lose its colour form.

Each is **replaced visibly** by ``<U+XXXX>``, never dropped: an alert reader must see that the name held
something (``mysqld<U+2028>Fix now: ...`` is plainly forged, while a silent drop would show a clean, believable
line), and two names that differ only by hidden characters stay different. Tab and space separators (``Zs``,
such as U+00A0) become one plain space: they hide nothing. Every other character is kept (letters, marks,
symbols of any script). The result is capped at ``limit`` characters, ending in ``...`` when cut (never inside
a ``<U+XXXX>``); the cap is per field kind and chosen by the caller.

The usual input, printable ASCII within the cap, costs two C-speed checks and comes back as the same object;
anything else is one ``str.translate`` over a table filled lazily per code point (bounded).

Where it runs: at the boundary where the text enters (the parser's event builder, the EC2 lookup's name, ASG and
tags) and again where it leaves (``oomwatch scan``'s text and JSON, every part of an alert). Applying it twice
is harmless: its output is printable ASCII-or-visible text that it keeps as it is.
"""

from __future__ import annotations

from typing import Any

ELLIPSIS = "..."
_MARK = "<U+{:04X}>"
_MARK_MAX = len("<U+10FFFF>")
# Printable to Python (category M or L) but drawn as nothing: variation selectors and fillers.
_INVISIBLE = frozenset(
    (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810), *range(0xFE00, 0xFE10))
).union(range(0xE0100, 0xE01F0))
# Categories replaced: other (controls, format, surrogate, private use, unassigned) and line/paragraph separators.
_REPLACED = frozenset(["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"])
_TABLE_MAX = 4096  # distinct non-ASCII code points remembered; the rest are classified on each call


def _replacement(code: int) -> int | str:
    """What one code point becomes: itself, a space, or its visible ``<U+XXXX>`` form."""
    if 0x20 <= code <= 0x7E:
        return code
    if code == 0x09:
        return " "
    if code < 0x80:
        return _MARK.format(code)
    import unicodedata  # only text with non-ASCII needs it: loading it costs every cold start ~0.3 ms

    category = unicodedata.category(chr(code))
    if category == "Zs":
        return " "
    if category in _REPLACED or code in _INVISIBLE:
        return _MARK.format(code)
    return code


class _Table(dict[int, int | str]):
    """The ``str.translate`` table: ASCII up front, other code points filled in as they are met."""

    def __missing__(self, code: int) -> int | str:
        value = _replacement(code)
        if len(self) < _TABLE_MAX:
            self[code] = value
        return value


_TABLE = _Table({code: _replacement(code) for code in range(128)})


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending in ``...`` when cut (never inside a ``<U+XXXX>``)."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[: max(limit, 0)]
    head = text[: limit - len(ELLIPSIS)].rstrip()
    start = head.rfind("<U+", max(0, len(head) - _MARK_MAX))
    if start >= 0 and ">" not in head[start:]:
        head = head[:start]
    return head + ELLIPSIS


def sanitise(value: object, limit: int | None = 1024) -> str:
    """``value`` as text that is safe to show anywhere (see the module docstring), at most ``limit`` characters.

    ``None`` is the empty string. ``limit=None`` does not cap (for wrappers that cap after their own step).
    """
    if type(value) is str:
        text = value
    elif value is None:
        return ""
    else:
        text = str(value)
    if text.isascii() and text.isprintable():
        return text if limit is None or len(text) <= limit else cut(text, limit)
    if limit is not None and len(text) > limit:
        # Every character becomes at least one, so the first limit + 1 tell whether the result is cut.
        return cut(text[: limit + 1].translate(_TABLE), limit)
    text = text.translate(_TABLE)
    return text if limit is None or len(text) <= limit else cut(text, limit)


def is_clean(text: str) -> bool:
    """True when :func:`sanitise` keeps ``text`` as it is (ignoring the length cap)."""
    return (text.isascii() and text.isprintable()) or text.translate(_TABLE) == text


def sanitise_tree(value: Any, limit: int | None = 1024, max_items: int | None = None, key_limit: int = 64) -> Any:
    """Every string inside a JSON-like value through :func:`sanitise` (keys capped at ``key_limit``).

    Lists, tuples and dicts keep their first ``max_items`` entries when it is given; numbers, booleans and
    ``None`` pass; any other object becomes its sanitised ``str``. The checks that let clean keys and values
    through are written out inline: an event has ~100 of them, and the handler renders one per alert.
    """
    kind = type(value)
    if kind is str:
        if value.isascii() and value.isprintable() and (limit is None or len(value) <= limit):
            return value
        return sanitise(value, limit)
    if kind is int or kind is bool or kind is float or value is None:
        return value
    if isinstance(value, dict):
        items = value.items() if max_items is None or len(value) <= max_items else list(value.items())[:max_items]
        return {
            (
                k
                if type(k) is str and k.isascii() and k.isprintable() and len(k) <= key_limit
                else sanitise(k, key_limit)
            ): (
                v
                if (type(v) is str and v.isascii() and v.isprintable() and (limit is None or len(v) <= limit))
                or v is None
                or type(v) is int
                or type(v) is bool
                else sanitise_tree(v, limit, max_items, key_limit)
            )
            for k, v in items
        }
    if isinstance(value, list | tuple):
        seq = value if max_items is None or len(value) <= max_items else value[:max_items]
        return [  # a report's lines: printable ASCII within the cap, checked here without a call each
            v
            if type(v) is str and v.isascii() and v.isprintable() and (limit is None or len(v) <= limit)
            else sanitise_tree(v, limit, max_items, key_limit)
            for v in seq
        ]
    if isinstance(value, int | float):
        return value
    return sanitise(value, limit)
