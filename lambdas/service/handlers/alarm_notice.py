"""Lambda ``service.handlers.alarm_notice.handler``: readable notices for the fleet memory/swap alarms.

Input: EventBridge ``CloudWatch Alarm State Change`` events of the two Metrics Insights alarms
(multi-time-series, GROUP BY InstanceId), and ``CloudWatch Alarm Contributor State Change``
events if the rule also matches them (those name one instance in ``alarmContributor``).

Output: one SNS notice per ALARM transition naming the instance(s) with name, type, current
memory and swap use, and the last OOM kill on them. The work is in :mod:`service.logic.alarm_notices`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from service.logic.alarm_notices import notify_alarm
from service.wiring import PowertoolsTelemetry, runtime

if TYPE_CHECKING:  # a type only: its module costs ~1 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return notify_alarm(event, runtime(telemetry), context.aws_request_id, context.get_remaining_time_in_millis())
