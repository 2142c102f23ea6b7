"""Demo: a configuration change reaching a host, from the real synthesized templates (the host is emulated).

The templates are the CLI synths of the three log modes (``cli_templates``); the host's agent is
:mod:`agent_config.merge_model`, driven the way the rollout's configure step drives the real one
(:mod:`demo.agent_host`).
"""

from __future__ import annotations

from typing import Any

from agent_config.builder import build_agent_config
from agent_config.merge_model import ssm_file_name
from demo.agent_host import EmulatedHost, Rollout

GROUP = "OomWatch-SyslogLogGroup-Q1w2E3r4T5y6"


def test_a_log_mode_change_reaches_the_host_and_replaces_its_configuration(cli_templates: dict[str, Any]) -> None:
    first = Rollout.from_template(cli_templates["oom"], GROUP)
    second = Rollout.from_template(cli_templates["full"], GROUP)
    assert first.parameter_name == second.parameter_name == "AmazonCloudWatch-OomWatch"
    assert first.digest != second.digest  # the association's parameters change: State Manager re-runs it

    # A host configured by an earlier OOMWatch still has a file of the old hashed name.
    host = EmulatedHost()
    host.agent.files["ssm_AmazonCloudWatch-OomWatch-0123456789ab"] = build_agent_config(
        log_group_name=GROUP, log_mode="kernel", log_sources="both"
    )
    assert host.apply(first)
    assert host.agent.running == build_agent_config(log_group_name=GROUP, log_mode="oom", log_sources="both")
    assert host.apply(first) and host.restarts == 1  # the daily run: nothing changed, no restart
    assert host.apply(second)
    assert host.agent.files == {
        ssm_file_name("AmazonCloudWatch-OomWatch"): build_agent_config(
            log_group_name=GROUP, log_mode="full", log_sources="both"
        )
    }
    assert host.agent.running == build_agent_config(log_group_name=GROUP, log_mode="full", log_sources="both")
    assert host.restarts == 2
    assert host.log == [
        "removed the old OOMWatch file ssm_AmazonCloudWatch-OomWatch-0123456789ab",
        f"configuration {first.digest} applied, agent restarted",
        f"configuration {first.digest} is current: agent left alone",
        f"configuration {second.digest} applied, agent restarted",
    ]


def test_a_host_whose_own_configuration_conflicts_says_why(cli_templates: dict[str, Any]) -> None:
    host = EmulatedHost()
    host.agent.files["file_config.json"] = {
        "metrics": {"metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}}}
    }
    assert not host.apply(Rollout.from_template(cli_templates["oom"], GROUP))
    (reason,) = host.log
    assert "/metrics/metrics_collected/mem: different values" in reason and host.agent.running is None
