"""The state table's codec and the typed records its families return: conditional answers, defaults of absent
attributes (items written by older versions), and the one minutes-to-milliseconds conversion."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ClientError
from service.dal.state import due_window
from service.dal.state.table import Table, item, plain
from service.dal.state.windows import window_ms


class Refusing:
    """A DynamoDB client that refuses every write with one error code."""

    def __init__(self, code: str = "ConditionalCheckFailedException") -> None:
        self.code = code

    def _refuse(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "PutItem")

    put_item = update_item = delete_item = _refuse


def table(client: Refusing) -> Table:
    return Table(cast(Any, type("Clients", (), {"dynamodb": client})()), "state")


def test_a_failed_condition_is_an_answer_and_any_other_error_is_raised() -> None:
    # GIVEN a table whose writes are refused for a failed condition
    t = table(Refusing())
    # WHEN conditional writes are made, THEN each says so instead of raising
    assert t.put({"pk": "a"}, condition="attribute_not_exists(pk)") is None
    assert t.update("a", "SET x = :x", condition="attribute_exists(pk)", values_of={":x": 1}) is None
    assert t.delete("a", condition="attribute_exists(pk)") is False
    # AND a throttled conditional write raises, and so does a refused unconditional one
    with pytest.raises(ClientError, match="ThrottlingException"):
        table(Refusing("ThrottlingException")).put({"pk": "a"}, condition="attribute_not_exists(pk)")
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        table(Refusing()).update("a", "SET x = :x", values_of={":x": 1})


def test_items_round_trip_through_the_codec_and_none_is_left_out() -> None:
    values = {"pk": "win#f#1", "count": 3, "ok": True, "top": {"k": {"pid": None, "comm": "x"}}, "kinds": {"b", "a"}}
    encoded = item({**values, "gone": None})
    assert "gone" not in encoded and encoded["kinds"] == {"SS": ["a", "b"]}
    assert plain(encoded) == {**values, "kinds": ["a", "b"]}


def test_a_due_window_of_an_old_sparse_item_gets_the_documented_defaults() -> None:
    # GIVEN a win# item with only its key, bounds and instances (no first/last, top, group, count)
    window = due_window(
        {"pk": "win#f#5", "window_start": 1000, "window_end": 2000, "instances": ["i-2", "i-1"], "events_group": "-",
         "top": {"k1": "not a map", "k2": {"comm": "", "pid": "7", "rss_kb": 9, "time_ms": 3}}}
    )  # fmt: skip
    # THEN the span is the window's, one kill, no group, sorted instances, and only the well-formed victim
    assert (window.count, window.first_ms, window.last_ms) == (1, 1000, 2000)
    assert window.events_group is None and window.instances == ("i-1", "i-2") and window.critical == 0
    [victim] = window.top
    assert (victim.comm, victim.pid, victim.rss_kb, victim.where, victim.time_ms) == ("?", None, 9, "?", 3)
    assert window.fingerprint.scope == "host:unknown" and window.fingerprint.source == "kernel"


def test_the_noise_window_is_converted_once_from_minutes() -> None:
    assert window_ms(15) == 15 * 60 * 1000
