"""Slack and Microsoft Teams channels for the alert topic, through Amazon Q Developer in chat applications
(formerly AWS Chatbot).

CloudFormation: ``AWS::Chatbot::SlackChannelConfiguration`` (SlackWorkspaceId, SlackChannelId) and
``AWS::Chatbot::MicrosoftTeamsChannelConfiguration`` (TeamId, TeamsChannelId, TeamsTenantId), each with
ConfigurationName, IamRoleArn, SnsTopicArns, GuardrailPolicies, LoggingLevel and UserRoleRequired (the resource
schemas cfn-lint ships: GuardrailPolicies defaults to ``AdministratorAccess``, LoggingLevel to ``NONE``). The
service subscribes each configuration to the topic over HTTPS itself; the messages it renders are the topic's
``https`` form (``lambdas/service/logic/chat.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from aws_cdk import Aws, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import SlackChannel, TeamsChannel

#: The ceiling of what anyone may do from the channel, whatever role is used (a guardrail is intersected with
#: the channel role, and with a user's role when those are allowed): read CloudWatch, nothing else.
GUARDRAIL_POLICY: Final = "CloudWatchReadOnlyAccess"
LOGGING_LEVEL: Final = "ERROR"


class ChatChannels(Construct):
    """One channel configuration per Slack and per Teams channel, all subscribed to the alert topic.

    Least privilege:

    * One channel role for all of them, trusted by ``chatbot.amazonaws.com``, with **no permissions**: custom
      notifications need none (the service reads the topic through its own subscription), so nothing can be
      run from the channel. To allow commands later, add policies to this role: the guardrail still caps them.
    * Guardrail: the AWS managed ``CloudWatchReadOnlyAccess`` (not CloudFormation's default,
      ``AdministratorAccess``).
    * ``UserRoleRequired`` false: every member acts as the channel role (no permissions), never with a role of
      their own choosing.
    * Logging level ERROR: delivery errors reach CloudWatch Logs, message contents do not.

    Names: ``<stack>-<Region>-slack-<channel id>`` and ``<stack>-<Region>-teams-<hash of team, channel and
    tenant>`` (a Teams id has ``%``, which the name may not), so reordering the settings replaces nothing.
    With no channel the construct is not built (``infra/stack.py``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        slack: Sequence[SlackChannel],
        teams: Sequence[TeamsChannel],
    ) -> None:
        super().__init__(scope, construct_id)
        # Channel configurations are global to the account (their ARNs have no Region): the Region keeps two
        # deployments of one stack name apart.
        prefix = f"{Stack.of(self).stack_name}-{Aws.REGION}"
        self.role = iam.Role(
            self,
            "ChannelRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="OOMWatch chat channels: notifications only, no permissions",
        )
        guardrails = [iam.ManagedPolicy.from_aws_managed_policy_name(GUARDRAIL_POLICY).managed_policy_arn]
        self.configurations: list[chatbot.CfnSlackChannelConfiguration | chatbot.CfnMicrosoftTeamsChannelConfiguration]
        self.configurations = []
        for channel in slack:
            self.configurations.append(
                chatbot.CfnSlackChannelConfiguration(
                    self,
                    f"Slack{channel.channel_id}",
                    configuration_name=f"{prefix}-slack-{channel.channel_id}",
                    slack_workspace_id=channel.workspace_id,
                    slack_channel_id=channel.channel_id,
                    iam_role_arn=self.role.role_arn,
                    sns_topic_arns=[topic.topic_arn],
                    guardrail_policies=guardrails,
                    logging_level=LOGGING_LEVEL,
                    user_role_required=False,
                )
            )
        for team in teams:
            key = hashlib.sha256(f"{team.team_id}|{team.channel_id}|{team.tenant_id}".encode()).hexdigest()
            self.configurations.append(
                chatbot.CfnMicrosoftTeamsChannelConfiguration(
                    self,
                    f"Teams{key[:16]}",
                    configuration_name=f"{prefix}-teams-{key[:16]}",
                    team_id=team.team_id,
                    teams_channel_id=team.channel_id,
                    teams_tenant_id=team.tenant_id,
                    iam_role_arn=self.role.role_arn,
                    sns_topic_arns=[topic.topic_arn],
                    guardrail_policies=guardrails,
                    logging_level=LOGGING_LEVEL,
                    user_role_required=False,
                )
            )
