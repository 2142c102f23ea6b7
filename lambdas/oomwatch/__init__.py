"""oomwatch: parse Linux OOM-killer reports (kernel, systemd-oomd, earlyoom) from any log transport.

Standard library only, no AWS imports: the Lambda, the CLI and the tests share it.

Public API::

    parse_lines(lines, stream="")            -> list[OomEvent]   # one event per kill, schema in event.schema.json
    OomParser().feed(line, stream=..., time_ms=..., event_id=...) ; .finish() -> list[OomEvent]
    scan_binary(fileobj)                     -> Iterator[OomEvent]  # fast path for large files

``OomEvent`` and its parts (``oomwatch.event``) are TypedDicts of that schema.
"""

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
