"""AWS rules that moto does not enforce, installed into moto so that it refuses what AWS refuses.

moto accepts much that AWS rejects, so code tested only against moto can deploy and then quietly fail
(issue 10: two Metrics Insights queries in one ``GetMetricData`` made every alarm notice read "?").
:func:`install` patches moto's request handlers (and, where CloudFormation creates the resource, its
backends) so that a violating call fails with AWS's error code and, where known, AWS's message. It is
installed by the demo's ``moto_server`` (``_moto_launcher.py``) and by the handler tests
(``tests/handlers/conftest.py``). Nothing here is needed, or imported, by the deployed code.

Each rule, its source and what the emulator answers (docs/demo.md, "AWS rules the emulator enforces",
has the same table; ``tests/handlers/test_aws_rules.py`` shows each rule refusing a violating call):

=====  ==========================  ==========================================================================
rule   call                        source (quoted) -> emulator's answer
=====  ==========================  ==========================================================================
cw-1   GetMetricData               https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
                                   "If you include a Metrics Insights query, each GetMetricData operation can
                                   include only one query." -> ``ValidationError`` "Maximum number of queries
                                   (1) exceeded" (the text AWS returns, grafana/grafana#74563).
cw-2   GetMetricData               same page: "A single GetMetricData call can include as many as 500
                                   MetricDataQuery structures." -> ``ValidationError``.
cw-3   GetMetricData Expression    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html
                                   Expression: "Length Constraints: Minimum length of 1. Maximum length of
                                   2048." (botocore does not check the maximum) -> ``ValidationError`` "1
                                   validation error detected: Value at 'metricDataQueries.N.member.expression'
                                   failed to satisfy constraint: Member must have length less than or equal to
                                   2048".
logs-1 FilterLogEvents             https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
                                   FilterLogEvents: "5 transactions per second (TPS)/account/Region" -> a
                                   token bucket (5 per second, burst 5) per account and region on this
                                   module's clock; over it ``ThrottlingException`` "Rate exceeded".
logs-2 PutSubscriptionFilter       https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutSubscriptionFilter.html
                                   "Each log group can have up to two subscription filters associated with it.
                                   If you are updating an existing filter, you must specify the correct name"
                                   -> a third filter: ``LimitExceededException`` "Resource limit exceeded.";
                                   updating one of the two by name is allowed (moto alone refused that).
logs-3 PutLogEvents                https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
                                   "The maximum batch size is 1,048,576 bytes ... the sum of all event messages
                                   in UTF-8, plus 26 bytes for each log event"; "Each log event can be no larger
                                   than 1 MB"; "The maximum number of log events in a batch is 10,000"; "must be
                                   in chronological order"; "the time span in a single batch cannot exceed 24
                                   hours" -> ``InvalidParameterException``.
sns-1  Publish Subject             https://docs.aws.amazon.com/sns/latest/api/API_Publish.html "Subjects must be
                                   ASCII text that begins with a letter, number, or punctuation mark; must not
                                   include line breaks or control characters; and must be less than 100
                                   characters long." (today's API model says "UTF-8 text with no line breaks or
                                   control characters, and less than 100 characters long"; the emulator
                                   enforces the stricter, older wording; an empty subject is refused too, as
                                   on AWS) -> ``InvalidParameter`` "Invalid parameter: Subject".
sns-2  Publish size                same page: "messages must be UTF-8 encoded strings ... at most 256 KiB in
                                   size (262,144 bytes, not 262,144 characters)"; "Amazon SNS validates the
                                   combined size of the message body and message attributes" ->
                                   ``InvalidParameter`` "Invalid parameter: Message too long".
sns-3  Publish attributes          https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html names:
                                   "A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.)", "must not start
                                   or end with a period, and it should not have successive periods", "up to
                                   256 characters", "can't start with AWS. or Amazon."; "Name, type, and value
                                   must not be empty or null"; "a maximum of 10 message attributes can be sent
                                   when Raw Message Delivery is enabled" (AWS drops such a message at delivery
                                   to a raw SQS subscriber; the emulator refuses it at Publish, stricter) ->
                                   ``ParameterValueInvalid`` (InvalidParameterValueException).
ssm-1  PutParameter                https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
                                   "Standard parameters have a value limit of 4 KB. Advanced parameters have a
                                   value limit of 8 KB." -> ``ValidationException`` "Standard tier parameters
                                   support a maximum parameter value of 4096 characters. ..." (AWS's text);
                                   counted in UTF-8 bytes. Also for CloudFormation's AWS::SSM::Parameter.
ddb-1  DynamoDB writes             https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
                                   "Numbers can have up to 38 digits of precision. Exceeding this results in an
                                   exception." -> ``ValidationException`` "Attempting to store more than 38
                                   significant digits in a Number" (PutItem, UpdateItem, BatchWriteItem,
                                   TransactWriteItems; keys, items and expression values).
ddb-2  DynamoDB item size          https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
                                   "The maximum item size in DynamoDB is 400 KB, which includes both attribute
                                   name binary length (UTF-8 length) and attribute value lengths" -> an item
                                   put over 409,600 bytes (sized as DynamoDB sizes items):
                                   ``ValidationException`` "Item size has exceeded the maximum allowed size".
ddb-3  BatchWriteItem /            https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
       TransactWriteItems          "consisting of up to 25 item put or delete operations";
                                   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
                                   "up to 100 action requests" -> ``ValidationException``.
eb-1   PutEvents entries           https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
                                   ``Entries``: "Array Members: Minimum number of 1 item. Maximum number of 10
                                   items." -> ``ValidationException`` (moto refuses more than 10 itself; none
                                   is refused here too).
eb-2   PutEvents size              https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
                                   "The total entry size must be less than 256KB" (Source, DetailType, Detail,
                                   each Resource in UTF-8 bytes, 14 for Time) -> ``ValidationException`` "Total
                                   size of the entries in the request is over the limit."
eb-3   PutEvents Detail            https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
                                   ``Detail``: "A valid JSON object." -> that entry fails with ``MalformedDetail``
                                   "Detail is malformed." (moto accepted a JSON array or number, with a warning).
=====  ==========================  ==========================================================================

The throttling clock is :func:`time.monotonic` unless a test sets :data:`clock`; :func:`reset` empties the
buckets (a fresh account, as at each mock start).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple


class Rule(NamedTuple):
    """One enforced rule: its id, the call, AWS's error code and the documentation page that states it."""

    id: str
    call: str
    code: str
    source: str


