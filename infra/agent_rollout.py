"""Rolling the CloudWatch agent and its OOMWatch configuration out to the hosts, with SSM."""

from __future__ import annotations

from typing import Any, Final, cast

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from agent_config.builder import (
    AGENT_NAMESPACE,
    MIN_JOURNALD_AGENT_VERSION,
    STANDARD_PARAMETER_LIMIT_BYTES,
    AgentConfigError,
    LogMode,
    LogSources,
    build_agent_config,
    check_expressions,
    config_digest,
    render,
    validate_against_schema,
    worst_case_size,
)
from infra.common import acknowledge

#: CloudWatchAgentServerPolicy lets instances read only parameters whose name starts with this.
PARAMETER_PREFIX: Final = "AmazonCloudWatch-"
INSTALL_DOCUMENT: Final = "AWS-ConfigureAWSPackage"
AGENT_PACKAGE: Final = "AmazonCloudWatchAgent"

#: The agent's configuration directory and its version file (``packaging/dependencies/amazon-cloudwatch-agent-ctl``).
AGENT_CONFIG_DIR: Final = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d"
AGENT_CTL: Final = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
AGENT_VERSION_FILE: Final = "/opt/aws/amazon-cloudwatch-agent/bin/CWAGENT_VERSION"

#: One association runs the rollout document daily: a host whose run failed heals the next day, and a
#: run on a host whose configuration is current changes nothing (no agent restart; see the script).
ROLLOUT_SCHEDULE: Final = "rate(1 day)"
#: At most a quarter of the targets restart their agent at once; a failing host never stops the rollout.
MAX_CONCURRENCY: Final = "25%"
MAX_ERRORS: Final = "100%"
#: Hashed parameter names of OOMWatch before the fixed name: ``AmazonCloudWatch-<stack>-<12 hex digits>``.
OLD_DIGEST_LENGTH: Final = 12
#: The rollout document's parameters, set by the association: the configuration's digest (the log group's
#: name is a deploy-time token, so the digest leaves it out) and the log group's name. A change of either
#: changes the association's parameters, and State Manager re-runs it on every target.
DIGEST_PARAMETER: Final = "configDigest"
GROUP_PARAMETER: Final = "logGroupName"


def parameter_name(stack_name: str) -> str:
    """The fixed SSM parameter name of a stack's agent configuration.

    Fixed, so the agent's file for it (``ssm_<name>``, ``tool/downloader/downloader.go``) is the same on
    every run and ``append-config`` *replaces* it (``translator/cmdutil/translatorutil.go``: the new
    ``.tmp`` file overrides its base name).
    """
    return f"{PARAMETER_PREFIX}{stack_name}"


#: Lets the agent read the journal and the syslog files when it runs as ``cwagent`` (an existing agent
#: configuration may say ``run_as_user: cwagent``; OOMWatch's own configuration leaves the user alone, so
#: a host without one runs the agent as root). Idempotent; restarts the agent only when a group was added.
GRANT_LOG_ACCESS_SCRIPT: Final = (
    "# OOMWatch: let the CloudWatch agent read the journal and syslog files when it runs as cwagent.",
    "if id cwagent >/dev/null 2>&1; then",
    "  for group in systemd-journal adm; do",
    '    if getent group "$group" >/dev/null && ! id -nG cwagent | tr " " "\\n" | grep -qx "$group"; then',
    '      usermod -aG "$group" cwagent && changed=1 && echo "added cwagent to $group"',
    "    fi",
    "  done",
    "  if [ -f /var/log/messages ] && command -v setfacl >/dev/null 2>&1; then",
    "    setfacl -m u:cwagent:r /var/log/messages && echo 'cwagent may read /var/log/messages'",
    "  fi",
    "fi",
)


