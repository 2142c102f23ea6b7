"""Emulated Lambda: the deployed functions run here, because moto runs Lambda code only inside Docker.

What is taken from the deployment, not invented: the handler string, the code (the asset directory CDK
built and uploaded), the environment variables as moto resolved them (physical names and ARNs), memory
size, timeout and log group. Each function gets one execution environment (a subprocess, kept warm between
invocations like a real one), whose output is shipped to the function's log group as the Lambda service
would: one stream per environment, ``START``/``END``/``REPORT`` lines included, wrapped as JSON when the
function's ``LogFormat`` is JSON.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.emulator import Emulator

WORKER = Path(__file__).with_name("_lambda_worker.py")
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    arn: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    asset_dir: Path
    log_group: str
    log_format: str = "Text"
    application_log_level: str | None = None  # JSON format only: records below it are dropped
    system_log_level: str | None = None  # JSON format only: platform records below it are dropped


@dataclass
class Invocation:
    function: str
    request_id: str
    ok: bool
    result: Any
    error_type: str | None
    error_message: str | None
    log_lines: list[str]
    cold_start: bool
    seconds: float


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    result_fd: int
    lines: queue.Queue[str | None]
    log_stream: str
    reader: threading.Thread
    used: bool = False


def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
    lines.put(None)


_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def _enabled(level: str, threshold: str | None) -> bool:
    level = level.upper().replace("WARNING", "WARN").replace("CRITICAL", "FATAL")
    if threshold is None or level not in _LEVELS or threshold.upper() not in _LEVELS:
        return True
    return _LEVELS.index(level) >= _LEVELS.index(threshold.upper())


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class LambdaRuntime:
    emulator: Emulator
    python: str = sys.executable
    hide_paths: tuple[str, ...] = (str(REPO / "lambdas"), str(REPO))
    _workers: dict[str, _Worker] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)

    def _start(self, fn: DeployedFunction) -> _Worker:
        read_fd, write_fd = os.pipe()
        today = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        log_stream = f"{today}/[$LATEST]{uuid.uuid4().hex}"
        env = self.emulator.env()
        for name in [k for k in env if k.startswith(("PYTHON", "VIRTUAL_ENV"))]:
            env.pop(name)
        env.update(fn.environment)
        env.update(
            {
                "_HANDLER": fn.handler,
                "LAMBDA_TASK_ROOT": str(fn.asset_dir),
                "AWS_LAMBDA_FUNCTION_NAME": fn.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "TZ": ":UTC",
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "OOMWATCH_DEMO_FUNCTION_ARN": fn.arn,
                "OOMWATCH_DEMO_RESULT_FD": str(write_fd),
                "OOMWATCH_DEMO_HIDE_PATHS": os.pathsep.join(self.hide_paths),
            }
        )
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [self.python, "-u", str(WORKER)],
            cwd=fn.asset_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
        os.close(write_fd)
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        reader.start()
        return _Worker(process, read_fd, lines, log_stream, reader)

    def _stop(self, worker: _Worker) -> None:
        with contextlib.suppress(OSError):
            os.close(worker.result_fd)
        if worker.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, 9)
            worker.process.wait(timeout=5)

    def close(self) -> None:
        for worker in self._workers.values():
            self._stop(worker)
        self._workers.clear()

    def invoke(self, fn: DeployedFunction, event: Any, clock_offset_s: float = 0.0) -> Invocation:
        """One invocation; ``clock_offset_s`` moves the handler's wall clock (``time.time``) that far ahead for
        it, so a scheduled job can be run "later" (the demo's digest, past the noise window)."""
        worker = self._workers.get(fn.name)
        if worker is None or worker.process.poll() is not None:
            worker = self._workers[fn.name] = self._start(fn)
        cold = not worker.used
        worker.used = True
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        deadline = time.time() + fn.timeout_s + (10.0 if cold else 0.0)  # init time is not billed to the timeout
        assert worker.process.stdin is not None
        worker.process.stdin.write(
            (
                json.dumps(
                    {"request_id": request_id, "event": event, "deadline": deadline, "clock_offset_s": clock_offset_s}
                )
                + "\n"
            ).encode()
        )
        worker.process.stdin.flush()
        answer = self._read_reply(worker, deadline)
        lines: list[str] = []
        timed_out = answer is None
        reply: dict[str, Any] = answer or {}
        if timed_out:
            self._stop(worker)
            del self._workers[fn.name]
            reply = {"ok": False, "errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}
            lines.append(f"{dt.datetime.now(dt.UTC).isoformat()} {request_id} Task timed out after {fn.timeout_s} s")
        while True:
            try:
                line = worker.lines.get(timeout=0 if timed_out else 10)
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
            if line.startswith(f"REPORT RequestId: {request_id}"):
                break
        invocation = Invocation(
            function=fn.name,
            request_id=request_id,
            ok=bool(reply.get("ok")),
            result=reply.get("result"),
            error_type=reply.get("errorType"),
            error_message=reply.get("errorMessage"),
            log_lines=lines,
            cold_start=cold,
            seconds=time.monotonic() - started,
        )
        self.invocations.append(invocation)
        self._ship_logs(fn, worker.log_stream, request_id, lines)
        return invocation

    @staticmethod
    def _read_reply(worker: _Worker, deadline: float) -> dict[str, Any] | None:
        buffer = b""
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([worker.result_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(worker.result_fd, 65536)
            if not chunk:
                return {"ok": False, "errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}
            buffer += chunk
            if buffer.endswith(b"\n"):
                reply: dict[str, Any] = json.loads(buffer)
                return reply

    def _ship_logs(self, fn: DeployedFunction, stream: str, request_id: str, lines: list[str]) -> None:
        if not lines:
            return
        logs = self.emulator.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=fn.log_group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=fn.log_group, logStreamName=stream)
        now = _now_ms()
        formatted = [self._format(fn, request_id, line, now) for line in lines if line.strip()]
        messages = [m for m in formatted if m is not None]
        if not messages:
            return
        for start in range(0, len(messages), 1000):
            logs.put_log_events(
                logGroupName=fn.log_group,
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": m} for m in messages[start : start + 1000]],
            )

    @staticmethod
    def _format(fn: DeployedFunction, request_id: str, line: str, now_ms: int) -> str | None:
        """The log event Lambda writes for one output line, or None where advanced logging controls drop it
        (JSON format: platform START/END/REPORT are INFO records, application records carry ``level``)."""
        if fn.log_format != "JSON":
            return line
        stamp = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
        stamp = stamp.replace("+00:00", "Z")
        for kind, prefix in (("start", "START"), ("end", "END"), ("report", "REPORT")):
            if line.startswith(f"{prefix} RequestId: "):
                if not _enabled("INFO", fn.system_log_level):
                    return None
                record = {"requestId": request_id}
                if kind == "start":
                    record["version"] = "$LATEST"
                return json.dumps({"time": stamp, "type": f"platform.{kind}", "record": record})
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            return line if _enabled(str(doc.get("level", "INFO")), fn.application_log_level) else None
        level = "ERROR" if line.startswith("[ERROR]") else "INFO"
        if not _enabled(level, fn.application_log_level):
            return None
        return json.dumps({"timestamp": stamp, "level": level, "message": line, "requestId": request_id})
