"""The Lambda side of OOMWatch: three functions, their state, their failures and their triggers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, cast

import jsii
from aws_cdk import (
    Annotations,
    AssetHashType,
    BundlingOptions,
    CfnResource,
    Duration,
    ILocalBundling,
    Stack,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as lambda_destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

from agent_config.builder import AGENT_NAMESPACE
from infra.alerts import AlertTopic
from infra.bytecode import ASSET_EXCLUDES, compile_tree, stage
from infra.common import acknowledge, retention
from infra.config import Architecture, settings_table

#: The functions' Python: the Lambda runtime, the Powertools layer's build and the asset's bytecode follow it.
PYTHON_VERSION: Final = (3, 13)
#: "CloudWatch Alarm State Change" fires when an alarm as a whole changes; with one series per instance,
#: "CloudWatch Alarm Contributor State Change" is what reports the second, third, ... instance.
ALARM_EVENT_DETAIL_TYPES: Final = ("CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change")
#: Describe calls have no resource-level permissions: they need ``Resource: *``.
EC2_DESCRIBE_ACTIONS: Final = ("ec2:DescribeInstances", "ec2:DescribeInstanceTypes")
#: What each function does to the state table, from the item-family methods its handler calls
#: (``lambdas/service/dal/state/``; ``tests/infra/test_state_grants.py`` derives the same sets from the source).
#: ``Table.grant_read_write_data`` would add ``Query``, ``DescribeTable``, ``ConditionCheckItem`` and the
#: stream reads, which no handler uses. ``TransactWriteItems`` is authorized per item: its ``Put`` items
#: need ``PutItem`` (DynamoDB API permissions reference).
STATE_TABLE_ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "Oom": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"),
    "AlarmNotice": ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem"),
    "Digest": ("dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:GetItem"),
    "AssociationNotice": ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
}

PYTHON_RUNTIME: Final = lambda_.Runtime("python{}.{}".format(*PYTHON_VERSION), lambda_.RuntimeFamily.PYTHON)

POWERTOOLS_ENVIRONMENT: Final = {
    "POWERTOOLS_SERVICE_NAME": "oomwatch",
    "POWERTOOLS_METRICS_NAMESPACE": "OOMWatch",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def powertools_parameter_name(*, architecture: Architecture, version: str) -> str:
    """AWS's public SSM parameter whose value is the ARN of the Powertools v3 layer for this Region.

    Published by the Powertools maintainers per Region (``.github/workflows/update_ssm.yml`` in
    aws-powertools/powertools-lambda-python; docs: "Lambda layers", SSM Parameter Store), e.g.
    ``/aws/service/powertools/python/arm64/python3.13/3.23.0``. Only commercial Regions have it (the
    workflow writes none in ``aws-cn`` or ``aws-us-gov``), which is why ``cdk.json`` targets ``aws`` only.
    """
    python = "python{}.{}".format(*PYTHON_VERSION)
    return f"/aws/service/powertools/python/{architecture}/{python}/{version}"


@jsii.implements(ILocalBundling)
class LocalAssetBuild:
    """CDK local bundling: stage the code (without ``exclude``) and, with ``python``, compile it."""

    def __init__(self, *, source: Path, exclude: Sequence[str], python: str | None) -> None:
        self.source = source
        self.exclude = tuple(exclude)
        self.python = python

    def try_bundle(self, output_dir: str, options: BundlingOptions | None = None, **_: object) -> bool:
        """jsii calls this with CDK's bundling options, which change nothing here."""
        stage(self.source, Path(output_dir), exclude=self.exclude)
        if self.python is not None:
            compile_tree(Path(output_dir), self.python)
        return True


