"""The local AWS emulator: one ``moto_server`` process on 127.0.0.1, with throwaway credentials.

The server runs in its own process group, so :meth:`Emulator.stop` (also called on errors and Ctrl-C by the
callers' ``try/finally``) ends it and anything it started, and nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
LAUNCHER = Path(__file__).with_name("_moto_launcher.py")
#: Amazon Q Developer in chat applications' HTTPS endpoint: what a Slack or Teams channel configuration subscribes
#: to the alert topic (service.logic.chat). The emulator catches what SNS would POST there; nothing leaves the machine.
CHAT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"

# Variables that could point an AWS client at a real account. They are removed from every environment
# the demo hands to a child process (the CDK CLI, the Lambda runtime) and replaced by throwaway values.
_AWS_VARS_TO_DROP = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CA_BUNDLE",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Emulator:
    """A running moto server. Use :func:`start` to make one."""

    port: int
    process: subprocess.Popen[bytes] | None  # None: attached to a server another process started
    workdir: Path
    log_path: Path
    pid: int = 0
    _session: boto3.session.Session | None = field(default=None, repr=False)

    @property
    def outbox(self) -> Path:
        """Where the server's mail catcher writes what e-mail subscriptions would be sent (JSON Lines)."""
        return self.workdir / "outbox.jsonl"

    @property
    def ssm_world(self) -> Path:
        """The emulated State Manager runs and managed nodes the server answers from (``_moto_launcher`` 8)."""
        return self.workdir / "ssm.json"

    @property
    def endpoint(self) -> str:
        # moto's CloudFormation fetches TemplateURL/asset URLs from S3 only when the host is "localhost".
        return f"http://localhost:{self.port}"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for child processes: the parent's, pointed at the emulator only."""
        env = dict(os.environ if base is None else base)
        for name in _AWS_VARS_TO_DROP:
            env.pop(name, None)
        empty = str(self.workdir / "aws-config-none")
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_CONFIG_FILE": empty,
                "AWS_SHARED_CREDENTIALS_FILE": empty,
                "AWS_EC2_METADATA_DISABLED": "true",
                "CDK_DEFAULT_ACCOUNT": ACCOUNT,
                "CDK_DEFAULT_REGION": REGION,
                "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
                "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1",
            }
        )
        return env

    def client(self, service: str) -> Any:
        if self._session is None:
            self._session = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's throwaway credentials
                aws_session_token="testing",  # noqa: S106
                region_name=REGION,
            )
        return self._session.client(service, endpoint_url=self.endpoint)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return process_group_alive(self.pid)

    def stop(self) -> None:
        """End the server's whole process group: TERM, then KILL after 5 s. An attached emulator (started by
        another process) is left alone; see :func:`stop_group` for the last user of a shared one."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def state(self) -> dict[str, Any]:
        """What another process needs to :func:`attach` to this server."""
        return {"port": self.port, "pid": self.pid, "workdir": str(self.workdir), "log": str(self.log_path)}

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def process_group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - not ours
        return False
    return True


def stop_group(pid: int, timeout: float = 5.0) -> None:
    """End the process group of a server this process did not start (the last user of a shared emulator)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def attach(state: dict[str, Any]) -> Emulator:
    return Emulator(
        port=int(state["port"]),
        process=None,
        workdir=Path(state["workdir"]),
        log_path=Path(state["log"]),
        pid=int(state["pid"]),
    )


def start(workdir: Path, python: str = sys.executable, timeout: float = 30.0) -> Emulator:
    """Start moto on a free port of 127.0.0.1 and wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "moto_server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["OOMWATCH_DEMO_OUTBOX"] = str(workdir / "outbox.jsonl")
    env["OOMWATCH_DEMO_SSM"] = str(workdir / "ssm.json")
    # Moto's Lambda would start Docker containers; there is no Docker here, and the demo runs the
    # handlers itself (see runtime.py). Nothing in the demo asks moto to invoke a function.
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [python, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    emulator = Emulator(port=port, process=process, workdir=workdir, log_path=log_path, pid=process.pid)
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/moto-api/data.json"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}:\n{emulator.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return emulator
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            emulator.stop()
            raise RuntimeError(f"moto_server did not answer within {timeout:.0f}s:\n{emulator.log_tail()}")
        time.sleep(0.2)
