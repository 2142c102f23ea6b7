"""DynamoDB values read back by the state store: the fast path gives what boto3's deserializer gives."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from hypothesis import given, settings
from hypothesis import strategies as st
from service.dal.state.table import num as _num
from service.dal.state.table import plain as _plain


def reference_plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _num(TypeDeserializer().deserialize(v)) for k, v in item.items()}


NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["007", "-0", "1.5", "-2.50", "1e3", "1E+2", "12345678901234567890123456789012345"]),
)
ATTRIBUTE = st.recursive(
    st.one_of(
        st.text(max_size=8).map(lambda s: {"S": s}),
        NUMBERS.map(lambda n: {"N": n}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True).map(lambda xs: {"SS": xs}),
        st.lists(NUMBERS, min_size=1, max_size=3, unique=True).map(lambda xs: {"NS": xs}),
    ),
    lambda inner: st.one_of(
        st.dictionaries(st.text(max_size=5), inner, max_size=4).map(lambda m: {"M": m}),
        st.lists(inner, max_size=4).map(lambda xs: {"L": xs}),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), ATTRIBUTE, max_size=6))
def test_plain_reads_items_like_boto3(item: dict[str, Any]) -> None:
    try:
        want: Any = reference_plain(item)
    except Exception as exc:
        want = type(exc)
    try:
        got: Any = _plain(item)
    except Exception as exc:
        got = type(exc)
    assert got == want
    assert repr(got) == repr(want)  # ints stay ints, Decimals stay Decimals