RULES: tuple[Rule, ...] = (
    Rule("cw-1", "GetMetricData", "ValidationError",
         "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"),
    Rule("cw-2", "GetMetricData", "ValidationError",
         "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"),
    Rule("cw-3", "GetMetricData", "ValidationError",
         "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html"),
    Rule("logs-1", "FilterLogEvents", "ThrottlingException",
         "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"),
    Rule("logs-2", "PutSubscriptionFilter", "LimitExceededException",
         "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutSubscriptionFilter.html"),
    Rule("logs-3", "PutLogEvents", "InvalidParameterException",
         "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html"),
    Rule("sns-1", "Publish", "InvalidParameter", "https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"),
    Rule("sns-2", "Publish", "InvalidParameter", "https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"),
    Rule("sns-3", "Publish", "ParameterValueInvalid",
         "https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html"),
    Rule("ssm-1", "PutParameter", "ValidationException",
         "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html"),
    Rule("ddb-1", "PutItem/UpdateItem/BatchWriteItem/TransactWriteItems", "ValidationException",
         "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"),
    Rule("ddb-2", "PutItem/BatchWriteItem/TransactWriteItems", "ValidationException",
         "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"),
    Rule("ddb-3", "BatchWriteItem/TransactWriteItems", "ValidationException",
         "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"),
    Rule("eb-1", "PutEvents", "ValidationException",
         "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html"),
    Rule("eb-2", "PutEvents", "ValidationException",
         "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html"),
    Rule("eb-3", "PutEvents", "MalformedDetail",
         "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html"),
)  # fmt: skip

