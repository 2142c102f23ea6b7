"""Fixtures for the CDK stack tests: each app variant is synthesized once per test session.

* ``cli_assemblies``: the real CDK CLI (``node_modules/.bin/cdk synth``) with the defaults and with each
  other log mode, run in parallel once per session. Under pytest-xdist the workers share one result
  through a lock file in the session's common temporary directory.
* ``variant_template``: one in-process synth (``app.build_app``) with every non-default setting the
  template tests look at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from synth_kit import CLI_MODES, STACK, VARIANT, context_with, run_cdk_synth

from tests.support.locks import exclusive

# The jsii runtime prints a banner about Node 20 when aws_cdk is first imported; silence it here too.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory all xdist workers of this session share (the session's own directory without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def cli_assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """log mode → cloud assembly directory written by ``cdk synth`` through the CDK CLI."""
    shared = _shared_dir(tmp_path_factory)
    root = shared / "oomwatch-cli-synth"
    with exclusive(shared / "oomwatch-cli-synth.lock"):
        if not (root / "done").exists():
            root.mkdir(exist_ok=True)
            runs = {
                mode: run_cdk_synth(root / mode, *([] if mode == "oom" else [f"log_mode={mode}"])) for mode in CLI_MODES
            }
            failures = []
            for mode, process in runs.items():
                stdout, stderr = process.communicate(timeout=600)
                (root / f"{mode}.stderr").write_text(stderr)
                if process.returncode != 0:
                    failures.append(f"cdk synth ({mode}) exited {process.returncode}:\n{stdout}\n{stderr}")
            if failures:
                pytest.fail("\n\n".join(failures))
            (root / "done").touch()
    return {mode: root / mode for mode in CLI_MODES}


@pytest.fixture(scope="session")
def cli_templates(cli_assemblies: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {
        mode: json.loads((outdir / f"{STACK}.template.json").read_text()) for mode, outdir in cli_assemblies.items()
    }


@pytest.fixture(scope="session")
def template(cli_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The default stack's template, from the CLI synth."""
    return cli_templates["oom"]


@pytest.fixture(scope="session")
def variant_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The template with :data:`VARIANT` settings, synthesized in-process (cdk-nag included), once per session."""
    shared = _shared_dir(tmp_path_factory)
    saved = shared / "oomwatch-variant.template.json"
    with exclusive(shared / "oomwatch-variant.lock"):
        if not saved.exists():
            from app import build_app

            app, stack = build_app(context_with(VARIANT), outdir=str(shared / "oomwatch-variant.out"))
            template = app.synth().get_stack_by_name(stack.stack_name).template
            saved.write_text(json.dumps(template))
    loaded: dict[str, Any] = json.loads(saved.read_text())
    return loaded
