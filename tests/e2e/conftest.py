"""One deployed emulator for the whole test run, shared by the pytest-xdist workers.

The first worker to need it starts moto_server and runs the real ``cdk bootstrap``/``cdk deploy``; the
others attach to it (state file under a lock). Every worker counts itself in and out; the last one out
stops the emulator's process group, so nothing is left running.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo import emulator
from demo.fleet import Host
from demo.pipeline import Demo
from tests.support.locks import exclusive


def _read(path: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        return state
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist each worker's basetemp is a child of the run's; without it, the run's own.
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "oomwatch-e2e"
    root.mkdir(exist_ok=True)
    lock, state_file = root / "lock", root / "state.json"
    with exclusive(lock):
        state = _read(state_file)
        if state is not None and emulator.process_group_alive(int(state["demo"]["emulator"]["pid"])):
            demo = Demo.attach(state["demo"], local_dir=tmp_path_factory.mktemp("lambda"))
            state["users"] += 1
        else:
            workdir = root / f"deployment-{secrets.token_hex(3)}"
            demo = Demo(workdir=workdir)
            demo.up()
            state = {"demo": demo.shared_state(), "users": 1}
        state_file.write_text(json.dumps(state))
    try:
        yield demo
    finally:
        if demo.runtime is not None:
            demo.runtime.close()
        with exclusive(lock):
            state = _read(state_file) or {"users": 1, "demo": demo.shared_state()}
            state["users"] -= 1
            state_file.write_text(json.dumps(state))
            if state["users"] <= 0:
                demo.aws.stop()  # the starting process: its own child
                emulator.stop_group(int(state["demo"]["emulator"]["pid"]))


def new_instance_id() -> str:
    return "i-0" + secrets.token_hex(8)


def seed(demo: Demo, name: str, instance_type: str = "t3.medium", asg: str | None = None) -> str:
    instance_id = new_instance_id()
    demo.seed([Host(instance_id, name, instance_type, asg)])
    return instance_id


@pytest.fixture
def seeded(deployment: Demo) -> Any:
    """``seeded(name, instance_type, asg)``: a fresh instance in the emulator (in a fresh ASG, as the noise
    rules fold kills per ASG and tests share the deployment); returns its id."""

    def make(name: str, instance_type: str = "t3.medium", asg: str | None = None) -> str:
        return seed(deployment, name, instance_type, f"{asg}-{secrets.token_hex(3)}" if asg else None)

    return make
