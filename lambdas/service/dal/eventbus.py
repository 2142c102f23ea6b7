"""Putting OOMWatch's events on an EventBridge bus (setting ``event_bus``; the contract is docs/eventbridge.md).

PutEvents (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): at most 10 entries per
call, and "the total entry size must be less than 256KB" (entry size as
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html computes it: Source, DetailType,
Detail and each Resource in UTF-8 bytes, 14 bytes for Time). :func:`batches` packs the entries into calls under
both. A call can fail as a whole (an exception) or per entry (``FailedEntryCount``, an ``ErrorCode`` per failed
entry); either way :meth:`EventBus.put` returns the error codes of what was not put, and never raises: an event
is an extra copy of an alert, so it is never retried into a second alert (the client's standard retries apply).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from service.dal.clients import Clients, error_code

MAX_ENTRIES: Final = 10
MAX_REQUEST_BYTES: Final = 262_144  # "less than 256KB": a request's entries total at most 262,143 bytes
TIME_BYTES: Final = 14


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8", "surrogatepass"))
    for resource in entry.get("Resources") or ():
        size += len(str(resource).encode("utf-8", "surrogatepass"))
    return size


def batches(entries: Sequence[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    """The entries in order, in calls of at most 10 entries whose sizes total less than 256 KB (an entry too large
    for any call goes alone, and EventBridge refuses it: it is reported as failed, never dropped silently)."""
    batch: list[Mapping[str, Any]] = []
    total = 0
    for entry in entries:
        size = entry_size(entry)
        if batch and (len(batch) == MAX_ENTRIES or total + size >= MAX_REQUEST_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += size
    if batch:
        yield batch


class EventBus:
    """PutEvents to one bus: ``bus`` is a name (``default`` included) or an ARN."""

    def __init__(self, clients: Clients, bus: str) -> None:
        self._clients = clients
        self.bus = bus

    def put(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Put every entry; the error codes of those that were not put (empty: all were)."""
        failed: list[str] = []
        for batch in batches(entries):
            request = [{**entry, "EventBusName": self.bus} for entry in batch]
            try:
                response = self._clients.events.put_events(Entries=request)
            except Exception as exc:
                failed += [error_code(exc)] * len(batch)
                continue
            if response.get("FailedEntryCount"):
                failed += [str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")]
        return failed
