"""PutEvents through service.dal.eventbus: calls of at most 10 entries totalling less than 256 KB, in order, and
the error codes of what was not put (per entry, or a whole call), never an exception."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from service.dal.eventbus import MAX_ENTRIES, MAX_REQUEST_BYTES, EventBus, batches, entry_size

from demo import aws_rules


def entry(n: int, size: int = 10) -> dict[str, Any]:
    return {"Source": "oomwatch", "DetailType": "OOM Kill", "Detail": json.dumps({"n": n, "pad": "x" * size})}


def test_entry_size_is_what_eventbridge_and_the_emulator_count() -> None:
    one = entry(1) | {"Resources": ["arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"], "Time": 1}
    assert entry_size(one) == aws_rules.put_events_entry_size(one)
    assert entry_size({"Source": "é", "DetailType": "", "Detail": ""}) == 2


def test_batches_keep_order_and_both_limits() -> None:
    # GIVEN 25 small entries, then 6 of 60 KB
    entries = [entry(n) for n in range(25)] + [entry(100 + n, 60_000) for n in range(6)]
    # WHEN they are packed
    packed = list(batches(entries))
    # THEN in order, at most 10 per call, each call under 256 KB, and each call accepted by the emulator's rules
    assert [e for b in packed for e in b] == entries
    assert all(len(b) <= MAX_ENTRIES for b in packed)
    assert all(sum(entry_size(e) for e in b) < MAX_REQUEST_BYTES for b in packed)
    assert all(aws_rules.check_put_events(b) is None for b in packed)
    assert [len(b) for b in packed] == [
        10,
        10,
        9,
        2,
    ]  # 5 small + four 60 KB; a fifth: 256 KB


class Client:
    def __init__(self, answers: list[dict[str, Any] | Exception]) -> None:
        self.answers = answers
        self.requests: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.requests.append(Entries)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clients:
    def __init__(self, client: Client) -> None:
        self.events = client


def test_put_names_the_bus_and_returns_what_failed() -> None:
    # GIVEN 12 entries (two calls): the first call refuses one entry, the second fails as a whole
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")
    first = {"FailedEntryCount": 1, "Entries": [{"EventId": "e"}] * 9 + [{"ErrorCode": "InternalFailure"}]}
    client = Client([first, throttled])
    bus = EventBus(Clients(client), "arn:aws:events:eu-west-1:123456789012:event-bus/ops")  # type: ignore[arg-type]
    # WHEN they are put
    failed = bus.put([entry(n) for n in range(12)])
    # THEN every entry named the bus; one entry of the first call and both of the second are reported
    assert [len(r) for r in client.requests] == [10, 2]
    assert {e["EventBusName"] for r in client.requests for e in r} == {bus.bus}
    assert failed == ["InternalFailure", "ThrottlingException", "ThrottlingException"]


def test_put_of_nothing_makes_no_call() -> None:
    client = Client([])
    assert EventBus(Clients(client), "default").put([]) == []  # type: ignore[arg-type]
    assert client.requests == []