# --- limits, each from the table above --------------------------------------------------------------------
MAX_INSIGHTS_QUERIES = 1
MAX_METRIC_DATA_QUERIES = 500
MAX_EXPRESSION_LENGTH = 2048
FILTER_LOG_EVENTS_TPS = 5.0
SUBSCRIPTION_FILTERS_PER_GROUP = 2
PUT_LOG_EVENTS_BATCH_BYTES = 1_048_576
PUT_LOG_EVENTS_EVENT_OVERHEAD = 26
PUT_LOG_EVENTS_EVENT_BYTES = 1_048_576
PUT_LOG_EVENTS_MAX_EVENTS = 10_000
PUT_LOG_EVENTS_SPAN_MS = 24 * 3600 * 1000
SNS_SUBJECT_MAX = 99  # "less than 100 characters"
SNS_MESSAGE_BYTES = 262_144
SNS_MAX_ATTRIBUTES = 10
SNS_ATTRIBUTE_NAME_MAX = 256
SSM_VALUE_BYTES = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
DDB_NUMBER_DIGITS = 38
DDB_ITEM_BYTES = 400 * 1024
DDB_BATCH_WRITE_MAX = 25
DDB_TRANSACT_WRITE_MAX = 100
EVENTS_MAX_ENTRIES = 10
EVENTS_REQUEST_BYTES = 262_144  # "less than 256KB"
EVENTS_TIME_BYTES = 14

clock: Callable[[], float] = time.monotonic

_lock = threading.Lock()
_installed = False
_buckets: dict[tuple[str, str], tuple[float, float]] = {}  # (account, region) -> (tokens, at)


def reset() -> None:
    """Full buckets for every account: what a new mock (or a quiet second) starts with."""
    with _lock:
        _buckets.clear()


def take_filter_log_events_token(account: str, region: str) -> bool:
    """One FilterLogEvents request from the account's bucket; False when the quota is spent (throttle)."""
    with _lock:
        now = clock()
        tokens, at = _buckets.get((account, region), (FILTER_LOG_EVENTS_TPS, now))
        tokens = min(FILTER_LOG_EVENTS_TPS, tokens + max(0.0, now - at) * FILTER_LOG_EVENTS_TPS)
        if tokens < 1.0:
            _buckets[(account, region)] = (tokens, now)
            return False
        _buckets[(account, region)] = (tokens - 1.0, now)
        return True


# --- pure checks: each returns the error message, or None when the call is within the rules ---------------


def is_insights(query: Mapping[str, Any]) -> bool:
    """A Metrics Insights query is an ``Expression`` that starts with SELECT (metric math does not)."""
    return str(query.get("Expression") or "").lstrip()[:6].upper() == "SELECT"


def check_metric_data_queries(queries: Iterable[Mapping[str, Any]]) -> str | None:
    queries = list(queries)
    if len(queries) > MAX_METRIC_DATA_QUERIES:
        return f"The collection MetricDataQueries must not have a size greater than {MAX_METRIC_DATA_QUERIES}."
    if sum(1 for q in queries if is_insights(q)) > MAX_INSIGHTS_QUERIES:
        return f"Maximum number of queries ({MAX_INSIGHTS_QUERIES}) exceeded"
    for n, query in enumerate(queries, start=1):
        if len(str(query.get("Expression") or "")) > MAX_EXPRESSION_LENGTH:
            return (
                f"1 validation error detected: Value at 'metricDataQueries.{n}.member.expression' failed to satisfy"
                f" constraint: Member must have length less than or equal to {MAX_EXPRESSION_LENGTH}"
            )
    return None


_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def check_subject(subject: str | None) -> str | None:
    """sns-1: printable ASCII, first character a letter, digit or punctuation, under 100 characters."""
    if subject is None:
        return None
    ok = (
        0 < len(subject) <= SNS_SUBJECT_MAX
        and all(" " <= ch <= "~" for ch in subject)
        and (subject[0].isalnum() or subject[0] in _PUNCTUATION)
    )
    return None if ok else "Invalid parameter: Subject"


_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """sns-3: attribute count, names, and non-empty types and values."""
    if len(attributes) > SNS_MAX_ATTRIBUTES:
        return f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [{SNS_MAX_ATTRIBUTES}]."
    for name, value in attributes.items():
        if (
            not name
            or len(name) > SNS_ATTRIBUTE_NAME_MAX
            or not _ATTRIBUTE_NAME.match(name)
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
            or name.lower().startswith(("aws.", "amazon."))
        ):
            return f"The message attribute name '{name}' is invalid."
        if not value.get("DataType"):
            return f"The message attribute '{name}' must contain non-empty message attribute type."
        if value.get("StringValue") in (None, "") and value.get("BinaryValue") in (None, b"", ""):
            return f"The message attribute '{name}' must contain non-empty message attribute value."
    return None


