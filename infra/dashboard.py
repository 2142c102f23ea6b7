"""The fleet dashboard: OOM kills from the events log group, the fleet's memory, and the pipeline's health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import fleet_query
from infra.queries import KILLS, QUERIES

#: The ``OOMKills`` series the OOM function writes with ``kill_metric`` (``service.wiring``): one dimension.
KILL_METRIC_NAME: Final = "OOMKills"
KILL_METRIC_DIMENSION: Final = "AutoScalingGroupName"
#: How many instances the top-users widgets show (Metrics Insights ``LIMIT``).
TOP_INSTANCES: Final = 10
#: "Metrics Insights queries can query only the most recent three hours of metric data" (GetMetricData,
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html), so those
#: widgets keep their own 3-hour range whatever the dashboard's.
METRICS_INSIGHTS_RANGE: Final = "-PT3H"
#: The dashboard opens on the last week: kills are rare events. Logs Insights bills each widget's scan of
#: that week on every load and refresh (docs/cost.md), which the small events log group keeps cheap.
DEFAULT_RANGE: Final = "-P7D"
#: Series of the "by ASG" and "by process" charts are one bin per hour.
BIN: Final = "1h"
#: The ASG as the events log it (``instance.asg``, from EC2); kills the OOMWatch metric counts as ``none`` and
#: ``unknown`` are one ``(no ASG)`` series here (a null field is absent to Logs Insights).
ASG_FIELD: Final = 'coalesce(instance.asg, "(no ASG)") as asg'

#: Logs Insights widget title → query (over the events log group). Each starts from ``infra.queries.KILLS``.
KILL_QUERIES: Final[dict[str, str]] = {
    "OOM kills by Auto Scaling group": "\n| ".join(
        [f"fields {ASG_FIELD}", KILLS, f"stats count(*) as kills by asg, bin({BIN})"]
    ),
    "OOM kills by process": "\n| ".join([KILLS, f"stats count(*) as kills by victim.comm, bin({BIN})"]),
    "Latest OOM kills": QUERIES["Recent kills"],
}


def top_users_query(metric_name: str, *, namespace: str, limit: int = TOP_INSTANCES) -> str:
    """The fleet alarm's own query (one series per instance, :func:`infra.alarms.fleet_query`), top ``limit``."""
    return f"{fleet_query(metric_name, namespace=namespace)} LIMIT {limit}"


def kill_metric_search(namespace: str, *, period_s: int = 300) -> str:
    """Every ``OOMKills`` series with exactly the ASG dimension (the braces pin the dimension set), summed.

    A SEARCH expression, not Metrics Insights, so the graph covers the dashboard's whole range.
    """
    schema = f"{{{namespace},{KILL_METRIC_DIMENSION}}}"
    return f"SEARCH('{schema} MetricName=\"{KILL_METRIC_NAME}\"', 'Sum', {period_s})"


class FleetDashboard(Construct):
    """One CloudWatch dashboard (``AWS::CloudWatch::Dashboard``; CloudFormation names it).

    Rows, top to bottom:

    * OOM kills per hour by Auto Scaling group and by process, and the latest kills as a table: Logs
      Insights over ``events_log_group`` (:data:`KILL_QUERIES`);
    * with ``kill_metric``, the ``OOMKills`` metric by Auto Scaling group (:func:`kill_metric_search`);
    * the fleet's top 10 memory and swap users: Metrics Insights on ``agent_namespace``, the series the
      fleet alarms evaluate (:func:`top_users_query`), last 3 hours;
    * pipeline health: errors, throttles and duration of each of ``functions``, and the depth of
      ``dead_letter_queue``.

    Attribute: ``dashboard``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        events_log_group: logs.ILogGroup,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queue: sqs.IQueue,
        agent_namespace: str,
        metrics_namespace: str,
        kill_metric: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", start=DEFAULT_RANGE)
        group = [events_log_group.log_group_name]

        def kills(title: str, view: cloudwatch.LogQueryVisualizationType, width: int) -> cloudwatch.LogQueryWidget:
            return cloudwatch.LogQueryWidget(
                title=title, log_group_names=group, query_string=KILL_QUERIES[title], view=view, width=width, height=6
            )

        self.dashboard.add_widgets(
            kills("OOM kills by Auto Scaling group", cloudwatch.LogQueryVisualizationType.STACKEDAREA, 12),
            kills("OOM kills by process", cloudwatch.LogQueryVisualizationType.STACKEDAREA, 12),
        )
        latest = kills("Latest OOM kills", cloudwatch.LogQueryVisualizationType.TABLE, 24 if not kill_metric else 16)
        if kill_metric:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="OOMKills metric by Auto Scaling group",
                    left=[
                        cloudwatch.MathExpression(
                            expression=kill_metric_search(metrics_namespace),
                            using_metrics={},
                            period=Duration.minutes(5),
                            label="",
                        )
                    ],
                    stacked=True,
                    width=8,
                    height=6,
                ),
                latest,
            )
        else:
            self.dashboard.add_widgets(latest)
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"Top {TOP_INSTANCES} {what} users ({metric_name}, last 3 hours)",
                    left=[
                        cloudwatch.MathExpression(
                            expression=top_users_query(metric_name, namespace=agent_namespace),
                            using_metrics={},
                            period=Duration.minutes(1),
                            label="",
                        )
                    ],
                    start=METRICS_INSIGHTS_RANGE,
                    left_y_axis=cloudwatch.YAxisProps(min=0, max=100, label="%", show_units=False),
                    width=12,
                    height=6,
                )
                for what, metric_name in (("memory", "mem_used_percent"), ("swap", "swap_used_percent"))
            )
        )
        five = Duration.minutes(5)

        def per_function(title: str, metric: str, statistic: str) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title,
                left=[
                    function.metric(metric, period=five, statistic=statistic, label=name)
                    for name, function in functions.items()
                ],
                width=6,
                height=6,
            )

        self.dashboard.add_widgets(
            per_function("Function errors", "Errors", cloudwatch.Stats.SUM),
            per_function("Function throttles", "Throttles", cloudwatch.Stats.SUM),
            per_function("Function duration (max)", "Duration", cloudwatch.Stats.MAXIMUM),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=five, statistic=cloudwatch.Stats.MAXIMUM, label="messages waiting"
                    )
                ],
                width=6,
                height=6,
            ),
        )
