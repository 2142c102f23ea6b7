"""Claims in the docs that drifted from the code once (issue 11), each held to its source here.

* docs/deploy.md's outputs table names exactly the stack's outputs (the synthesized template's ``Outputs``).
* The per-host monthly cost is one figure in README.md and docs/cost.md, and it is the sum of the rows of the
  per-host tables it summarises.
* docs/configuration.md says how copies of one kill (syslog, kern.log, the journal) are counted as the handler
  does, and names the test that shows it.
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
COST = (ROOT / "docs" / "cost.md").read_text()
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def table_after(text: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading``, header and rule left out."""
    section = text[text.index(heading) :]
    start = section.index("\n|")
    end = section.find("\n\n", start)
    rows = re.findall(r"^\|(.*)\|\s*$", section[start : end if end >= 0 else None], re.MULTILINE)
    return [[cell.strip() for cell in row.split(" | ")] for row in rows[2:]]


def test_deploy_doc_outputs_table_is_the_stacks_outputs(variant_template: dict[str, Any]) -> None:
    # GIVEN the outputs the stack really has (the synthesized template)
    outputs = set(variant_template["Outputs"])
    assert "InstanceRoleName" in outputs  # the one the table once lacked
    # THEN the table names each of them once, and nothing else
    named = [name for row in table_after(DEPLOY, "stack outputs") for name in re.findall(r"`([A-Za-z]+)`", row[0])]
    assert sorted(named) == sorted(outputs)


RANGE = re.compile(r"\$(\d+(?:\.\d+)?)(?:[–-](\d+(?:\.\d+)?))?")


def dollars(text: str) -> tuple[Decimal, Decimal]:
    """The first ``$a`` or ``$a–b`` in ``text`` as (low, high)."""
    m = RANGE.search(text)
    assert m, text
    low = Decimal(m.group(1))
    return low, Decimal(m.group(2)) if m.group(2) else low


def test_per_host_cost_is_one_figure_everywhere() -> None:
    # GIVEN the headline figures of README.md and docs/cost.md, and cost.md's per-host total
    readme = dollars(re.search(r"about \*\*(\$[^*]+) per host per month\*\*", README).group(1))  # type: ignore[union-attr]
    cost = dollars(re.search(r"\*\*about (\$[^*]+) per host per month\*\*", COST).group(1))  # type: ignore[union-attr]
    rows = table_after(COST, "## Per host, at the defaults")
    (total,) = [row for row in rows if row[0] == "**Total**"]
    # THEN they are one figure
    assert readme == cost == dollars(total[-1])
    # AND it is the sum of the README's per-host rows (their "Per month" column, a range where it is one)
    readme_rows = [row for row in table_after(README, "### What it costs") if not row[0].startswith("Per stack")]
    assert len(readme_rows) == len(rows) - 1
    parts = [dollars(row[-1]) for row in readme_rows]
    assert (sum(p[0] for p in parts), sum(p[1] for p in parts)) == readme
    # AND cost.md's rows give the same amounts, row by row (the free first million requests are its low end)
    assert [dollars(row[-1])[1] for row in rows[:-1]] == [p[1] for p in parts]


def test_per_stack_cost_is_one_figure_everywhere() -> None:
    # GIVEN the per-stack figures of README.md (text and table) and docs/cost.md (text and total)
    readme = dollars(re.search(r"plus about \*\*(\$[^*]+) per\s+month per stack\*\*", README).group(1))  # type: ignore[union-attr]
    cost = dollars(re.search(r"plus \*\*about (\$[^*]+) per month per stack\*\*", COST).group(1))  # type: ignore[union-attr]
    (row,) = [row for row in table_after(README, "### What it costs") if row[0].startswith("Per stack")]
    (total,) = [row for row in table_after(COST, "## Per stack") if row[0] == "**Total**"]
    # THEN they are one figure (the tables' first range: without a 4th dashboard)
    assert readme == cost == dollars(row[-1].split(",")[0]) == dollars(total[-1].split(",")[0])


def test_copies_of_a_kill_are_documented_as_the_handler_counts_them() -> None:
    # GIVEN the configuration doc's paragraph on hosts that ship a kill two or three times
    start = CONFIGURATION.index("`both` (default) configures both")
    paragraph = CONFIGURATION[start : CONFIGURATION.index("\n\n", start)]
    # THEN it says the copies are one kill, counted apart from repeats, as the handler does ...
    assert "never count towards `loop_threshold`" in paragraph and "count as repeats" not in paragraph
    assert "`DuplicateKills`" in paragraph
    handler = (ROOT / "lambdas" / "service" / "logic" / "kills.py").read_text()
    assert 'rt.telemetry.count("DuplicateKills")' in handler
    # ... and the test it names exists (that test holds the behaviour: one alert, the copies as duplicates)
    (ref,) = re.findall(r"`(tests/handlers/[\w/]+\.py)::(\w+)`", paragraph)
    tree = ast.parse((ROOT / ref[0]).read_text())
    assert ref[1] in {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