def _utf8(text: object) -> int:
    return len(str(text).encode("utf-8", "surrogatepass"))


def sns_message_bytes(message: str | None, attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """sns-2: the body plus every attribute's name, type and value, in UTF-8 bytes."""
    total = _utf8(message or "")
    for name, value in attributes.items():
        total += _utf8(name) + _utf8(value.get("DataType", ""))
        raw = value.get("StringValue", value.get("BinaryValue", ""))
        total += len(raw) if isinstance(raw, bytes) else _utf8(raw)
    return total


def check_ssm_value(value: str | None, tier: str | None, default_tier: str = "Standard") -> str | None:
    limit = SSM_VALUE_BYTES.get(tier or default_tier, SSM_VALUE_BYTES["Standard"])
    if value is None or _utf8(value) <= limit:
        return None
    if limit == SSM_VALUE_BYTES["Standard"]:
        return (
            "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger"
            " parameter value, upgrade the parameter to use the advanced-parameter tier. For more information,"
            " see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
        )
    return f"1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to {limit}"  # noqa: E501


def significant_digits(number: str) -> int:
    """Digits DynamoDB keeps of a number: leading and trailing zeros do not count (sign and exponent neither)."""
    text = str(number).strip().lstrip("+-")
    mantissa = re.split("[eE]", text, maxsplit=1)[0].replace(".", "", 1)
    if not mantissa.isdigit():
        return 0  # not a number: moto's own validation answers that
    return len(mantissa.strip("0")) or 1


def _values(attribute: Any) -> Iterable[tuple[str, Any]]:
    """Every (type, value) inside a DynamoDB attribute value, nested lists and maps included."""
    stack = [attribute]
    while stack:
        value = stack.pop()
        if not isinstance(value, Mapping):
            continue
        for kind, raw in value.items():
            if kind == "M" and isinstance(raw, Mapping):
                stack.extend(raw.values())
            elif kind == "L" and isinstance(raw, list):
                stack.extend(raw)
            else:
                yield kind, raw


def check_numbers(attributes: Iterable[Any]) -> str | None:
    """ddb-1 over attribute values (items, keys, expression values)."""
    for attribute in attributes:
        for kind, raw in _values(attribute):
            numbers = [raw] if kind == "N" else raw if kind == "NS" and isinstance(raw, list) else []
            if any(significant_digits(n) > DDB_NUMBER_DIGITS for n in numbers):
                return "Attempting to store more than 38 significant digits in a Number"
    return None


def _attribute_size(value: Any) -> int:  # noqa: C901 - one branch per DynamoDB attribute type, as the item size rule counts them
    """DynamoDB's size of one attribute value (developer guide, "Item sizes and formats")."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return 0
    ((kind, raw),) = value.items()
    if kind == "S":
        return _utf8(raw)
    if kind == "N":
        return (significant_digits(raw) + 1) // 2 + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(x) for x in raw)
    if kind == "NS":
        return sum((significant_digits(x) + 1) // 2 + 1 for x in raw)
    if kind == "BS":
        return sum(len(x) if isinstance(x, bytes | bytearray) else len(str(x)) for x in raw)
    if kind == "L":
        return 3 + sum(1 + _attribute_size(x) for x in raw)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + _attribute_size(x) for k, x in raw.items())
    return 0


def item_size(item: Mapping[str, Any]) -> int:
    """ddb-2: attribute names (UTF-8) plus attribute values, as DynamoDB counts an item."""
    return sum(_utf8(name) + _attribute_size(value) for name, value in item.items())


def check_item(item: Mapping[str, Any]) -> str | None:
    if item_size(item) > DDB_ITEM_BYTES:
        return "Item size has exceeded the maximum allowed size"
    return check_numbers(item.values())


def check_put_log_events(events: list[Mapping[str, Any]]) -> str | None:
    """logs-3 for one PutLogEvents batch."""
    if len(events) > PUT_LOG_EVENTS_MAX_EVENTS:
        return (
            f"1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have"
            f" length less than or equal to {PUT_LOG_EVENTS_MAX_EVENTS}"
        )
    sizes = [_utf8(e.get("message", "")) for e in events]
    if any(size > PUT_LOG_EVENTS_EVENT_BYTES for size in sizes):
        return "Log event too large: an event can be no larger than 1 MB"
    total = sum(sizes) + PUT_LOG_EVENTS_EVENT_OVERHEAD * len(events)
    if total > PUT_LOG_EVENTS_BATCH_BYTES:
        return f"Upload too large: {total} bytes exceeds limit of {PUT_LOG_EVENTS_BATCH_BYTES}"
    stamps = [int(e.get("timestamp") or 0) for e in events]
    if any(b < a for a, b in itertools.pairwise(stamps)):
        return "Log events in a single PutLogEvents request must be in chronological order."
    if stamps and max(stamps) - min(stamps) > PUT_LOG_EVENTS_SPAN_MS:
        return "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
    return None


def put_events_entry_size(entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge computes it (eb-2)."""
    size = EVENTS_TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += _utf8(entry.get(key)) if entry.get(key) is not None else 0
    return size + sum(_utf8(resource) for resource in entry.get("Resources") or ())


def check_put_events(entries: list[Mapping[str, Any]]) -> str | None:
    """eb-1 and eb-2: the request as a whole."""
    if not entries:
        return (
            "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have"
            " length greater than or equal to 1"
        )
    if len(entries) > EVENTS_MAX_ENTRIES:
        return (
            "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint:"
            f" Member must have length less than or equal to {EVENTS_MAX_ENTRIES}"
        )
    if sum(put_events_entry_size(entry) for entry in entries) >= EVENTS_REQUEST_BYTES:
        return "Total size of the entries in the request is over the limit."
    return None


def detail_is_object(detail: object) -> bool:
    """eb-3: ``Detail`` is absent (moto's own check answers that) or a JSON object."""
    if not isinstance(detail, str) or not detail:
        return True
    try:
        return isinstance(json.loads(detail), dict)
    except ValueError:
        return True  # not JSON at all: moto answers MalformedDetail itself


# --- installation into moto ---------------------------------------------------------------------------------


def _wrap(owner: type, name: str, check: Callable[..., None]) -> None:
    """Run ``check(self, *args, **kwargs)`` before ``owner.name``; ``check`` raises moto's error to refuse."""
    original = getattr(owner, name)

    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    guarded.__name__ = name
    setattr(owner, name, guarded)


def _install_cloudwatch() -> None:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.responses import CloudWatchResponse

    def check(self: Any) -> None:
        error = check_metric_data_queries(self._get_params().get("MetricDataQueries", []))
        if error:
            raise ValidationError(error)

    _wrap(CloudWatchResponse, "get_metric_data", check)


def _install_logs() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.logs.exceptions import InvalidParameterException, LimitExceededException
    from moto.logs.models import LogGroup
    from moto.logs.responses import LogsResponse

    def throttle(self: Any) -> None:
        if not take_filter_log_events_token(self.current_account, self.region):
            raise JsonRESTError("ThrottlingException", "Rate exceeded")

    def batch(self: Any) -> None:
        error = check_put_log_events(list(self._get_param("logEvents") or []))
        if error:
            raise InvalidParameterException(msg=error)

    _wrap(LogsResponse, "filter_log_events", throttle)
    _wrap(LogsResponse, "put_log_events", batch)

    original = LogGroup.put_subscription_filter

    def put_subscription_filter(
        self: Any, filter_name: str, filter_pattern: str, destination_arn: str, role_arn: str
    ) -> None:
        if filter_name in self.subscription_filters:  # an update by name: allowed with two filters
            self.subscription_filters[filter_name].update(filter_pattern, destination_arn, role_arn)
            return
        if len(self.subscription_filters) >= SUBSCRIPTION_FILTERS_PER_GROUP:
            raise LimitExceededException()
        original(self, filter_name, filter_pattern, destination_arn, role_arn)

    LogGroup.put_subscription_filter = put_subscription_filter  # type: ignore[method-assign]


def _install_sns() -> None:
    from moto.sns.exceptions import InvalidParameterValue, SNSException, SNSInvalidParameter
    from moto.sns.responses import SNSResponse

    class AttributeValueError(SNSException):
        code = "ParameterValueInvalid"  # the code of SNS's InvalidParameterValueException

    def check(self: Any) -> None:
        attributes = self._get_param("MessageAttributes", {}) or {}
        subject = self._get_param("Subject")
        error = check_subject(subject)
        if error:
            raise SNSInvalidParameter(error)
        error = check_message_attributes(attributes)
        if error:
            raise AttributeValueError(error)
        if sns_message_bytes(self._get_param("Message"), attributes) > SNS_MESSAGE_BYTES:
            raise InvalidParameterValue("Invalid parameter: Message too long")

    _wrap(SNSResponse, "publish", check)


def _install_ssm() -> None:
    from moto.ssm.exceptions import ValidationException
    from moto.ssm.models import SimpleSystemManagerBackend

    def check(self: Any, *args: Any, **kwargs: Any) -> None:
        names = ("name", "description", "value", "parameter_type", "allowed_pattern", "keyid", "overwrite",
                 "tags", "data_type", "tier", "policies")  # fmt: skip
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        error = check_ssm_value(given.get("value"), given.get("tier"), getattr(self, "default_parameter_tier", None)
                                or "Standard")  # fmt: skip
        if error:
            raise ValidationException(error)

    _wrap(SimpleSystemManagerBackend, "put_parameter", check)


def _install_dynamodb() -> None:  # noqa: C901 - one branch per AWS rule it enforces
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.responses import DynamoHandler

    def refuse(error: str | None) -> None:
        if error:
            raise MockValidationException(error)

    def put_item(self: Any) -> None:
        refuse(check_item(self.body.get("Item") or {}))
        refuse(check_numbers((self.body.get("ExpressionAttributeValues") or {}).values()))

    def update_item(self: Any) -> None:
        refuse(check_numbers((self.body.get("Key") or {}).values()))
        refuse(check_numbers((self.body.get("ExpressionAttributeValues") or {}).values()))

    def batch_write_item(self: Any) -> None:
        requests = [r for table in (self.body.get("RequestItems") or {}).values() for r in table]
        if len(requests) > DDB_BATCH_WRITE_MAX:
            refuse(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must"
                f" satisfy constraint: [Member must have length less than or equal to {DDB_BATCH_WRITE_MAX}]"
            )
        for request in requests:
            put = request.get("PutRequest")
            if put:
                refuse(check_item(put.get("Item") or {}))

    def transact_write_items(self: Any) -> None:
        items = self.body.get("TransactItems") or []
        if len(items) > DDB_TRANSACT_WRITE_MAX:
            refuse(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must"
                f" have length less than or equal to {DDB_TRANSACT_WRITE_MAX}"
            )
        for entry in items:
            for kind, action in entry.items():
                if kind == "Put":
                    refuse(check_item(action.get("Item") or {}))
                refuse(check_numbers((action.get("Key") or {}).values()))
                refuse(check_numbers((action.get("ExpressionAttributeValues") or {}).values()))

    checks = {"put_item": put_item, "update_item": update_item, "batch_write_item": batch_write_item,
              "transact_write_items": transact_write_items}  # fmt: skip
    for name, check in checks.items():
        _wrap(DynamoHandler, name, check)


def _install_events() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend
    from moto.events.responses import EventsHandler

    def request(self: Any) -> None:
        error = check_put_events(list(self._get_param("Entries") or []))
        if error:
            raise ValidationException(error)

    _wrap(EventsHandler, "put_events", request)
    original = EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        malformed = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
        good = [event for event in events if detail_is_object(event.get("Detail"))]
        results = iter(original(self, good) if good else [])
        return [next(results) if detail_is_object(event.get("Detail")) else dict(malformed) for event in events]

    put_events.__wrapped__ = original  # type: ignore[attr-defined]
    EventsBackend.put_events = put_events  # type: ignore[method-assign]


def install() -> None:
    """Make moto (in this process) enforce :data:`RULES`. Idempotent; there is no uninstall."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    _install_cloudwatch()
    _install_logs()
    _install_sns()
    _install_ssm()
    _install_dynamodb()
    _install_events()
