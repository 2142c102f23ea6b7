"""Says when the rollout does not finish: association failure notices and the fleet coverage check."""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.common import acknowledge, retention
from infra.config import settings_table
from infra.processing import EC2_DESCRIBE_ACTIONS, STATE_TABLE_ACTIONS, OomProcessing

#: The EventBridge event State Manager sends when one host's run of an association changes state
#: (AWS Systems Manager user guide, "Amazon EventBridge event examples for Systems Manager").
ASSOCIATION_DETAIL_TYPE: Final = "EC2 State Manager Instance Association State Change"
#: Failed and TimedOut make a notice; Success closes a failure ("fixed"). Pending/InProgress are not matched.
ASSOCIATION_STATUSES: Final = ("Failed", "TimedOut", "Success")
#: Reading one association's runs: both actions take the association ARN (Service Authorization Reference,
#: Systems Manager, resource type ``association``).
ASSOCIATION_READ_ACTIONS: Final = ("ssm:DescribeAssociationExecutions", "ssm:DescribeAssociationExecutionTargets")


class FleetWatch(Construct):
    """Rollout notices and coverage: one function, one EventBridge rule, and the digest function's check.

    * ``function`` (``service.handlers.association.handler``, 30 s, built by :meth:`OomProcessing.add_function`, so
      with its own role, the dead-letter queue and the pipeline-health alarms): invoked by ``rule`` for
      OOMWatch's association only (``detail.association-id``) with status Failed, TimedOut or Success.
      Permissions: ``ssm:DescribeAssociationExecutions`` and ``ssm:DescribeAssociationExecutionTargets`` on
      that association's ARN; ``ssm:GetCommandInvocation`` (``Resource: *``: the command ids are made per run,
      there is no ARN to name in advance); ``ec2:DescribeInstances``/``DescribeInstanceTypes`` (Name tag);
      the state table (``rollout#`` items).
    * Coverage, on the digest function (``coverage_interval_minutes`` > 0): environment
      ``COVERAGE_INTERVAL_MINUTES``, ``TARGET_TAG_KEY``, ``TARGET_TAG_VALUE``, ``TARGET_ALL_INSTANCES``, and
      ``ssm:DescribeInstanceInformation`` and ``cloudwatch:GetMetricData`` (no resource-level permissions:
      ``Resource: *``). With 0, neither the grants nor the variables (but ``COVERAGE_INTERVAL_MINUTES=0``).

    Attributes: ``function``, ``log_group``, ``rule``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        processing: OomProcessing,
        association: ssm.CfnAssociation,
        state_table: dynamodb.ITable,
        log_retention_days: int,
        coverage_interval_minutes: int,
        target_all_instances: bool,
        target_tag_key: str,
        target_tag_value: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "LogGroup", retention=retention(log_retention_days))
        self.function = processing.add_function(
            "AssociationNotice",
            "service.handlers.association.handler",
            description="OOMWatch: notices when the agent rollout fails (or recovers) on a host",
            timeout=Duration.seconds(30),
            environment={"ROLLOUT_ASSOCIATION_ID": association.attr_association_id},
            log_group=self.log_group,
        )
        association_arn = (
            f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:association/{association.attr_association_id}"
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(ASSOCIATION_READ_ACTIONS), resources=[association_arn])
        )
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetCommandInvocation"], resources=["*"]))
        self.function.add_to_role_policy(iam.PolicyStatement(actions=list(EC2_DESCRIBE_ACTIONS), resources=["*"]))
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(STATE_TABLE_ACTIONS["AssociationNotice"]), resources=[state_table.table_arn]
            )
        )
        self.rule = events.Rule(
            self,
            "AssociationStateChanges",
            description="OOMWatch: its agent rollout association failed or succeeded on a host",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=[ASSOCIATION_DETAIL_TYPE],
                detail={"association-id": [association.attr_association_id], "status": list(ASSOCIATION_STATUSES)},
            ),
            targets=[targets.LambdaFunction(self.function, dead_letter_queue=processing.dead_letter_queue)],
        )

        digest = processing.digest_function
        table = settings_table
        digest.add_environment(table.COVERAGE_INTERVAL.env, table.COVERAGE_INTERVAL.encode(coverage_interval_minutes))
        if coverage_interval_minutes > 0:
            digest.add_environment(table.TARGET_TAG_KEY.env, table.TARGET_TAG_KEY.encode(target_tag_key))
            digest.add_environment(table.TARGET_TAG_VALUE.env, table.TARGET_TAG_VALUE.encode(target_tag_value))
            digest.add_environment(
                table.TARGET_ALL_INSTANCES.env, table.TARGET_ALL_INSTANCES.encode(target_all_instances)
            )
            digest.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ssm:DescribeInstanceInformation", "cloudwatch:GetMetricData"], resources=["*"]
                )
            )

        role = self.function.role
        assert role is not None
        policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ssm:GetCommandInvocation (command ids are made per run), ec2:DescribeInstances and "
            "ec2:DescribeInstanceTypes support no resource-level permissions; all are read-only.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Python 3.13 on purpose: the pinned Powertools layer (AWSLambdaPowertoolsPythonV3-python313) is "
            "built for it, and the handlers are tested on it.",
        )
