"""What the OOM function's cold start imports: nothing it does not use with the default settings.

``bench/bench_cold_import.py`` measures the import against ``import boto3``; this holds the parts that were taken
out of it out (each cost 0.5-1.5 ms of every cold start): the digest queue (the digest job's), the sparkline's
CloudWatch reader (off by default), Powertools' ``LambdaContext`` (a type) and its event data classes (~15 ms).
It also holds the record types it builds cheap: a dataclass costs 0.5-3 ms of the cold start to build (Python
compiles its generated methods from source), a NamedTuple about 0.1 ms, a plain class nothing to speak of.
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


def printed_after(statement: str, expression: str) -> object:
    code = f"import json, sys\n{statement}\nprint(json.dumps({expression}))"
    env = {**os.environ, "PYTHONPATH": str(LAMBDAS), "AWS_DEFAULT_REGION": "eu-west-1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


def loaded_after(statement: str) -> set[str]:
    modules = printed_after(statement, "sorted(sys.modules)")
    assert isinstance(modules, list)
    return set(modules)


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


OURS = "[m for m in list(sys.modules.values()) if m.__name__.split('.')[0] in ('service', 'oomwatch')]"


def test_the_oom_function_builds_no_dataclass_but_the_reports() -> None:
    # GIVEN a fresh interpreter WHEN it imports the OOM handler
    built = printed_after(
        "import dataclasses, service.handlers.oom",
        f"sorted(f'{{c.__module__}}.{{c.__name__}}' for m in {OURS} for c in vars(m).values()"
        " if isinstance(c, type) and c.__module__ == m.__name__ and dataclasses.is_dataclass(c))",
    )
    # THEN the one dataclass is the parser's report state (issue 12 asked for it; one per parse); the rest are
    # NamedTuples (values) or plain classes (the delivery's mutable records)
    assert built == ["oomwatch.report.Report"]


def test_the_oom_function_evaluates_its_record_annotations() -> None:
    # GIVEN a fresh interpreter WHEN it imports the OOM handler THEN no module that builds NamedTuples or TypedDicts
    # at import postpones its annotations: typing would compile a ForwardRef from the text of every field
    postponed = printed_after(
        "import typing, service.handlers.oom",
        f"sorted(m.__name__ for m in {OURS} if 'annotations' in vars(m) and any("
        "isinstance(c, type) and c.__module__ == m.__name__ and (typing.is_typeddict(c) or hasattr(c, '_fields'))"
        " for c in vars(m).values()))",
    )
    assert postponed == []


SPY = """
import json, sys
seen = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "boto3":
            seen.append(sorted(m for m in sys.modules if m.split(".")[0] in ("service", "oomwatch")))
        return None
sys.meta_path.insert(0, Spy())
"""


def test_each_handler_loads_boto3_before_any_of_our_modules_below_it() -> None:
    # GIVEN a fresh interpreter watching for the import of boto3
    for handler in ("oom", "digest", "alarm_notice", "association"):
        # WHEN it imports a handler THEN boto3 is loaded by the handlers package, before the handler's own chain of
        # imports (from under it, CPython's frame stack thrashes its 16 KiB chunk through boto3's regex compiles)
        seen = printed_after(f"{SPY}\nimport service.handlers.{handler}", "seen")
        assert seen == [["service", "service.handlers"]], handler
