"""cdk-nag really runs: a deliberately non-compliant construct fails the synth, an acknowledged one passes."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks

from infra.common import acknowledge


def throwaway_app(outdir: Path, *, acknowledged: bool) -> cdk.App:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Throwaway")
    topic = sns.Topic(stack, "PlainTopic")  # no KMS key, no TLS-only policy
    if acknowledged:
        acknowledge(topic, "AwsSolutions-SNS3", "Throwaway topic in a test, proving acknowledgements work.")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def test_a_non_compliant_topic_fails_the_synth(tmp_path: Path) -> None:
    with pytest.raises(
        RuntimeError, match="ValidationFailed: ERROR The SNS Topic does not require publishers to use SSL"
    ):
        throwaway_app(tmp_path, acknowledged=False).synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = {
        violation["ruleName"]: [c["constructPath"] for c in violation["violatingConstructs"]]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert violations["AwsSolutions-SNS3"] == ["Throwaway/PlainTopic/Resource"]
    assert {v["severity"] for p in report["pluginReports"] for v in p["violations"]} == {"error"}


def test_an_acknowledged_finding_passes(tmp_path: Path) -> None:
    assembly = throwaway_app(tmp_path, acknowledged=True).synth()
    assert assembly.get_stack_by_name("Throwaway").template["Resources"]