def configure_script(*, stack_name: str, minimum_version: tuple[int, int, int] | None) -> tuple[str, ...]:
    """The rollout document's second step: clean up, check the agent, configure only when needed.

    POSIX sh, as ``aws:runShellScript`` runs it. In order:

    1. the agent must be installed (the first step installs it; if that failed, say so);
    2. with journald in the configuration, the installed agent must be ``minimum_version`` or later
       (``CWAGENT_VERSION`` holds e.g. ``1.300071.0b1720``; the build suffix is ignored);
    3. remove the files of the old hashed parameter names ``AmazonCloudWatch-<stack>-<12 hex>``: the
       ``configure (remove)`` action cannot do it, it fails on a host that never had that file
       (``os.Remove`` in ``tool/downloader/downloader.go``);
    4. grant the ``cwagent`` user read access to the logs (:data:`GRANT_LOG_ACCESS_SCRIPT`);
    5. run ``append-config`` of the fixed parameter and restart the agent only if something changed: the
       digest and log group on record differ from the document's ``configDigest`` and ``logGroupName``
       parameters (the association's), the agent's file for the parameter is missing, a file was removed, a group
       was added, or the agent is not running. Otherwise the run ends without touching the agent.
    """
    name = parameter_name(stack_name)
    marker = f"/opt/aws/amazon-cloudwatch-agent/etc/oomwatch-{stack_name}.digest"
    stale_glob = f"ssm_{name}-" + "[0-9a-f]" * OLD_DIGEST_LENGTH
    lines = [
        "#!/bin/sh",
        "# OOMWatch: configure the CloudWatch agent from the stack's SSM parameter, only when needed.",
        "set -u",
        f"DIR={AGENT_CONFIG_DIR}",
        f"CTL={AGENT_CTL}",
        f"MARKER={marker}",
        f"DIGEST='{{{{ {DIGEST_PARAMETER} }}}}'",
        f"GROUP='{{{{ {GROUP_PARAMETER} }}}}'",
        'RECORD="$DIGEST $GROUP"',
        "changed=0",
        'if [ ! -x "$CTL" ]; then',
        "  echo 'OOMWatch: the CloudWatch agent is not installed: the installAgent step failed (see its output)' >&2",
        "  exit 1",
        "fi",
    ]
    if minimum_version is not None:
        minimum = ".".join(str(part) for part in minimum_version)
        lines += [
            f"VERSION=$(cat {AGENT_VERSION_FILE} 2>/dev/null || echo unknown)",
            'BASE=$(printf "%s" "$VERSION" | sed "s/[^0-9.].*//")',
            f'if [ -z "$BASE" ] || [ "$(printf "%s\\n%s\\n" {minimum} "$BASE" | sort -t. -k1,1n -k2,2n -k3,3n'
            f' | head -n1)" != {minimum} ]; then',
            f'  echo "OOMWatch: CloudWatch agent $VERSION is older than {minimum}, which journald collection needs.'
            " Fix: set agent_version to latest (or a release from the fleet's region), or log_sources=files.\" >&2",
            "  exit 1",
            "fi",
        ]
    lines += [
        'for f in "$DIR"/*; do',
        '  case "$(basename "$f")" in',
        f'    {stale_glob}) rm -f "$f" && changed=1 && echo "removed the old OOMWatch file $f";;',
        "  esac",
        "done",
        *GRANT_LOG_ACCESS_SCRIPT,
        f'[ -f "$DIR/ssm_{name}" ] || changed=1',
        '[ "$(cat "$MARKER" 2>/dev/null)" = "$RECORD" ] || changed=1',
        "systemctl is-active --quiet amazon-cloudwatch-agent || changed=1",
        'if [ "$changed" = 0 ]; then echo "OOMWatch configuration $DIGEST is current: agent left alone"; exit 0; fi',
        f'if ! OUT=$("$CTL" -a append-config -m ec2 -c ssm:{name} -s 2>&1); then',
        '  printf "%s\\n" "$OUT"',
        f'  echo "OOMWatch: the agent refused configuration {name} (see above). If it says Different values are'
        " specified, this host's own agent configuration sets the same key differently: see OOMWatch's"
        ' docs/configuration.md (Hosts with their own agent configuration)." >&2',
        "  exit 1",
        "fi",
        'printf "%s\\n" "$OUT"',
        'printf "%s" "$RECORD" > "$MARKER"',
        'echo "OOMWatch configuration $DIGEST applied"',
    ]
    return tuple(lines)


