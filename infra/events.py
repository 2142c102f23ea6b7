"""The EventBridge contract's infrastructure: the functions may put OOMWatch's events on one bus, and (optionally)
a rule sends them to PagerDuty Events v2 through an API destination. The contract is docs/eventbridge.md.

* ``event_bus`` (a bus name, ``default`` included, or a bus ARN): each function gets ``EVENT_BUS`` and
  ``events:PutEvents`` on that bus's ARN only. Off (``""`` or ``off``): ``EVENT_BUS=off`` and no permission.
* ``pagerduty_secret_arn``: a Secrets Manager secret whose value is the PagerDuty Events v2 integration key (the
  ``routing_key``). Then: an EventBridge Connection (API-key authorization, required for every connection: header
  ``x-routing-key``, whose value is the secret), with the ``routing_key`` body parameter read from the same
  secret; an API destination to ``https://events.pagerduty.com/v2/enqueue`` (POST); and a rule on the bus that
  matches OOMWatch's alerting events (:data:`PAGERDUTY_PATTERN`) and sends each, reshaped by an input
  transformer (:data:`PAGERDUTY_BODY`), with the dead-letter queue for what cannot be delivered. The secret's
  value reaches the template only as a dynamic reference (``{{resolve:secretsmanager:...}}``), never in clear.
  An input transformer cannot read a secret, so the routing key is the connection's body parameter: that
  EventBridge merges it into a JSON body made by an input transformer is what AWS documents for connection
  parameters, not something this project has tried against PagerDuty (docs/eventbridge.md, "Unverified").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_cdk import Duration, SecretValue
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import settings_table

PAGERDUTY_ENDPOINT: Final = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_KEY_HEADER: Final = "x-routing-key"
SOURCE: Final = "oomwatch"
#: What pages: the kills, loops and digests that were alerted, and memory alarms (never folded or allow-listed
#: kills, which send no alert of their own, nor rollout, coverage and mute notices, nor muted kills).
PAGERDUTY_PATTERN: Final[Mapping[str, Any]] = {
    "source": [SOURCE],
    "detail-type": ["OOM Kill", "OOM Loop", "OOM Digest", "Memory Alarm"],
    "detail": {"alerted": [True]},
}
#: The Events v2 body, as JSON paths of the OOMWatch event (InputPathsMap) and the template that places them.
PAGERDUTY_PATHS: Final[Mapping[str, str]] = {
    "fingerprint": "$.detail.fingerprint",
    "summary": "$.detail.summary",
    "severity": "$.detail.severity",
    "resource": "$.detail.resource",
    "kind": "$.detail.kind",
    "time": "$.detail.time",
    "detail": "$.detail",
}
PAGERDUTY_TEMPLATE: Final = (
    '{"event_action":"trigger","dedup_key":<fingerprint>,"client":"OOMWatch",'
    '"payload":{"summary":<summary>,"severity":<severity>,"source":<resource>,"component":"oomwatch",'
    '"class":<kind>,"timestamp":<time>,"custom_details":<detail>}}'
)


class EventContract(Construct):
    """``EVENT_BUS`` and ``events:PutEvents`` for ``functions``; with ``pagerduty_secret_arn``, the PagerDuty route.

    Attributes: ``bus`` (None when off), ``pagerduty_rule``, ``connection`` and ``destination`` (None without
    PagerDuty).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        event_bus: str,
        functions: Sequence[lambda_.Function],
        dead_letter_queue: sqs.IQueue,
        pagerduty_secret_arn: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        setting = settings_table.EVENT_BUS
        self.bus: events.IEventBus | None = None
        self.pagerduty_rule: events.Rule | None = None
        self.connection: events.Connection | None = None
        self.destination: events.ApiDestination | None = None
        if not event_bus:
            for fn in functions:
                fn.add_environment(setting.env, "off")
            return
        self.bus = (
            events.EventBus.from_event_bus_arn(self, "Bus", event_bus)
            if event_bus.startswith("arn:")
            else events.EventBus.from_event_bus_name(self, "Bus", event_bus)
        )
        for fn in functions:
            fn.add_environment(setting.env, setting.encode(event_bus))
            self.bus.grant_put_events_to(fn)
        if pagerduty_secret_arn:
            self._pagerduty(pagerduty_secret_arn, dead_letter_queue)

    def _pagerduty(self, secret_arn: str, dead_letter_queue: sqs.IQueue) -> None:
        assert self.bus is not None
        routing_key = SecretValue.secrets_manager(secret_arn)
        self.connection = events.Connection(
            self,
            "PagerDutyConnection",
            description="OOMWatch: PagerDuty Events v2 (the routing key from Secrets Manager)",
            authorization=events.Authorization.api_key(PAGERDUTY_KEY_HEADER, routing_key),
            body_parameters={"routing_key": events.HttpParameter.from_secret(routing_key)},
        )
        self.destination = events.ApiDestination(
            self,
            "PagerDuty",
            description="OOMWatch: PagerDuty Events v2 enqueue",
            connection=self.connection,
            endpoint=PAGERDUTY_ENDPOINT,
            http_method=events.HttpMethod.POST,
        )
        self.pagerduty_rule = events.Rule(
            self,
            "PagerDutyRule",
            description="OOMWatch: alerted kills, loops, digests and memory alarms to PagerDuty",
            event_bus=self.bus,
            event_pattern=events.EventPattern(
                source=list(PAGERDUTY_PATTERN["source"]),
                detail_type=list(PAGERDUTY_PATTERN["detail-type"]),
                detail=dict(PAGERDUTY_PATTERN["detail"]),
            ),
        )
        self.pagerduty_rule.add_target(
            targets.ApiDestination(
                self.destination,
                event=events.RuleTargetInput.from_text("replaced by the input transformer below"),
                dead_letter_queue=dead_letter_queue,
                max_event_age=Duration.hours(24),
                retry_attempts=185,
            )
        )
        # the transformer is written as AWS takes it (InputPathsMap + InputTemplate), not through CDK's
        # EventField rendering, so that the test applies exactly the strings deployed
        rule = self.pagerduty_rule.node.default_child
        assert isinstance(rule, events.CfnRule)
        rule.add_property_deletion_override("Targets.0.Input")
        rule.add_property_override(
            "Targets.0.InputTransformer",
            {"InputPathsMap": dict(PAGERDUTY_PATHS), "InputTemplate": PAGERDUTY_TEMPLATE},
        )
