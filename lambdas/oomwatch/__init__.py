"""oomwatch: parse Linux OOM-killer reports (kernel, systemd-oomd, earlyoom) from any log transport.

Standard library only, no AWS imports: the Lambda, the CLI and the tests share it.

Public API::

    parse_lines(lines, stream="")            -> list[OomEvent]   # one event per kill, schema in event.schema.json
    OomParser().feed(line, stream=..., time_ms=..., event_id=...) ; .finish() -> list[OomEvent]
    scan_binary(fileobj)                     -> Iterator[OomEvent]  # fast path for large files

``OomEvent`` and its parts (``oomwatch.event``) are TypedDicts of that schema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oomwatch.event import (
        Cgroup,
        Memcg,
        OomEvent,
        SystemdContext,
        TaskName,
        TaskTable,
        TopConsumer,
        Trigger,
        Victim,
        Workload,
    )
    from oomwatch.parser import OomParser, parse_lines
    from oomwatch.scanner import scan_binary

#: Where each public name lives. Imported on first use (PEP 562): a module that needs one part of the package
#: (the mute grammar, the event types) must not pay for the parser's regexes at every Lambda cold start.
_HOMES = {
    "OomParser": "oomwatch.parser",
    "parse_lines": "oomwatch.parser",
    "scan_binary": "oomwatch.scanner",
    **dict.fromkeys(
        ("Cgroup", "Memcg", "OomEvent", "SystemdContext", "TaskName", "TaskTable", "TopConsumer", "Trigger",
         "Victim", "Workload"),
        "oomwatch.event",
    ),
}  # fmt: skip


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'oomwatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "Cgroup",
    "Memcg",
    "OomEvent",
    "OomParser",
    "SystemdContext",
    "TaskName",
    "TaskTable",
    "TopConsumer",
    "Trigger",
    "Victim",
    "Workload",
    "parse_lines",
    "scan_binary",
]
