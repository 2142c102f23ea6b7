"""The CloudWatch agent configuration that OOMWatch rolls out to hosts.

`builder` renders the agent JSON for a log mode; `infra.agent_rollout` stores it in
SSM Parameter Store and applies it with State Manager.
"""

from agent_config.builder import (
    AGENT_NAMESPACE,
    FILE_PATHS,
    KERNEL_OOM_EXPRESSION,
    LOG_MODES,
    LOG_SOURCES,
    MIN_JOURNALD_AGENT_VERSION,
    OOM_EXPRESSION,
    SCHEMA_PATH,
    STANDARD_PARAMETER_LIMIT_BYTES,
    SYSTEMD_OOM_EXPRESSION,
    USERLAND_OOM_EXPRESSION,
    AgentConfigError,
    build_agent_config,
    config_digest,
    render,
    validate_against_schema,
)

__all__ = [
    "AGENT_NAMESPACE",
    "FILE_PATHS",
    "KERNEL_OOM_EXPRESSION",
    "LOG_MODES",
    "LOG_SOURCES",
    "MIN_JOURNALD_AGENT_VERSION",
    "OOM_EXPRESSION",
    "SCHEMA_PATH",
    "STANDARD_PARAMETER_LIMIT_BYTES",
    "SYSTEMD_OOM_EXPRESSION",
    "USERLAND_OOM_EXPRESSION",
    "AgentConfigError",
    "build_agent_config",
    "config_digest",
    "render",
    "validate_against_schema",
]
