"""A bad setting through the real CDK CLI: our one line, CDK's one line, exit status 1 (issue 11).

The CLI runs ``app.py`` without the Makefile's environment, so the jsii variables are removed here: the app
itself must keep the jsii runtime's Node-version banner off stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from synth_kit import APP_CONFIG_ERROR_STATUS, CDK, CDK_CLI_ERROR_STATUS, REPO, context_with

pytestmark = pytest.mark.slow

#: What the CDK CLI prints when the app exits non-zero (toolkit-lib ``private/exec.ts``); it then exits 1.
CDK_LINE = (
    f"{json.loads((REPO / 'cdk.json').read_text())['app']}: Subprocess exited with error {APP_CONFIG_ERROR_STATUS}"
)


def plain_env() -> dict[str, str]:
    """The caller's environment without any jsii switch (as in a fresh shell), CDK's network checks off."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JSII_")}
    return {**env, "CDK_DISABLE_VERSION_CHECK": "1"}


def cdk_synth(outdir: Path, *context: str) -> subprocess.Popen[str]:
    """``npx cdk synth -c ...`` as docs/deploy.md has it (no ``--quiet``); notices off, they need the network."""
    args = [str(CDK), "synth", "--no-notices", "--output", str(outdir)]
    for item in context:
        args += ["-c", item]
    return subprocess.Popen(args, cwd=REPO, env=plain_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


CASES = {
    "unknown key": (
        "alert_email=oncall@example.com",
        "oomwatch: config: alert_email: unknown setting (did you mean alert_emails?)",
    ),
    "nested value": (
        'allow_list={"processes": 3}',
        "oomwatch: config: allow_list.processes=3: expected a list or comma-separated values",
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str, Path]]:
    """Each case through the CLI, in parallel: name → (exit status, stdout, stderr, output directory)."""
    root = tmp_path_factory.mktemp("config-cli")
    started = {name: (cdk_synth(root / name, setting), root / name) for name, (setting, _) in CASES.items()}
    results = {}
    for name, (process, outdir) in started.items():
        stdout, stderr = process.communicate(timeout=600)
        results[name] = (process.returncode, stdout, stderr, outdir)
    return results


@pytest.mark.parametrize("name", CASES)
def test_cdk_synth_prints_our_line_then_cdks_and_exits_1(
    runs: dict[str, tuple[int, str, str, Path]], name: str
) -> None:
    status, stdout, stderr, outdir = runs[name]
    assert stderr.splitlines() == [CASES[name][1], CDK_LINE]
    assert (status, stdout) == (CDK_CLI_ERROR_STATUS, "")
    assert not list(outdir.glob("*.template.json"))


def test_app_alone_exits_2_with_one_line(tmp_path: Path) -> None:
    """``app.py`` as the CLI starts it (context in ``CDK_CONTEXT_JSON``), without the CLI around it."""
    env = {
        **plain_env(),
        "CDK_CONTEXT_JSON": json.dumps(context_with({"alert_email": "oncall@example.com"})),
        "CDK_OUTDIR": str(tmp_path),
    }
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "app.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert (result.returncode, result.stdout) == (APP_CONFIG_ERROR_STATUS, "")
    assert result.stderr == "oomwatch: config: alert_email: unknown setting (did you mean alert_emails?)\n"
