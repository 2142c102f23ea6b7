"""The view models every text is rendered from, and the rendered :class:`Message` (subject, e-mail text, JSON
document, attributes) that the publisher sends. Plain data: the use cases fill them, the texts read them.
"""

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from oomwatch.event import OomEvent

from service.models.decisions import Fingerprint, Severity
from service.models.instance import InstanceInfo

SCHEMA = 1


class Message(NamedTuple):
    """One SNS publish."""

    kind: str  # oom_kill | oom_loop | oom_digest | memory_alarm
    subject: str
    text: str
    doc: dict[str, object]
    attributes: dict[str, str]


class KillView(NamedTuple):
    """Everything an alert about one kill needs, gathered by the kill's use case (:mod:`service.logic.kills`)."""

    event: OomEvent
    kill_time_ms: int
    instance_id: str | None
    instance: InstanceInfo | None
    severity: Severity
    fingerprint: Fingerprint
    occurrence: int
    window_minutes: int
    loop_threshold: int
    region: str
    account: str
    log_group: str
    stream: str
    previous_window_count: int = 0
    notes: tuple[str, ...] = ()
    first_kill_ms: int | None = None  # the window's first kill, for a loop's span
    hint: tuple[str, ...] | None = None  # the WHAT TO DO lines (service.logic.hints.hint_lines); None: not computed
    memory: tuple[str, ...] | None = None  # memory/swap the hour before (service.logic.sparkline); None: not read


class DigestVictim(NamedTuple):
    """One line of a digest's "largest victims"."""

    comm: str
    pid: int | None
    rss_kb: int | None
    instance: str
    time_ms: int


class DigestView(NamedTuple):
    fingerprint: Fingerprint
    total: int  # kills in the window
    window_start_ms: int
    window_end_ms: int
    first_ms: int
    last_ms: int
    instances: Sequence[str]
    victims: Sequence[DigestVictim]
    severity: str
    escalated: bool
    region: str
    account: str
    events_log_group: str | None
    names: Mapping[str, str] = MappingProxyType({})  # instance id -> Name tag
    muted: int = 0  # more kills of the window that a mute silenced
