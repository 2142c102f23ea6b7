"""The real CDK CLI: synth in every log mode, cdk-nag clean, cfn-lint clean, one-line config errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from synth_kit import CLI_MODES, REPO, STACK, run_cdk_synth


def test_cli_synth_succeeds_in_every_log_mode(cli_assemblies: dict[str, Path]) -> None:
    for mode in CLI_MODES:
        manifest = json.loads((cli_assemblies[mode] / "manifest.json").read_text())
        assert STACK in manifest["artifacts"], mode
        description = props_of_parameter(cli_assemblies[mode])["Description"]
        assert f"log mode {mode}," in description


def props_of_parameter(outdir: Path) -> dict[str, str]:
    template = json.loads((outdir / f"{STACK}.template.json").read_text())
    properties: dict[str, str] = template["Resources"]["AgentConfigParameter"]["Properties"]
    return properties


def test_no_unacknowledged_cdk_nag_finding(cli_assemblies: dict[str, Path]) -> None:
    for mode, outdir in cli_assemblies.items():
        report = json.loads((outdir / "validation-report.json").read_text())
        assert [plugin.get("violations") for plugin in report["pluginReports"]] in ([], [[]]), mode
        messages = [
            entry
            for artifact in json.loads((outdir / "manifest.json").read_text())["artifacts"].values()
            for entries in artifact.get("metadata", {}).values()
            for entry in entries
            if entry["type"] in ("aws:cdk:error", "aws:cdk:warning")
        ]
        assert messages == [], (mode, messages)
        stderr = (outdir.parent / f"{mode}.stderr").read_text()
        assert "AwsSolutions-" not in stderr and "[Warning" not in stderr, (mode, stderr)


def test_cfn_lint_reports_nothing_on_any_template(cli_assemblies: dict[str, Path]) -> None:
    templates = [str(outdir / f"{STACK}.template.json") for outdir in cli_assemblies.values()]
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_cli_refuses_a_bad_setting_with_one_line(tmp_path: Path) -> None:
    process = run_cdk_synth(tmp_path / "out", "log_mode=bogus")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode != 0
    ours = [line for line in stderr.splitlines() if line.startswith("oomwatch:")]
    assert ours == ["oomwatch: config: log_mode=bogus: allowed values: oom, kernel, full"]
    assert "Traceback" not in stderr
    assert not (tmp_path / "out" / f"{STACK}.template.json").exists()