def rollout_document(
    *, stack_name: str, agent_version: str | None, minimum_version: tuple[int, int, int] | None
) -> dict[str, Any]:
    """One Command document: install the agent, then configure it (steps run in order, schema 2.2).

    Order-safe on a new instance: a single association runs both steps, so configure never runs before
    install (two associations are not ordered on an instance; ``DependsOn`` orders only their creation).
    """
    install_parameters: dict[str, str] = {"action": "Install", "name": AGENT_PACKAGE}
    if agent_version is not None:
        install_parameters["version"] = agent_version
    return {
        "schemaVersion": "2.2",
        "description": "OOMWatch: install the CloudWatch agent, then apply the OOMWatch configuration",
        "parameters": {
            DIGEST_PARAMETER: {
                "type": "String",
                "description": "Digest of the OOMWatch agent configuration (a change re-runs the association)",
                "allowedPattern": "^[0-9a-f]{1,64}$",
            },
            GROUP_PARAMETER: {
                "type": "String",
                "description": "The syslog log group the configuration ships to (a change re-runs the association)",
                "allowedPattern": "^[A-Za-z0-9_./#-]{1,512}$",
            },
        },
        "mainSteps": [
            {
                "action": "aws:runDocument",
                "name": "installAgent",
                "precondition": {"StringEquals": ["platformType", "Linux"]},
                "inputs": {
                    "documentType": "SSMDocument",
                    "documentPath": INSTALL_DOCUMENT,
                    "documentParameters": install_parameters,
                },
            },
            {
                "action": "aws:runShellScript",
                "name": "configureAgent",
                "precondition": {"StringEquals": ["platformType", "Linux"]},
                "inputs": {
                    "timeoutSeconds": "600",
                    "runCommand": list(configure_script(stack_name=stack_name, minimum_version=minimum_version)),
                },
            },
        ],
    }


