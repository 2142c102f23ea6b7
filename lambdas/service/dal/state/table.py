"""The DynamoDB access every item family of the state table shares (and nothing family-specific).

Items are keyed by ``pk`` alone; values are the simple types the families store (strings, whole numbers,
booleans, maps, string sets, lists). A conditional write whose condition fails is an answer, not an error:
the helpers return None (or False) for it and raise every other error.
"""

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from service.dal.clients import Clients

BATCH_GET_MAX = 100  # keys per BatchGetItem
BATCH_WRITE_MAX = 25  # requests per BatchWriteItem
TRANSACT_MAX = 100  # items per TransactWriteItems
RETRIES = 5  # rounds of UnprocessedKeys / UnprocessedItems

_ser = TypeSerializer()
_des = TypeDeserializer()


def value(v: Any) -> dict[str, Any]:
    """DynamoDB attribute value of the simple types used here (boto3's TypeSerializer is ~20x slower)."""
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, int):
        return {"N": str(v)}
    if v is None:
        return {"NULL": True}
    if isinstance(v, Mapping):
        return {"M": {str(k): value(x) for k, x in v.items()}}
    if isinstance(v, set | frozenset) and all(isinstance(x, str) for x in v):
        return {"SS": sorted(v)}
    return dict(_ser.serialize(v))


def item(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or a map of expression values) in DynamoDB's form; None values are left out."""
    return {k: value(v) for k, v in values.items() if v is not None}


def plain(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """An item as plain Python values ({} for none)."""
    if not raw:
        return {}
    return {k: plain_value(v) for k, v in raw.items()}


def plain_value(raw: Any) -> Any:
    """``num(TypeDeserializer().deserialize(raw))``, without boto3 for the simple types used here."""
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, inner),) = raw.items()
        if kind == "S" or kind == "BOOL":
            return inner
        if kind == "N" and isinstance(inner, str) and 0 < len(inner) <= 30 and inner.isascii():
            digits = inner[1:] if inner[0] == "-" else inner
            if digits.isdigit():
                return int(inner)
        elif kind == "M" and isinstance(inner, dict):
            return {k: plain_value(v) for k, v in inner.items()}
        elif kind == "SS" and isinstance(inner, list):
            return sorted(set(inner))
        elif kind == "NULL":
            return None
    return num(_des.deserialize(raw))


def num(v: Any) -> Any:
    """DynamoDB numbers come back as Decimal; everything here is integral."""
    if isinstance(v, Decimal):
        return int(v)
    if isinstance(v, dict):
        return {k: num(x) for k, x in v.items()}
    if isinstance(v, set):
        return sorted(v)
    return v


def whole(v: object, default: int = 0) -> int:
    """A stored number read back, or ``default`` when the attribute is absent or not a number."""
    return int(v) if isinstance(v, int | float) else default


def conditional_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class Cancelled(NamedTuple):
    """Why one item of a cancelled transaction failed: its code and, for a failed condition, the old item."""

    code: str | None
    old: dict[str, Any]


def _expression(
    condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if condition:
        out["ConditionExpression"] = condition
    if names:
        out["ExpressionAttributeNames"] = dict(names)
    if values:
        out["ExpressionAttributeValues"] = item(values)
    return out


class Table:
    """The state table: one method per DynamoDB operation, taking and returning plain values."""

    def __init__(self, clients: Clients, name: str) -> None:
        self._clients = clients
        self.name = name

    @property
    def _ddb(self) -> Any:
        return self._clients.dynamodb

    def get(
        self, pk: str, *, consistent: bool = True, projection: str | None = None, names: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The item ({} when there is none)."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": item({"pk": pk})}
        if consistent:
            kwargs["ConsistentRead"] = True
        if projection:
            kwargs["ProjectionExpression"] = projection
        kwargs.update(_expression(None, names, None))
        return plain(self._ddb.get_item(**kwargs).get("Item"))

    def put(
        self,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values_of: Mapping[str, Any] | None = None,
        return_old: bool = False,
    ) -> dict[str, Any] | None:
        """Write the item: None when ``condition`` failed, else the old item ({} unless ``return_old``)."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": item(values)}
        kwargs.update(_expression(condition, names, values_of))
        if return_old:
            kwargs["ReturnValues"] = "ALL_OLD"
        try:
            resp = self._ddb.put_item(**kwargs)
        except ClientError as exc:
            if condition and conditional_failed(exc):
                return None
            raise
        return plain(resp.get("Attributes"))

    def update(
        self,
        pk: str,
        expression: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values_of: Mapping[str, Any] | None = None,
        returns: str | None = None,
    ) -> dict[str, Any] | None:
        """Update the item: None when ``condition`` failed, else the attributes ``returns`` asks for ({})."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": item({"pk": pk}), "UpdateExpression": expression}
        kwargs.update(_expression(condition, names, values_of))
        if returns:
            kwargs["ReturnValues"] = returns
        try:
            resp = self._ddb.update_item(**kwargs)
        except ClientError as exc:
            if condition and conditional_failed(exc):
                return None
            raise
        return plain(resp.get("Attributes"))

    def delete(
        self,
        pk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values_of: Mapping[str, Any] | None = None,
    ) -> bool:
        """Delete the item: False when ``condition`` failed."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": item({"pk": pk})}
        kwargs.update(_expression(condition, names, values_of))
        try:
            self._ddb.delete_item(**kwargs)
        except ClientError as exc:
            if condition and conditional_failed(exc):
                return False
            raise
        return True

    def create_all(self, items: Sequence[Mapping[str, Any]]) -> list[Cancelled] | None:
        """Create the items (at most :data:`TRANSACT_MAX`) in one transaction, each only if its ``pk`` is new:
        None when all were, else why each one was cancelled (a condition failed, a conflict, none)."""
        puts = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": item(values),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for values in items
        ]
        try:
            self._ddb.transact_write_items(TransactItems=puts)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            return [Cancelled(r.get("Code"), plain(r.get("Item"))) for r in reasons]
        return None

    def get_many(self, pks: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The items that exist among ``pks`` (batches of 100, unprocessed keys retried up to 5 times)."""
        unique = list(dict.fromkeys(pks))
        for start in range(0, len(unique), BATCH_GET_MAX):
            keys = [item({"pk": pk}) for pk in unique[start : start + BATCH_GET_MAX]]
            request: dict[str, Any] = {self.name: {"Keys": keys}}
            for _ in range(RETRIES):
                resp = self._ddb.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.name, []):
                    yield plain(raw)
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break

    def put_many(self, items: Sequence[Mapping[str, Any]], what: str = "items") -> None:
        """Write the items (batches of 25, unprocessed ones retried up to 5 times; then a RuntimeError)."""
        requests = [{"PutRequest": {"Item": item(values)}} for values in items]
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            pending: dict[str, Any] = {self.name: requests[start : start + BATCH_WRITE_MAX]}
            for _ in range(RETRIES):
                resp = self._ddb.batch_write_item(RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}
                if not pending:
                    break
            if pending:
                raise RuntimeError(f"DynamoDB left {what} unprocessed")

    def scan(
        self, condition: str, *, names: Mapping[str, str] | None = None, values_of: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item the filter ``condition`` keeps, page after page."""
        kwargs: dict[str, Any] = {"TableName": self.name, "FilterExpression": condition}
        kwargs.update(_expression(None, names, values_of))
        while True:
            resp = self._ddb.scan(**kwargs)
            for raw in resp.get("Items", []):
                yield plain(raw)
            key = resp.get("LastEvaluatedKey")
            if not key:
                return
            kwargs["ExclusiveStartKey"] = key
