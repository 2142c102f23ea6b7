"""Mutes: what one is, how long it may last, and how it is stored (standard library only).

A mute silences the alerts of the kills it matches until its end: by process (a glob on the victim's ``comm``),
systemd unit (a glob), instance id, Auto Scaling group or instance tag ``KEY=VALUE``. The CLI
(:mod:`oomwatch.mutes_cli`, through :mod:`oomwatch.mute_store`) writes mutes into the state table; the Lambda
(``service.dal.state.mutes``) reads them with this same codec, so the two cannot disagree on the format.

Items of the state table:

* ``mutes#index``: ``mutes`` (a map id -> the mute's fields) and ``ver`` (a counter every write checks and
  bumps). One GetItem reads every mute; at most :data:`MAX_ACTIVE` are active at once. Ended or removed mutes
  stay in it for :data:`KEEP_ENDED_S` so that the digest run can announce them, then the next write drops them.
* ``mute#<id>``: the same fields, with the table's TTL attribute (``expires_at``) at the mute's end. DynamoDB
  deletes expired items late (up to days), so nothing trusts TTL: a mute whose end passed is over.
"""

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from oomwatch.lazy import lazy_pattern

INDEX_PK: Final = "mutes#index"
ANNOUNCED_PK: Final = "mutes#announced"
ITEM_PREFIX: Final = "mute#"
TTL_ATTRIBUTE: Final = "expires_at"  # infra/state.py TTL_ATTRIBUTE
KINDS: Final = ("process", "unit", "instance", "asg", "tag")
MAX_ACTIVE: Final = 100
KEEP_ENDED_S: Final = 3600  # longer than the digest schedule (5 minutes), which announces the ends
DEFAULT_MAX_HOURS: Final = 72  # service.models.settings_table MUTE_MAX_HOURS
MAX_REASON: Final = 200
MAX_VALUE: Final = 255
MAX_BY: Final = 200

_DURATION = lazy_pattern(r"(?i)\s*(\d{1,6})\s*([mhd]?)\s*")
_UNIT_S: Final = {"m": 60, "h": 3600, "d": 86400}
_INSTANCE = lazy_pattern(r"i-[0-9a-f]{8,17}")
_ID = lazy_pattern(r"m-[0-9a-f]{8}")


class MuteError(ValueError):
    """Bad input for a mute: the message is the one line the CLI prints."""


def parse_duration(text: str, max_hours: int) -> int:
    """``4h``, ``90m``, ``2d`` -> seconds: more than 0 and at most ``max_hours`` hours."""
    found = _DURATION().fullmatch(text or "")
    if found and int(found.group(1)) == 0:
        raise MuteError(f"--for {text.strip()}: a mute must last more than 0 minutes")
    if not found or not found.group(2):
        raise MuteError(f"--for {text!r}: expected a number and m, h or d (90m, 4h, 2d)")
    seconds = int(found.group(1)) * _UNIT_S[found.group(2).lower()]
    if seconds > max_hours * 3600:
        raise MuteError(f"--for {text}: longer than the maximum of {max_hours}h (setting mute_max_hours)")
    return seconds


def parse_target(kind: str, value: str) -> tuple[str, str]:
    """One target, checked: ``(kind, value)``."""
    value = (value or "").strip()
    if kind not in KINDS:
        raise MuteError(f"unknown mute target {kind!r}: use one of --{', --'.join(KINDS)}")
    if not value or len(value) > MAX_VALUE or not value.isprintable():
        raise MuteError(f"--{kind}: expected 1-{MAX_VALUE} printable characters")
    if kind == "instance" and not _INSTANCE().fullmatch(value):
        raise MuteError(f"--instance {value}: expected an instance id (i- and 8 or 17 hex digits)")
    if kind == "tag":
        key, sep, want = value.partition("=")
        if not sep or not key.strip() or not want.strip():
            raise MuteError(f"--tag {value}: expected KEY=VALUE")
    return kind, value


def valid_id(text: str) -> bool:
    return bool(_ID().fullmatch(text or ""))


class Mute(NamedTuple):
    """One mute, a value: times are epoch seconds; ``removed`` is when ``oomwatch unmute`` ended it.

    A NamedTuple rather than a frozen dataclass: the Lambda imports this module on every cold start, and a
    frozen, slotted dataclass costs about 2 ms to build there (its methods are compiled from source).
    """

    id: str
    kind: str
    value: str
    start: int
    end: int
    reason: str
    by: str
    removed: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.value}"

    def scheduled_end(self, max_hours: int | None = None) -> int:
        """The end it was set with, bounded by ``max_hours`` after the start (the Lambda enforces the maximum)."""
        return self.end if max_hours is None else min(self.end, self.start + max_hours * 3600)

    def effective_end(self, max_hours: int | None = None) -> int:
        """When it ends or ended: its scheduled end, or its removal if that came first."""
        end = self.scheduled_end(max_hours)
        return end if self.removed is None else min(end, self.removed)

    def was_removed(self, max_hours: int | None = None) -> bool:
        """Ended by ``oomwatch unmute`` before its scheduled end (else it expired)."""
        return self.removed is not None and self.removed < self.scheduled_end(max_hours)

    def active(self, now_s: float, max_hours: int | None = None) -> bool:
        return self.removed is None and self.start - 300 <= now_s < self.effective_end(max_hours)

    def ended(self, now_s: float, max_hours: int | None = None) -> bool:
        return not self.active(now_s, max_hours) and now_s >= self.start - 300

    def removed_at(self, now_s: float) -> "Mute":
        return self._replace(removed=int(now_s))

    def fields(self) -> dict[str, Any]:
        """The stored fields (plain values)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "reason": self.reason,
            "by": self.by,
        }
        if self.removed is not None:
            out["removed"] = self.removed
        return out


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def from_fields(mute_id: str, raw: Mapping[str, Any]) -> Mute | None:
    """A stored mute read back (plain values); None when it is not one (a broken entry mutes nothing)."""
    kind, value = raw.get("kind"), raw.get("value")
    start, end = _whole(raw.get("start")), _whole(raw.get("end"))
    if kind not in KINDS or not isinstance(value, str) or not value or start is None or end is None:
        return None
    removed = _whole(raw.get("removed"))
    return Mute(
        id=str(mute_id)[:40],
        kind=str(kind),
        value=value[:MAX_VALUE],
        start=start,
        end=end,
        reason=str(raw.get("reason") or "")[:MAX_REASON],
        by=str(raw.get("by") or "")[:MAX_BY],
        removed=removed,
    )


def from_index(item: Mapping[str, Any]) -> list[Mute]:
    """The mutes of a ``mutes#index`` item (plain values), oldest first."""
    entries = item.get("mutes")
    if not isinstance(entries, Mapping):
        return []
    mutes = [m for k, v in entries.items() if isinstance(v, Mapping) and (m := from_fields(str(k), v))]
    return sorted(mutes, key=lambda m: (m.start, m.id))


def keep(mutes: list[Mute], now_s: float) -> list[Mute]:
    """The mutes a write keeps in the index: all but those over for more than :data:`KEEP_ENDED_S`."""
    return [m for m in mutes if m.effective_end() + KEEP_ENDED_S > now_s]


def human_span(seconds: float) -> str:
    """``3h 20m``, ``45m``, ``2d 4h``."""
    s = max(0, int(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{max(minutes, 1) if s else 0}m"
