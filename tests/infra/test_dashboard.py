"""The fleet dashboard: its DashboardBody, parsed from the synthesized template, widget by widget.

Default settings (dashboard on, kill_metric off) come from the CLI synth; the variant turns kill_metric on. The
dashboard=false case builds the stack alone (seconds, not a full synth).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from template_kit import function_by_handler, only, render, resources

from infra.alarms import fleet_query
from infra.queries import QUERIES

Template = dict[str, Any]

REPO_LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HANDLERS = {"Oom": "service.handlers.oom.handler", "AlarmNotice": "service.handlers.alarm_notice.handler",
            "Digest": "service.handlers.digest.handler",
            "AssociationNotice": "service.handlers.association.handler"}  # fmt: skip
#: The Metrics Insights grammar (query components and syntax,
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html):
#: SELECT FUNCTION(metric) FROM namespace | SCHEMA(namespace, keys...) [WHERE ...] [GROUP BY keys]
#: [ORDER BY FUNCTION() [DESC|ASC]] [LIMIT n]; a query returns at most 500 series (Metrics Insights limits).
METRICS_INSIGHTS = re.compile(
    r"SELECT (?P<function>AVG|COUNT|MAX|MIN|SUM)\((?P<metric>\w+)\)"
    r" FROM (?:SCHEMA\((?P<namespace>\"[^\"]+\"|\w+)(?P<keys>(?:, \w+)*)\)|\"[^\"]+\"|\w+)"
    r"(?: WHERE .+?)?(?: GROUP BY (?P<group>\w+(?:, \w+)*))?"
    r"(?: ORDER BY (?P<order>AVG|COUNT|MAX|MIN|SUM)\(\)(?: DESC| ASC)?)?(?: LIMIT (?P<limit>\d+))?"
)


def body(template: Template) -> dict[str, Any]:
    """The one dashboard's body with each Ref/GetAtt shown as ``<LogicalId>`` and the region as eu-west-1."""
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    names = {logical_id: f"<{logical_id}>" for logical_id in template["Resources"]}
    parsed: dict[str, Any] = json.loads(render(dashboard["Properties"]["DashboardBody"], names))
    return parsed


