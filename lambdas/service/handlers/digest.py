"""Lambda ``service.handlers.digest.handler``: every 5 minutes (EventBridge schedule), send one digest
per noise window that has ended and folded kills, and check fleet coverage when it is due.

So a digest arrives between 0 and about 5.5 minutes after its window ends (schedule period
plus a 30 s grace that keeps the oom handler and this job off the same window). The work is in
:mod:`service.logic.digest_run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from service.logic.digest_run import scheduled_run
from service.wiring import PowertoolsTelemetry, runtime

if TYPE_CHECKING:  # a type only: its module costs ~1 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return scheduled_run(event, runtime(telemetry), context.aws_request_id, context.get_remaining_time_in_millis())
