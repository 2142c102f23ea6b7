"""The OOMWatch stack: composes the units of ``infra`` and wires them together."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from aws_cdk import CfnOutput, CfnResource, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from agent_config.builder import AGENT_NAMESPACE
from infra.agent_rollout import HostAgentRollout
from infra.alarms import FleetAlarms, PipelineHealthAlarms
from infra.alerts import AlertTopic
from infra.chat import ChatChannels
from infra.config import OomWatchConfig
from infra.dashboard import FleetDashboard
from infra.events import EventContract
from infra.fleet_watch import FleetWatch
from infra.processing import POWERTOOLS_ENVIRONMENT, OomProcessing
from infra.queries import KillQueries
from infra.state import StateTable
from infra.syslog import OomSubscriptions, SyslogLogGroups


class OomWatchStack(Stack):
    """Alerts on Linux OOM kills on EC2, from the host agent to the e-mail.

    Units (each in its own module of ``infra``): :class:`AlertTopic`, :class:`SyslogLogGroups`,
    :class:`HostAgentRollout`, :class:`StateTable`, :class:`FleetAlarms`, :class:`OomProcessing`,
    :class:`FleetWatch`, :class:`OomSubscriptions`, :class:`PipelineHealthAlarms`, :class:`KillQueries`, (setting
    ``dashboard``) :class:`FleetDashboard`, (``slack_channels``, ``teams_channels``) :class:`ChatChannels` and
    (``event_bus``, ``pagerduty_secret_arn``) :class:`EventContract`.
    The stack only passes each unit its settings from ``config`` and the attributes of the others, pins the
    logical IDs of stateful resources, and names the things users need in its outputs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: OomWatchConfig,
        code_path: Path,
        bytecode_python: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="OOMWatch: alerts on Linux OOM kills and memory pressure on EC2",
            **kwargs,
        )
        alerts = AlertTopic(self, "Alerts", emails=config.alert_emails)
        if config.slack_channels or config.teams_channels:
            ChatChannels(self, "Chat", topic=alerts.topic, slack=config.slack_channels, teams=config.teams_channels)
        syslog = SyslogLogGroups(
            self,
            "Syslog",
            retention_days=config.log_retention_days,
            existing_group_names=config.existing_log_groups,
        )
        rollout = HostAgentRollout(
            self,
            "Agent",
            log_group=syslog.log_group,
            log_mode=config.log_mode,
            log_sources=config.log_sources,
            target_all_instances=config.target_all_instances,
            target_tag_key=config.target_tag_key,
            target_tag_value=config.target_tag_value,
            agent_version=config.agent_version_parameter,
        )
        state = StateTable(self, "State")
        fleet = FleetAlarms(
            self,
            "FleetAlarms",
            memory_threshold_percent=config.memory_threshold_percent,
            memory_evaluation_periods=config.memory_evaluation_periods,
            memory_datapoints_to_alarm=config.memory_datapoints_to_alarm,
            swap_threshold_percent=config.swap_threshold_percent,
            swap_evaluation_periods=config.swap_evaluation_periods,
            swap_datapoints_to_alarm=config.swap_datapoints_to_alarm,
        )
        processing = OomProcessing(
            self,
            "Processing",
            code_path=code_path,
            bytecode_python=bytecode_python,
            architecture=config.lambda_architecture,
            memory_size_mb=config.lambda_memory_mb,
            powertools_version=config.powertools_version,
            alerts=alerts,
            state_table=state.table,
            syslog_log_groups=list(syslog.all_groups.values()),
            memory_alarm=fleet.memory_alarm,
            swap_alarm=fleet.swap_alarm,
            critical_processes=config.critical_processes_csv,
            allow_list=config.allow_list.to_json(),
            noise_window_minutes=config.noise_window_minutes,
            loop_threshold=config.loop_threshold,
            events_retention_days=config.events_retention_days,
            log_retention_days=config.log_retention_days,
            log_mode=config.log_mode,
            agent_log_group=syslog.log_group,
            kill_metric=config.kill_metric,
            sparkline=config.sparkline,
            mute_max_hours=config.mute_max_hours,
            mute_breakthrough_critical=config.mute_breakthrough_critical,
        )
        fleet_watch = FleetWatch(
            self,
            "FleetWatch",
            processing=processing,
            association=rollout.association,
            state_table=state.table,
            log_retention_days=config.log_retention_days,
            coverage_interval_minutes=config.coverage_interval_minutes,
            target_all_instances=config.target_all_instances,
            target_tag_key=config.target_tag_key,
            target_tag_value=config.target_tag_value,
        )
        # after FleetWatch: its function is one of those that put events
        events = EventContract(
            self,
            "Events",
            event_bus=config.event_bus,
            functions=list(processing.functions.values()),
            dead_letter_queue=processing.dead_letter_queue,
            pagerduty_secret_arn=config.pagerduty_secret_arn,
        )
        OomSubscriptions(
            self,
            "Subscriptions",
            log_groups=syslog.all_groups,
            function=processing.oom_function,
            # oom mode: the agent already filtered on the host; every line of a report reaches the Lambda
            patterns={"Syslog": logs.FilterPattern.all_events()} if config.log_mode == "oom" else {},
        )
        PipelineHealthAlarms(
            self,
            "PipelineAlarms",
            functions=processing.functions,
            dead_letter_queue=processing.dead_letter_queue,
            topic=alerts.topic,
        )
        KillQueries(self, "Queries", log_group=processing.events_log_group, folder=f"OOMWatch-{self.stack_name}")
        dashboard = (
            FleetDashboard(
                self,
                "Dashboard",
                events_log_group=processing.events_log_group,
                functions=processing.functions,
                dead_letter_queue=processing.dead_letter_queue,
                agent_namespace=AGENT_NAMESPACE,
                metrics_namespace=POWERTOOLS_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"],
                kill_metric=config.kill_metric,
            )
            if config.dashboard
            else None
        )

        # Resources that hold data or that users and hosts refer to keep these logical IDs whatever the
        # construct tree looks like, so refactoring never replaces them (tests/infra pins the list).
        _pin_logical_ids(
            {
                "SyslogLogGroup": syslog.log_group,
                "EventsLogGroup": processing.events_log_group,
                "AlarmNoticeLogGroup": processing.alarm_notice_log_group,
                "DigestLogGroup": processing.digest_log_group,
                "AssociationNoticeLogGroup": fleet_watch.log_group,
                "AlertTopic": alerts.topic,
                "AlertTopicKey": alerts.key,
                "DeadLetterQueue": processing.dead_letter_queue,
                "AgentConfigParameter": rollout.parameter,
                "StateTable": state.table,
            }
        )

        targets = (
            "every managed instance"
            if config.target_all_instances
            else f"instances tagged {config.target_tag_key}={config.target_tag_value}"
        )
        outputs = {
            "HostTargets": (targets, "Hosts that get the CloudWatch agent and the OOMWatch configuration"),
            "InstanceProfileName": (
                rollout.instance_profile.instance_profile_name,
                "Instance profile for new instances (agent + SSM permissions)",
            ),
            "InstanceRoleName": (rollout.instance_role.role_name, "Role inside that instance profile"),
            "AgentManagedPolicyArn": (
                rollout.managed_policy.managed_policy_arn,
                "Attach to existing instance roles (next to AmazonSSMManagedInstanceCore)",
            ),
            "AgentConfigParameterName": (rollout.parameter.parameter_name, "CloudWatch agent configuration"),
            "SyslogLogGroupName": (syslog.log_group.log_group_name, "Where the agent sends syslog/journal lines"),
            "EventsLogGroupName": (processing.events_log_group.log_group_name, "OOM kill events (saved queries)"),
            "AlertTopicArn": (alerts.topic.topic_arn, "SNS topic with every OOMWatch notification"),
            "StateTableName": (state.table.table_name, "Lambda state (noise windows, digests, mutes: oomwatch mute)"),
            "MuteMaxHours": (str(config.mute_max_hours), "The longest an oomwatch mute may last (mute_max_hours)"),
            "DeadLetterQueueUrl": (processing.dead_letter_queue.queue_url, "Events that failed after retries"),
            "MemoryAlarmName": (fleet.memory_alarm.alarm_name, "Fleet memory alarm (one contributor per instance)"),
            "SwapAlarmName": (fleet.swap_alarm.alarm_name, "Fleet swap alarm (one contributor per instance)"),
        }
        if events.bus is not None:
            outputs["EventBusName"] = (config.event_bus, "The EventBridge bus of the OOMWatch events")
        if dashboard is not None:
            outputs["DashboardUrl"] = (
                f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}#dashboards/dashboard/"
                f"{dashboard.dashboard.dashboard_name}",
                "The OOMWatch fleet dashboard (kills, top memory users, pipeline health)",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)


def _pin_logical_ids(resources: dict[str, IConstruct]) -> None:
    for logical_id, construct in resources.items():
        cast(CfnResource, construct.node.default_child).override_logical_id(logical_id)
