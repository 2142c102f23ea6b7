"""Placeholder: replaced by the real parser."""

from collections.abc import Iterable
from typing import Any


class OomParser:
    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []

    def feed(
        self, line: str, *, stream: str = "", time_ms: int | None = None, event_id: str | None = None
    ) -> None:
        return None

    def finish(self) -> list[dict[str, Any]]:
        return self._events


def parse_lines(lines: Iterable[str], stream: str = "") -> list[dict[str, Any]]:
    p = OomParser()
    for line in lines:
        p.feed(line, stream=stream)
    return p.finish()
