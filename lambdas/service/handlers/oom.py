"""Lambda ``service.handlers.oom.handler``: CloudWatch Logs subscription -> OOM-kill events and alerts.

Invoked asynchronously (2 retries, then the SQS dead-letter queue). The work is in
:mod:`service.logic.kills`; this module only wires Powertools around it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.logic.kills import process_subscription
from service.wiring import PowertoolsTelemetry, runtime

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