class HostAgentRollout(Construct):
    """The agent configuration in Parameter Store, one State Manager association, and instance IAM.

    * ``parameter``: a Standard-tier String parameter with the fixed name ``AmazonCloudWatch-<stack>``
      (:func:`parameter_name`) holding the minified configuration from :mod:`agent_config.builder`. The
      prefix is what the AWS-managed ``CloudWatchAgentServerPolicy`` may read. Synth fails if the
      configuration, with the longest log group name CloudFormation can generate, exceeds the 4 KB Standard
      tier, or if it violates the agent's JSON schema.
    * ``document``: the rollout Command document (:func:`rollout_document`): ``aws:runDocument`` of
      ``AWS-ConfigureAWSPackage`` (``agent_version``; None = latest), then the configure script
      (:func:`configure_script`).
    * ``association``: runs the document on the targets at creation, on every new target instance, daily,
      and whenever its parameters change: its ``configDigest`` parameter is the configuration's digest
      and ``logGroupName`` the log group's name, so a changed configuration re-applies at once.
      ``append-config`` of the fixed name replaces the host's OOMWatch file and keeps the host's own files.
    * Targets: the hosts tagged ``target_tag_key`` = ``target_tag_value`` (default ``oomwatch:enabled`` =
      ``true``), or every managed instance (``InstanceIds`` = ``*``) with ``target_all_instances``; 25 % of
      the targets at a time, errors never stop the rollout.
    * ``instance_role`` / ``instance_profile``: for new instances; ``CloudWatchAgentServerPolicy`` and
      ``AmazonSSMManagedInstanceCore``.
    * ``managed_policy``: for roles that already exist (attach it next to
      ``AmazonSSMManagedInstanceCore``): read this parameter, write to the syslog group, publish
      ``CWAgent`` metrics. Nothing else: no ``ec2:DescribeTags``, which the agent calls only from its
      ``ec2tagger`` processor, and the translator adds that processor only for the global
      ``metrics.append_dimensions`` (``translator/translate/otel/processor/ec2taggerprocessor``), which
      OOMWatch's configuration never sets (its ``InstanceId`` comes from instance metadata per section).

    Names of the document, role, profile, policy and association are generated by CloudFormation.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group: logs.ILogGroup,
        log_mode: LogMode,
        log_sources: LogSources,
        target_all_instances: bool,
        target_tag_key: str,
        target_tag_value: str,
        agent_version: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.agent_config = build_agent_config(
            log_group_name=log_group.log_group_name, log_mode=log_mode, log_sources=log_sources
        )
        check_expressions(self.agent_config)
        validate_against_schema(self.agent_config)
        size = worst_case_size(log_mode=log_mode, log_sources=log_sources)
        if size > STANDARD_PARAMETER_LIMIT_BYTES:
            raise AgentConfigError(
                f"agent configuration is {size} bytes, more than the {STANDARD_PARAMETER_LIMIT_BYTES} "
                "a Standard SSM parameter holds"
            )
        stack_name = Stack.of(self).stack_name
        self.digest = config_digest(log_mode=log_mode, log_sources=log_sources)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=parameter_name(stack_name),
            string_value=render(self.agent_config),
            tier=ssm.ParameterTier.STANDARD,
            description=f"OOMWatch CloudWatch agent configuration (log mode {log_mode}, sources {log_sources})",
        )

        journald = log_sources in ("both", "journald")
        self.document = ssm.CfnDocument(
            self,
            "RolloutDocument",
            document_type="Command",
            # JSON is CloudFormation's default; said explicitly because moto's emulation requires it.
            document_format="JSON",
            content=rollout_document(
                stack_name=stack_name,
                agent_version=agent_version,
                minimum_version=MIN_JOURNALD_AGENT_VERSION if journald else None,
            ),
        )
        if target_all_instances:
            target = ssm.CfnAssociation.TargetProperty(key="InstanceIds", values=["*"])
        else:
            target = ssm.CfnAssociation.TargetProperty(key=f"tag:{target_tag_key}", values=[target_tag_value])
        self.association = ssm.CfnAssociation(
            self,
            "Rollout",
            name=self.document.ref,
            parameters={DIGEST_PARAMETER: [self.digest], GROUP_PARAMETER: [log_group.log_group_name]},
            targets=[target],
            schedule_expression=ROLLOUT_SCHEDULE,
            max_concurrency=MAX_CONCURRENCY,
            max_errors=MAX_ERRORS,
        )
        # The parameter must exist before the first host fetches it.
        self.association.add_dependency(cast(CfnResource, self.parameter.node.default_child))

        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="OOMWatch: EC2 instances running the CloudWatch agent, managed by SSM",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy"),
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore"),
            ],
        )
        for policy in ("CloudWatchAgentServerPolicy", "AmazonSSMManagedInstanceCore"):
            acknowledge(
                self.instance_role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                f"{policy} is the AWS-managed policy AWS documents for the CloudWatch agent with SSM; "
                "roles that need less use the OOMWatch managed policy instead.",
            )
        self.instance_profile = iam.InstanceProfile(self, "InstanceProfile", role=self.instance_role)

        self.managed_policy = iam.ManagedPolicy(
            self,
            "AgentPolicy",
            description="OOMWatch: what the CloudWatch agent needs on hosts whose role already exists",
            statements=[
                iam.PolicyStatement(
                    sid="ReadAgentConfiguration", actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn]
                ),
                iam.PolicyStatement(
                    sid="WriteSyslog",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="PublishAgentMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": AGENT_NAMESPACE}},
                ),
            ],
        )
        acknowledge(
            self.managed_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData supports no resource-level permissions; it is limited to the CWAgent "
            "namespace by condition.",
        )
