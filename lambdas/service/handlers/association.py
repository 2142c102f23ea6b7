"""Lambda ``service.handlers.association.handler``: a readable notice when OOMWatch's rollout fails on a host.

Input: EventBridge ``EC2 State Manager Instance Association State Change`` events (source ``aws.ssm``) of
OOMWatch's own association only (the rule matches its ``association-id``; the logic checks it again),
with ``status`` Failed, TimedOut or Success. The work is in :mod:`service.logic.rollout_notices`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from service.logic.rollout_notices import notify_association
from service.wiring import PowertoolsTelemetry, runtime

if TYPE_CHECKING:  # a type only: its module costs ~1 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return notify_association(event, runtime(telemetry))
