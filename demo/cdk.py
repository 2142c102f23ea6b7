"""The real CDK CLI against the emulator: ``cdk synth``, ``cdk bootstrap``, ``cdk deploy``.

Synthesis needs no AWS and runs while the emulator is bootstrapped. The deploy then uses that assembly
(``--app <cdk.out>``), so the app is synthesized once.

``--method=direct`` (CreateStack/UpdateStack instead of change sets): moto 5.2 creates the resources of a
change-set deploy but never resolves the template's ``Outputs`` for a stack created from a change set, so
``cdk deploy`` would print no outputs. Direct deploys get them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from demo.emulator import ACCOUNT, REGION, Emulator

REPO = Path(__file__).resolve().parents[1]
Progress = Callable[[str], None]


class CdkError(RuntimeError):
    pass


def cdk_command() -> list[str]:
    local = REPO / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return [str(local)]
    found = shutil.which("cdk")
    if found is None:
        raise CdkError("the CDK CLI is not installed: run `make setup` (npm ci) first")
    return [found]


@dataclass
class Step:
    name: str
    seconds: float
    log: Path


def _start(args: Sequence[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [*cdk_command(), *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _finish(name: str, process: subprocess.Popen[bytes], log: Path, started: float, timeout: float) -> Step:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise CdkError(f"cdk {name} did not finish in {timeout:.0f}s; log: {log}") from None
    except BaseException:  # Ctrl-C, SIGTERM: the CLI runs in its own session, so end it here
        _kill(process)
        raise
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise CdkError(f"cdk {name} failed (exit {code}); log: {log}\n{tail}")
    return Step(name, time.monotonic() - started, log)


def synth_and_bootstrap(
    emulator: Emulator,
    out_dir: Path,
    context: dict[str, str],
    app_dir: Path = REPO,
    timeout: float = 300.0,
) -> list[Step]:
    """``cdk synth`` of the app and ``cdk bootstrap`` of the emulator's environment, side by side."""
    env = emulator.env()
    logs = emulator.workdir / "logs"
    ctx: list[str] = []
    for key, value in context.items():
        ctx += ["-c", f"{key}={value}"]
    started = time.monotonic()
    synth = _start(
        ["synth", "--quiet", "--no-notices", "--output", str(out_dir), *ctx], env, app_dir, logs / "synth.log"
    )
    # No app here: `cdk bootstrap aws://ACCOUNT/REGION` from an empty directory bootstraps without synthesizing.
    bootstrap_dir = emulator.workdir / "bootstrap"
    bootstrap_dir.mkdir(exist_ok=True)
    bootstrap = _start(
        ["bootstrap", f"aws://{ACCOUNT}/{REGION}", "--no-notices", "--ci"],
        env,
        bootstrap_dir,
        logs / "bootstrap.log",
    )
    try:
        steps = [_finish("bootstrap", bootstrap, logs / "bootstrap.log", started, timeout)]
        steps.append(_finish("synth", synth, logs / "synth.log", started, timeout))
    finally:
        for process in (synth, bootstrap):
            _kill(process)
    return steps


def deploy(emulator: Emulator, out_dir: Path, timeout: float = 300.0) -> tuple[Step, dict[str, dict[str, str]]]:
    """``cdk deploy --all`` of the synthesized assembly; returns the step and the stack outputs."""
    logs = emulator.workdir / "logs"
    outputs_file = emulator.workdir / "outputs.json"
    started = time.monotonic()
    process = _start(
        [
            "deploy",
            "--app",
            str(out_dir),
            "--all",
            "--require-approval",
            "never",
            "--method=direct",
            "--progress",
            "events",
            "--no-notices",
            "--ci",
            "--outputs-file",
            str(outputs_file),
        ],
        emulator.env(),
        emulator.workdir,
        logs / "deploy.log",
    )
    step = _finish("deploy", process, logs / "deploy.log", started, timeout)
    outputs: dict[str, dict[str, str]] = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
    return step, outputs
