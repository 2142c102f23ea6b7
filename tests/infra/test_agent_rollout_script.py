"""The rollout document's configure step, run by ``sh`` against a fake agent in a temporary directory.

It must configure a new host, leave a current host's agent alone (no daily restart), re-apply a changed
configuration, delete the files of the old hashed parameter names, and fail with a readable message when
the agent is missing, too old for journald, or refuses the configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_config.builder import MIN_JOURNALD_AGENT_VERSION
from infra.agent_rollout import (
    AGENT_CONFIG_DIR,
    AGENT_CTL,
    AGENT_VERSION_FILE,
    configure_script,
    parameter_name,
    rollout_document,
)

STACK = "OomWatch"
NAME = parameter_name(STACK)

FAKE_CTL = """#!/bin/sh
echo "$@" >> "$CALLS"
if [ "${CTL_FAIL:-0}" = 1 ]; then
  echo "Configuration validation first phase failed. Different values are specified for mem"; exit 1
fi
: > "$CONFIG_DIR/ssm_AmazonCloudWatch-OomWatch"
echo "Configuration validation succeeded"
"""


@dataclass
class Run:
    code: int
    out: str
    calls: list[str]


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    for sub in ("d", "bin", "path"):
        (tmp_path / sub).mkdir()
    ctl = tmp_path / "bin" / "ctl"
    ctl.write_text(FAKE_CTL)
    ctl.chmod(0o755)
    systemctl = tmp_path / "path" / "systemctl"
    systemctl.write_text('#!/bin/sh\nexit "${AGENT_INACTIVE:-0}"\n')
    systemctl.chmod(0o755)
    (tmp_path / "version").write_text("1.300071.0b1720\n")
    return tmp_path


def run(sandbox: Path, digest: str = "a" * 12, *, group: str = "g", journald: bool = True, **env: str) -> Run:
    script = "\n".join(
        configure_script(stack_name=STACK, minimum_version=MIN_JOURNALD_AGENT_VERSION if journald else None)
    )
    for real, fake in (
        ("{{ configDigest }}", digest),  # what SSM substitutes from the association's parameters
        ("{{ logGroupName }}", group),
        (AGENT_CONFIG_DIR, sandbox / "d"),
        (AGENT_CTL, sandbox / "bin" / "ctl"),
        (AGENT_VERSION_FILE, sandbox / "version"),
        ("/opt/aws/amazon-cloudwatch-agent/etc/", f"{sandbox}/"),
    ):
        assert str(real) in script or (real == AGENT_VERSION_FILE and not journald)
        script = script.replace(str(real), str(fake))
    calls = sandbox / "calls"
    calls.unlink(missing_ok=True)
    environment = {
        "PATH": f"{sandbox / 'path'}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "CONFIG_DIR": str(sandbox / "d"),
        **env,
    }
    sh = shutil.which("sh")
    assert sh is not None
    done = subprocess.run([sh, "-c", script], capture_output=True, text=True, env=environment, timeout=30, check=False)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return Run(done.returncode, done.stdout + done.stderr, recorded)


def test_a_new_host_is_configured_once(sandbox: Path) -> None:
    first = run(sandbox)
    assert first.code == 0, first.out
    assert first.calls == [f"-a append-config -m ec2 -c ssm:{NAME} -s"]
    assert (sandbox / f"oomwatch-{STACK}.digest").read_text() == "a" * 12 + " g"


def test_a_current_host_is_left_alone(sandbox: Path) -> None:
    assert run(sandbox).code == 0
    again = run(sandbox)  # the daily run, nothing changed
    assert (again.code, again.calls) == (0, [])
    assert "agent left alone" in again.out


def test_a_changed_configuration_or_a_stopped_agent_is_reapplied(sandbox: Path) -> None:
    assert run(sandbox).code == 0
    assert run(sandbox, digest="b" * 12).calls == [f"-a append-config -m ec2 -c ssm:{NAME} -s"]
    assert run(sandbox, digest="b" * 12, group="replaced").calls == [f"-a append-config -m ec2 -c ssm:{NAME} -s"]
    assert run(sandbox, digest="b" * 12, group="replaced", AGENT_INACTIVE="3").calls == [
        f"-a append-config -m ec2 -c ssm:{NAME} -s"
    ]
    (sandbox / "d" / f"ssm_{NAME}").unlink()  # someone removed OOMWatch's file
    assert len(run(sandbox, digest="b" * 12, group="replaced").calls) == 1


def test_old_hashed_files_are_removed_and_nothing_else(sandbox: Path) -> None:
    old = sandbox / "d" / f"ssm_{NAME}-0123456789ab"
    other_stack = sandbox / "d" / f"ssm_{NAME}Staging-0123456789ab"
    own = sandbox / "d" / "file_config.json"
    for path in (old, other_stack, own):
        path.write_text("{}")
    done = run(sandbox)
    assert done.code == 0, done.out
    assert not old.exists() and other_stack.exists() and own.exists()
    assert "removed the old OOMWatch file" in done.out and len(done.calls) == 1


@pytest.mark.parametrize(
    ("version", "accepted"),
    [("1.300071.0b1720", True), ("1.300070.0", True), ("1.300069.0b1143", False), ("1.247358.0-1.amzn2023", False)],
)
def test_journald_needs_a_recent_agent(sandbox: Path, version: str, accepted: bool) -> None:
    (sandbox / "version").write_text(version + "\n")
    done = run(sandbox)
    assert (done.code == 0) is accepted, done.out
    if not accepted:
        assert done.calls == []
        assert f"CloudWatch agent {version} is older than 1.300070.0" in done.out
    # Without journald any version is fine.
    assert run(sandbox, digest="c" * 12, journald=False).code == 0


def test_a_missing_agent_or_a_refused_configuration_fails_readably(sandbox: Path) -> None:
    refused = run(sandbox, CTL_FAIL="1")
    assert refused.code == 1
    assert "Different values are specified for mem" in refused.out
    assert "this host's own agent configuration sets the same key differently" in refused.out
    assert not (sandbox / f"oomwatch-{STACK}.digest").exists()  # retried on the next run
    (sandbox / "bin" / "ctl").unlink()
    missing = run(sandbox)
    assert missing.code == 1 and "the CloudWatch agent is not installed" in missing.out


def test_the_document_installs_then_configures() -> None:
    document = rollout_document(stack_name=STACK, agent_version=None, minimum_version=None)
    assert set(document["parameters"]) == {"configDigest", "logGroupName"}
    install, configure = document["mainSteps"]
    assert (install["action"], install["inputs"]["documentPath"]) == ("aws:runDocument", "AWS-ConfigureAWSPackage")
    assert install["inputs"]["documentParameters"] == {"action": "Install", "name": "AmazonCloudWatchAgent"}
    assert configure["action"] == "aws:runShellScript"
    pinned = rollout_document(stack_name=STACK, agent_version="1.300071.0b1720", minimum_version=None)
    assert pinned["mainSteps"][0]["inputs"]["documentParameters"]["version"] == "1.300071.0b1720"
