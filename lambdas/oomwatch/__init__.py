"""oomwatch: parse Linux OOM-killer reports (kernel, systemd-oomd, earlyoom) from any log transport.

Standard library only, no AWS imports: the Lambda, the CLI and the tests share it.

Public API::

    parse_lines(lines, stream="")            -> list[dict]   # one event per kill, schema in event.schema.json
    OomParser().feed(line, stream=..., time_ms=..., event_id=...) ; .finish() -> list[dict]
    scan_binary(fileobj)                     -> Iterator[dict]  # fast path for large files
"""

from oomwatch.parser import OomParser, parse_lines
from oomwatch.scanner import scan_binary

__all__ = ["OomParser", "parse_lines", "scan_binary"]
