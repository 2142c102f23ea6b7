"""Lambda ``service.handlers.oom.handler``: CloudWatch Logs subscription -> OOM-kill events and alerts.

Invoked asynchronously (2 retries, then the SQS dead-letter queue). The work is in
:mod:`service.logic.kills`; this module only wires Powertools around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from service.logic.kills import process_subscription
from service.wiring import PowertoolsTelemetry, runtime

if TYPE_CHECKING:  # a type only: its module costs ~1 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return process_subscription(
        event, runtime(telemetry), getattr(context, "aws_request_id", None), remaining() if remaining else None
    )