def widgets(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    """Widget title → properties, for one widget type (``log``, ``metric``)."""
    found = [w["properties"] for w in body(template)["widgets"] if w["type"] == type_]
    by_title = {w["title"]: w for w in found}
    assert len(by_title) == len(found), "two widgets share a title"
    return by_title


def test_one_dashboard_named_by_cloudformation_opening_on_a_week(template: Template) -> None:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    assert "DashboardName" not in dashboard["Properties"]
    assert body(template)["start"] == "-P7D"
    kinds = [w["type"] for w in body(template)["widgets"]]
    assert kinds.count("log") == 3 and kinds.count("metric") == 6, kinds  # OOMKills only with kill_metric


def test_kill_widgets_query_the_events_log_group_for_kill_events(template: Template) -> None:
    logs = widgets(template, "log")
    assert set(logs) == {"OOM kills by Auto Scaling group", "OOM kills by process", "Latest OOM kills"}
    for title, widget in logs.items():
        source, _, query = widget["query"].partition(" | ")
        assert source == "SOURCE '<EventsLogGroup>'", title  # the OOM function's log group, and only it
        assert 'filter message = "oom_kill"' in query.split("\n| "), title
        assert widget["region"] == "eu-west-1"
    by_asg, by_process = logs["OOM kills by Auto Scaling group"], logs["OOM kills by process"]
    # over time: stacked areas of one series per ASG / process, per hour
    for widget in (by_asg, by_process):
        assert (widget["view"], widget["stacked"]) == ("timeSeries", True)
    assert 'fields coalesce(instance.asg, "(no ASG)") as asg' in by_asg["query"]
    assert by_asg["query"].endswith("| stats count(*) as kills by asg, bin(1h)")
    assert by_process["query"].endswith("| stats count(*) as kills by victim.comm, bin(1h)")
    # the latest kills: the saved "Recent kills" query, as a table
    latest = logs["Latest OOM kills"]
    assert latest["view"] == "table"
    assert latest["query"] == f"SOURCE '<EventsLogGroup>' | {QUERIES['Recent kills']}"


def test_the_fields_the_widgets_read_are_fields_of_the_kill_event() -> None:
    """``victim.comm`` is the parser's (event.schema.json); ``instance.asg`` the handler's EC2 block."""
    from service.models.instance import InstanceInfo

    schema = json.loads((REPO_LAMBDAS / "oomwatch" / "event.schema.json").read_text())
    assert "comm" in schema["properties"]["victim"]["properties"]
    assert "asg" in InstanceInfo(instance_id="i-0123456789abcdef0", asg="web").as_log()


def test_top_users_are_the_fleet_alarms_series_ranked_last_3_hours(template: Template) -> None:
    metrics = widgets(template, "metric")
    for what, metric_name in (("memory", "mem_used_percent"), ("swap", "swap_used_percent")):
        widget = metrics[f"Top 10 {what} users ({metric_name}, last 3 hours)"]
        ((expression,),) = widget["metrics"]
        query = expression["expression"]
        match = METRICS_INSIGHTS.fullmatch(query)
        assert match, query
        assert (match["function"], match["metric"], match["namespace"], match["keys"]) == (
            "MAX",
            metric_name,
            '"CWAgent"',
            ", InstanceId, host",
        )
        assert (match["group"], match["order"], match["limit"]) == ("InstanceId", "MAX", "10")
        assert query == f"{fleet_query(metric_name)} LIMIT 10"  # exactly the alarm's series, ranked
        assert expression["period"] == 60 and widget["start"] == "-PT3H"  # Metrics Insights: 1-min, last 3 h


def test_the_fleet_alarms_evaluate_the_same_query(template: Template) -> None:
    alarm_queries = {
        m["Expression"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        for m in alarm["Properties"].get("Metrics", [])
        if "Expression" in m
    }
    shown = {w["metrics"][0][0]["expression"].removesuffix(" LIMIT 10") for t, w in widgets(template, "metric").items()
             if t.startswith("Top 10")}  # fmt: skip
    assert shown == alarm_queries


def test_the_kill_metric_widget_sums_the_asg_series_the_function_writes(variant_template: Template) -> None:
    from service.wiring import ASG_DIMENSION

    # GIVEN the variant: kill_metric on
    widget = widgets(variant_template, "metric")["OOMKills metric by Auto Scaling group"]
    ((expression,),) = widget["metrics"]
    _, oom = function_by_handler(variant_template, "service.handlers.oom.handler")
    namespace = oom["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert expression["expression"] == (
        f"SEARCH('{{{namespace},{ASG_DIMENSION}}} MetricName=\"OOMKills\"', 'Sum', 300)"
    )
    assert widget["stacked"] is True


def test_pipeline_health_covers_every_function_and_the_dead_letter_queue(template: Template) -> None:
    metrics = widgets(template, "metric")
    functions = {name: f"<{function_by_handler(template, handler)[0]}>" for name, handler in HANDLERS.items()}
    for title, metric_name, statistic in (
        ("Function errors", "Errors", "Sum"),
        ("Function throttles", "Throttles", "Sum"),
        ("Function duration (max)", "Duration", "Maximum"),
    ):
        rows = metrics[title]["metrics"]
        shown = {row[4]["label"]: row[3] for row in rows}
        assert shown == functions, title
        for row in rows:
            assert row[:3] == ["AWS/Lambda", metric_name, "FunctionName"], title
            assert (row[4]["stat"], row[4].get("period", 300)) == (statistic, 300), title  # 300: the body's default
    ((dlq,),) = [metrics["Dead-letter queue depth"]["metrics"]]
    assert dlq[:4] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "<DeadLetterQueue>"]
    assert dlq[4]["stat"] == "Maximum"


def test_without_the_kill_metric_the_dashboard_does_not_graph_it(template: Template) -> None:
    # GIVEN the defaults: dashboard on, kill_metric off
    titles = {w["title"] for kind in ("log", "metric") for w in widgets(template, kind).values()}
    # THEN the kills still show from the events, the latest kills take the whole row, and OOMKills is not graphed
    assert "OOMKills metric by Auto Scaling group" not in titles
    assert {"OOM kills by Auto Scaling group", "OOM kills by process", "Latest OOM kills"} <= titles
    (latest,) = [w for w in body(template)["widgets"] if w["properties"]["title"] == "Latest OOM kills"]
    assert latest["width"] == 24
    assert "OOMKills" not in json.dumps(body(template))
    assert "DashboardUrl" in template["Outputs"]


def test_dashboard_off_means_no_dashboard_and_no_output() -> None:
    # GIVEN the stack with dashboard=false (built alone: no cdk-nag, no CLI)
    from aws_cdk import App, assertions

    from app import LAMBDA_CODE
    from infra.config import OomWatchConfig
    from infra.stack import OomWatchStack

    config = OomWatchConfig.from_context({"dashboard": "false", "kill_metric": "true"})
    stack = OomWatchStack(App(), "NoDashboard", config=config, code_path=LAMBDA_CODE)

    # WHEN it is synthesized
    template = assertions.Template.from_stack(stack).to_json()

    # THEN there is no dashboard and no output pointing at one; the kill metric stays on by itself
    assert resources(template, "AWS::CloudWatch::Dashboard") == {}
    assert "DashboardUrl" not in template["Outputs"]
    _, oom = function_by_handler(template, "service.handlers.oom.handler")
    assert oom["Properties"]["Environment"]["Variables"]["KILL_METRIC"] == "true"