class OomProcessing(Construct):
    """The three OOMWatch functions, their dead-letter queue, log groups and triggers.

    Functions (one code asset: ``code_path`` without :data:`ASSET_EXCLUDES`, plus its bytecode compiled by
    ``bytecode_python``, a CPython of the runtime's version, when there is one (:mod:`infra.bytecode`);
    Python 3.13; Powertools from AWS's public layer, pinned to the release ``powertools_version``, its ARN
    read at deploy time from AWS's public SSM parameter for the stack's Region
    (:func:`powertools_parameter_name`; a ``AWS::SSM::Parameter::Value<String>`` template parameter, so
    synth needs no account); JSON logs at INFO; 2 async retries within 6 hours, then the dead-letter queue):

    * ``oom_function`` (``service.handlers.oom.handler``, 60 s): invoked by the syslog subscription filters.
      Parses the OOM lines, fetches the rest of the report (``logs:FilterLogEvents`` on the syslog
      groups only), enriches with EC2 (``ec2:DescribeInstances``/``DescribeInstanceTypes``), applies the
      noise rules kept in the state table and publishes alerts. Logs its kill events (``message`` =
      ``oom_kill``) to ``events_log_group``, which the saved queries read.
    * ``alarm_notice_function`` (``service.handlers.alarm_notice.handler``, 30 s): invoked by an EventBridge rule
      on the state changes (alarm and contributor) of the two fleet alarms; formats a readable notice
      (``cloudwatch:GetMetricData``, ``cloudwatch:DescribeAlarmContributors`` on the two alarms, EC2
      describes, state table read/write) and publishes it.
    * ``digest_function`` (``service.handlers.digest.handler``, 60 s): run every 5 minutes by an EventBridge
      schedule; sends the digests of kills held back by the noise rules (state table read/write, EC2
      describes for instance names).

    Environment (the contract with the handler code): ``TOPIC_ARN``, ``STATE_TABLE``, the Powertools
    variables; the OOM and digest functions add ``NOISE_WINDOW_MINUTES``, ``LOOP_THRESHOLD``,
    ``CRITICAL_PROCESSES`` (comma-separated) and ``ALLOW_LIST`` (JSON), the OOM function ``LOG_MODE``,
    ``SYSLOG_GROUP``, ``KILL_METRIC`` (``true``: the ``OOMKills`` metric by Auto Scaling group, setting
    ``kill_metric``) and ``SPARKLINE`` (``true``: the memory before a kill in its alert, setting ``sparkline``,
    with ``AGENT_NAMESPACE`` and ``cloudwatch:GetMetricData``); the alarm-notice function adds
    ``MEMORY_ALARM_NAME``, ``SWAP_ALARM_NAME`` and ``AGENT_NAMESPACE``. The names and encodings of those that
    carry a cdk.json key come from ``lambdas/service/models/settings_table.py``, the table the Lambda reads them with.

    Other defaults and choices:

    * One IAM role per function with exactly the permissions above, plus writing to its own log group
      (no ``AWSLambdaBasicExecutionRole``). ``sns:Publish`` comes with the topic key's ``kms:Decrypt`` and
      ``kms:GenerateDataKey*``.
    * Each function logs to a log group created here: ``events_log_group`` (retention
      ``events_retention_days``) for the OOM function, one group each (``log_retention_days``) for the
      other two. Names are generated by CloudFormation.
    * The dead-letter queue keeps messages 14 days, uses SQS-managed encryption and refuses non-TLS
      requests. It receives the functions' failed asynchronous invocations and the EventBridge rules'
      undeliverable events.

    Attributes: the three functions, ``functions`` (by short name), ``dead_letter_queue``,
    ``events_log_group``, ``alarm_notice_log_group``, ``digest_log_group``, ``alarm_rule``,
    ``digest_schedule``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_path: Path,
        architecture: Architecture,
        memory_size_mb: int,
        powertools_version: str,
        alerts: AlertTopic,
        state_table: dynamodb.ITable,
        syslog_log_groups: Sequence[logs.ILogGroup],
        memory_alarm: cloudwatch.IAlarm,
        swap_alarm: cloudwatch.IAlarm,
        critical_processes: str,
        allow_list: str,
        noise_window_minutes: int,
        loop_threshold: int,
        events_retention_days: int,
        log_retention_days: int,
        bytecode_python: str | None = None,
        log_mode: str = "oom",
        agent_log_group: logs.ILogGroup | None = None,
        kill_metric: bool = False,
        sparkline: bool = False,
        mute_max_hours: int = 72,
        mute_breakthrough_critical: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue: it receives the failed invocations of the OOMWatch functions "
            "and the undeliverable events of their EventBridge rules.",
        )
        self.events_log_group = logs.LogGroup(self, "EventsLogGroup", retention=retention(events_retention_days))
        self.alarm_notice_log_group = logs.LogGroup(
            self, "AlarmNoticeLogGroup", retention=retention(log_retention_days)
        )
        self.digest_log_group = logs.LogGroup(self, "DigestLogGroup", retention=retention(log_retention_days))
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(
                self, powertools_parameter_name(architecture=architecture, version=powertools_version)
            ),
        )
        # Bundled locally: the sources plus their bytecode for the runtime's Python (infra.bytecode), hashed
        # by content, so an asset built without bytecode never passes for one built with it.
        code = lambda_.Code.from_asset(
            str(code_path),
            exclude=list(ASSET_EXCLUDES),
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                image=PYTHON_RUNTIME.bundling_image,  # never run: the local build always succeeds
                local=LocalAssetBuild(source=code_path, exclude=ASSET_EXCLUDES, python=bytecode_python),
            ),
        )
        if bytecode_python is None:
            Annotations.of(self).add_info(
                "No CPython {}.{} found: the Lambda asset ships without bytecode, so every cold start compiles "
                "the code (docs/deploy.md, Bytecode).".format(*PYTHON_VERSION)
            )
        base_environment = {
            "TOPIC_ARN": alerts.topic.topic_arn,
            "STATE_TABLE": state_table.table_name,
            **POWERTOOLS_ENVIRONMENT,
        }
        # Names and encodings from the table the Lambda reads them with (lambdas/service/models/settings_table.py).
        noise_environment = {
            settings_table.NOISE_WINDOW.env: settings_table.NOISE_WINDOW.encode(noise_window_minutes),
            settings_table.LOOP_THRESHOLD.env: settings_table.LOOP_THRESHOLD.encode(loop_threshold),
            settings_table.CRITICAL_PROCESSES.env: critical_processes,
            settings_table.ALLOW_LIST.env: allow_list,
            settings_table.MUTE_MAX_HOURS.env: settings_table.MUTE_MAX_HOURS.encode(mute_max_hours),
        }

        roles: dict[str, iam.Role] = {}

        def function(
            name: str,
            handler: str,
            *,
            description: str,
            timeout: Duration,
            environment: Mapping[str, str],
            log_group: logs.ILogGroup,
        ) -> lambda_.Function:
            role = iam.Role(
                self,
                f"{name}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"OOMWatch {name} function",
            )
            log_group.grant_write(role)
            alerts.grant_publish(role)
            roles[name] = role
            fn = lambda_.Function(
                self,
                name,
                description=description,
                runtime=PYTHON_RUNTIME,
                architecture=lambda_.Architecture.ARM_64 if architecture == "arm64" else lambda_.Architecture.X86_64,
                handler=handler,
                code=code,
                layers=[layer],
                # 256 MB (lambda_memory_mb) and no reserved concurrency, from the storm benchmark's measurements:
                # docs/configuration.md#memory-and-concurrency-of-the-oom-function says why.
                memory_size=memory_size_mb,
                timeout=timeout,
                role=role,
                environment={**base_environment, **environment},
                log_group=log_group,
                logging_format=lambda_.LoggingFormat.JSON,
                application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
                system_log_level_v2=lambda_.SystemLogLevel.WARN,
                retry_attempts=2,
                max_event_age=Duration.hours(6),
                on_failure=lambda_destinations.SqsDestination(self.dead_letter_queue),
            )
            _depend_on_policy_only(fn, role)
            return fn

        self._function = function
        self.oom_function = function(
            "Oom",
            "service.handlers.oom.handler",
            description="OOMWatch: parses OOM kills from syslog and alerts",
            timeout=Duration.seconds(60),
            environment={
                **noise_environment,
                # log_mode=oom: the agent's group holds only OOM lines and its subscription passes all of
                # them, so split reports are joined from a stash (no FilterLogEvents); see service.logic.kills.
                settings_table.LOG_MODE.env: settings_table.LOG_MODE.encode(log_mode),
                **({"SYSLOG_GROUP": agent_log_group.log_group_name} if agent_log_group is not None else {}),
                # kill_metric: one OOMKills value per kill event, by Auto Scaling group (service.wiring).
                settings_table.KILL_METRIC.env: settings_table.KILL_METRIC.encode(kill_metric),
                # sparkline: the memory before a kill in its alert (service.logic.memory_history), read from
                # the agent's namespace.
                settings_table.SPARKLINE.env: settings_table.SPARKLINE.encode(sparkline),
                **({"AGENT_NAMESPACE": AGENT_NAMESPACE} if sparkline else {}),
                settings_table.MUTE_BREAKTHROUGH_CRITICAL.env: settings_table.MUTE_BREAKTHROUGH_CRITICAL.encode(
                    mute_breakthrough_critical
                ),
            },
            log_group=self.events_log_group,
        )
        self.alarm_notice_function = function(
            "AlarmNotice",
            "service.handlers.alarm_notice.handler",
            description="OOMWatch: turns memory/swap alarm state changes into readable notices",
            timeout=Duration.seconds(30),
            environment={
                "MEMORY_ALARM_NAME": memory_alarm.alarm_name,
                "SWAP_ALARM_NAME": swap_alarm.alarm_name,
                "AGENT_NAMESPACE": AGENT_NAMESPACE,
            },
            log_group=self.alarm_notice_log_group,
        )
        self.digest_function = function(
            "Digest",
            "service.handlers.digest.handler",
            description="OOMWatch: sends digests of the kills the noise rules held back",
            timeout=Duration.seconds(60),
            environment=noise_environment,
            log_group=self.digest_log_group,
        )
        self.functions: dict[str, lambda_.Function] = {
            "Oom": self.oom_function,
            "AlarmNotice": self.alarm_notice_function,
            "Digest": self.digest_function,
        }

        # Permissions beyond logging and publishing.
        ec2_describe = iam.PolicyStatement(actions=list(EC2_DESCRIBE_ACTIONS), resources=["*"])
        # The digest names instances in its text, so it describes them too.
        for fn in (self.oom_function, self.alarm_notice_function, self.digest_function):
            fn.add_to_role_policy(ec2_describe)
        self.oom_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["logs:FilterLogEvents"], resources=[group.log_group_arn for group in syslog_log_groups]
            )
        )
        self.alarm_notice_function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
        )
        if sparkline:  # the memory before a kill: GetMetricData has no resource-level permissions (Resource *)
            self.oom_function.add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
            )
        # Which instances are the alarm's contributors, on the two fleet alarms only.
        self.alarm_notice_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarmContributors"],
                resources=[memory_alarm.alarm_arn, swap_alarm.alarm_arn],
            )
        )
        # All three write: the OOM function its windows and claims, the digest its sent marks, the alarm
        # notice its "named this instance at" marks (so one breach is not announced twice); each only the
        # actions its handler's calls need.
        for name, fn in self.functions.items():
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=list(STATE_TABLE_ACTIONS[name]), resources=[state_table.table_arn])
            )

        # Triggers. The syslog subscription filters are wired by infra.syslog.OomSubscriptions.
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateChanges",
            description="OOMWatch: fleet memory/swap alarm and contributor state changes",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=list(ALARM_EVENT_DETAIL_TYPES),
                resources=[memory_alarm.alarm_arn, swap_alarm.alarm_arn],
            ),
            targets=[targets.LambdaFunction(self.alarm_notice_function, dead_letter_queue=self.dead_letter_queue)],
        )
        self.digest_schedule = events.Rule(
            self,
            "DigestSchedule",
            description="OOMWatch: sends pending OOM digests",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(self.digest_function, dead_letter_queue=self.dead_letter_queue)],
        )
        self._acknowledge_findings(
            {name: role.node.find_child("DefaultPolicy") for name, role in roles.items()}, syslog_log_groups
        )

    def add_function(
        self,
        name: str,
        handler: str,
        *,
        description: str,
        timeout: Duration,
        environment: Mapping[str, str],
        log_group: logs.ILogGroup,
    ) -> lambda_.Function:
        """Another function built like the three (own role, layer, JSON logs, retries, dead-letter queue), for
        units such as :class:`infra.fleet_watch.FleetWatch`. It joins ``functions``, so the pipeline-health
        alarms cover it when they are built after it. Its permissions beyond logging and publishing, and its
        cdk-nag acknowledgements, are the caller's."""
        fn = self._function(
            name, handler, description=description, timeout=timeout, environment=environment, log_group=log_group
        )
        self.functions[name] = fn
        return fn

    def _acknowledge_findings(
        self, policies: Mapping[str, IConstruct], syslog_log_groups: Sequence[logs.ILogGroup]
    ) -> None:
        for group in syslog_log_groups:
            if not Token.is_unresolved(group.log_group_name):  # an existing group, named in the settings
                acknowledge(
                    policies["Oom"],
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                    f"log-group:{group.log_group_name}:*]",
                    "logs:FilterLogEvents on one existing syslog group: ':*' is the form of a log group's ARN "
                    "(its streams), not a wildcard over groups.",
                )
        for fn in self.functions.values():
            acknowledge(
                fn,
                "AwsSolutions-L1",
                "Python 3.13 on purpose: the pinned Powertools layer (AWSLambdaPowertoolsPythonV3-python313) is "
                "built for it, the asset's bytecode is compiled for it, and the handlers are tested on it.",
            )
        # cfn-lint's list of IAM actions predates DescribeAlarmContributors (API of 2025-09, botocore 1.40.27), so
        # W3037 flags a real action; the ignore is on this one policy only.
        cast(CfnResource, policies["AlarmNotice"].node.default_child).add_metadata(
            "cfn-lint", {"config": {"ignore_checks": ["W3037"]}}
        )
        for name in ("Oom", "AlarmNotice", "Digest"):
            acknowledge(
                policies[name],
                "AwsSolutions-IAM5[Resource::*]",
                "ec2:DescribeInstances and ec2:DescribeInstanceTypes (and cloudwatch:GetMetricData for the notice "
                "function, and for the OOM function with sparkline) support no resource-level permissions, so they "
                "need Resource *; all are read-only.",
            )


def _depend_on_policy_only(fn: lambda_.Function, role: iam.Role) -> None:
    """Keep the function's ``DependsOn`` on its role's policy, drop the one on the role itself.

    CDK makes the function depend on the whole role construct, so the template says ``DependsOn`` the
    role although ``Role: {Fn::GetAtt: [role, Arn]}`` already orders it (cfn-lint W3005). The policy
    dependency is the one that matters: Lambda checks the on-failure destination's permissions when
    the invoke configuration is created.
    """
    policy = role.node.find_child("DefaultPolicy").node.default_child
    cfn_function = cast(lambda_.CfnFunction, fn.node.default_child)
    cfn_function.add_override("DependsOn", [Stack.of(fn).get_logical_id(cast(CfnResource, policy))])
