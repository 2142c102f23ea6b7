"""Placeholder: replaced by the real scanner."""

from collections.abc import Iterator
from typing import IO, Any


def scan_binary(fileobj: IO[bytes]) -> Iterator[dict[str, Any]]:
    yield from ()
