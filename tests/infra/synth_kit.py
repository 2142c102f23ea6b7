"""Settings and the CDK CLI for the stack tests (shared by conftest.py and the test modules)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CDK = REPO / "node_modules" / ".bin" / "cdk"
STACK = "OomWatch"
CLI_MODES = ("oom", "kernel", "full")  # "oom" is the default: synthesized without -c
#: A bad setting: ``app.py`` exits 2; the CDK CLI reports that and exits 1 (docs/configuration.md says both).
APP_CONFIG_ERROR_STATUS = 2
CDK_CLI_ERROR_STATUS = 1

#: Every setting the template tests compare against its default, changed at once.
VARIANT: dict[str, Any] = {
    "stack_name": "OomWatchVariant",
    "alert_emails": "oncall@example.com,team-memory@example.org",
    "target_all_instances": "true",
    "log_sources": "files",
    "agent_version": "1.300071.0b1720",
    "memory_threshold_percent": "85",
    "memory_evaluation_periods": "10",
    "memory_datapoints_to_alarm": "8",
    "swap_threshold_percent": "75",
    "swap_evaluation_periods": "3",
    "swap_datapoints_to_alarm": "2",
    "log_retention_days": "14",
    "events_retention_days": "731",
    "existing_log_groups": "/legacy/syslog,/var/log/messages",
    "lambda_architecture": "x86_64",
    "lambda_memory_mb": "512",
    "powertools_version": "3.24.0",
    "critical_processes": "java,postgres,php-fpm*",
    "allow_list": '{"processes": ["stress-ng*"], "units": ["batch-*.service"], "tags": {"oom-expected": "true"}}',
    "noise_window_minutes": "30",
    "loop_threshold": "7",
    "kill_metric": "true",  # the opt-ins on (both default off)
    "sparkline": "true",
    "coverage_interval_minutes": "0",
}


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return context


def context_with(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``cdk.json`` context plus ``-c``-style overrides, as the CLI hands it to the app."""
    return {**cdk_json_context(), **overrides}


def cli_env() -> dict[str, str]:
    return {
        **os.environ,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }


def run_cdk_synth(outdir: Path, *context: str) -> subprocess.Popen[str]:
    args = [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(outdir)]
    for item in context:
        args += ["--context", item]
    return subprocess.Popen(args, cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def synth_in_process(overrides: Mapping[str, Any], outdir: Path) -> tuple[dict[str, Any], Path]:
    """``cdk.json`` plus ``overrides`` synthesized by ``app.build_app`` (cdk-nag fails the synth on a finding): the
    template, and the path of the file the synth wrote (for cfn-lint)."""
    from app import build_app

    app, stack = build_app(context_with(overrides), outdir=str(outdir))
    assembly = app.synth()
    template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return template, outdir / f"{stack.stack_name}.template.json"
