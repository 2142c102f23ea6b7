"""What the OOM function's cold start imports: nothing it does not use with the default settings.

``bench/bench_cold_import.py`` measures the import against ``import boto3``; this holds the parts that were taken
out of it out (each cost 0.5-1.5 ms of every cold start): the digest queue (the digest job's), the sparkline's
CloudWatch reader (off by default), Powertools' ``LambdaContext`` (a type) and its event data classes (~15 ms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
LEFT_OUT = (
    "service.dal.state.digests",
    "service.dal.cloudwatch",
    "service.logic.memory_history",
    "service.logic.sparkline",
    "aws_lambda_powertools.utilities.typing.lambda_context",
    "aws_lambda_powertools.utilities.data_classes",
)


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(LAMBDAS), "AWS_DEFAULT_REGION": "eu-west-1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return set(json.loads(out.stdout))


def test_the_oom_function_imports_none_of_what_it_does_not_use() -> None:
    # GIVEN a fresh interpreter WHEN it imports the OOM handler THEN none of the parts it does not use are loaded
    loaded = loaded_after("import service.handlers.oom")
    assert "service.logic.kills" in loaded  # the import did happen
    assert sorted(m for m in LEFT_OUT if m in loaded) == []


def test_the_parts_left_out_load_where_they_are_used() -> None:
    # GIVEN the digest queue's records and the state store WHEN the digest handler's module is imported and the
    # records are read from the state package THEN they come from their own module
    loaded = loaded_after(
        "import service.handlers.digest; from service.dal.state import DueWindow, due_window; "
        "assert DueWindow.__module__ == 'service.dal.state.digests' and callable(due_window)"
    )
    assert "service.dal.state.digests" in loaded
