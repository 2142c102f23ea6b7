"""One emulated Lambda execution environment (run as a script by runtime.py, one process per function).

Like the Python runtime it imports the handler module named by ``_HANDLER`` from ``LAMBDA_TASK_ROOT`` (the
function's deployed code asset), then serves invocations one at a time: an event arrives on stdin as a JSON
line, the handler runs, its output goes to stdout between the runtime's ``START``/``END``/``REPORT`` lines, and
the result (or the error) goes back as a JSON line on the file descriptor named by ``OOMWATCH_DEMO_RESULT_FD``.

A request's ``clock_offset_s`` moves ``time.time`` that far ahead for the invocation (the handlers' clock is
``time.time``, bound when their runtime is first built, after this module replaced it): the demo's emulated
clock, for a scheduled job run "later". The invocation's deadline stays on the real clock.

The repository's own source directories are taken off ``sys.path`` first, so a handler can import only what
its asset (and the Powertools layer, which is the installed aws-lambda-powertools of the same version) holds.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import resource
import sys
import time
import traceback
from typing import Any

_real_time = time.time
_offset_s = 0.0


def _shifted_time() -> float:
    return _real_time() + _offset_s


class LambdaContext:
    def __init__(self, request_id: str, deadline: float) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env["OOMWATCH_DEMO_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - _real_time()) * 1000))


def _isolate() -> None:
    hidden = {os.path.realpath(p) for p in os.environ.get("OOMWATCH_DEMO_HIDE_PATHS", "").split(os.pathsep) if p}
    here = os.path.realpath(os.path.dirname(__file__))
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[:] = [task_root] + [
        p for p in sys.path if p and os.path.realpath(p) not in hidden and os.path.realpath(p) != here
    ]


def main() -> int:
    global _offset_s
    _isolate()
    time.time = _shifted_time  # the offset is 0 unless a request sets it
    out = os.fdopen(int(os.environ["OOMWATCH_DEMO_RESULT_FD"]), "w")
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else "Runtime.HandlerNotFound"
        init_error = {"errorType": kind, "errorMessage": f"Unable to import module '{module_name}': {exc}"}
        print(f"[ERROR] {kind}: {init_error['errorMessage']}", flush=True)

    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        _offset_s = float(request.get("clock_offset_s") or 0.0)
        started = time.monotonic()
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        reply: dict[str, Any]
        if init_error is not None:
            reply = {"ok": False, **init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request_id, request["deadline"]))
                reply = {"ok": True, "result": result}
            except Exception as exc:
                tb = traceback.format_exception(exc)
                print(f"[ERROR] {type(exc).__name__}: {exc}\n{''.join(tb)}", end="", flush=True)
                reply = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        sys.stderr.flush()
        elapsed = (time.monotonic() - started) * 1000
        max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"END RequestId: {request_id}", flush=True)
        print(
            f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\tBilled Duration: {math.ceil(elapsed)} ms"
            f"\tMemory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB"
            f"\tMax Memory Used: {max_rss_mb} MB",
            flush=True,
        )
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
