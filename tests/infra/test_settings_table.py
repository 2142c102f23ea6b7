"""One source per setting: cdk.json, infra/config.py, the template, the Lambda and the docs agree with the table.

``lambdas/service/models/settings_table.py`` holds, for each setting the Lambda reads, its cdk.json key, default,
bounds and environment variable. These tests hold every other place to it: the defaults in ``cdk.json`` and
docs/configuration.md, the bounds synth enforces and those the Lambda reads with, the environment the stack
writes (read back by the Lambda's own parser) and the docs' environment table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from service.models.settings import AllowList as LambdaAllowList
from service.models.settings import Settings, flag, from_env
from service.models.settings_table import BY_KEY, KILL_METRIC, LAMBDA_SETTINGS, SPARKLINE, Setting, json_default
from synth_kit import VARIANT, cdk_json_context, context_with
from template_kit import function_by_handler

from infra.config import DEFAULTS, ConfigError, OomWatchConfig

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "docs" / "configuration.md").read_text()
WHOLE = [setting for setting in LAMBDA_SETTINGS if setting.codec == "whole"]
#: The table's short function names, and the handlers they stand for.
HANDLERS = {
    "oom": "service.handlers.oom.handler",
    "digest": "service.handlers.digest.handler",
    "alarm": "service.handlers.alarm_notice.handler",
    "association": "service.handlers.association.handler",
}


def test_every_setting_is_a_key_with_a_unique_variable() -> None:
    assert set(BY_KEY) <= set(DEFAULTS)
    assert len({setting.env for setting in LAMBDA_SETTINGS}) == len(LAMBDA_SETTINGS)
    assert all(set(setting.functions) <= set(HANDLERS) for setting in LAMBDA_SETTINGS)


def test_every_row_names_its_fields() -> None:
    """A row is a NamedTuple, which takes fields by position too: the table writes every field by its name."""
    source = (ROOT / "lambdas" / "service" / "models" / "settings_table.py").read_text()
    rows = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Setting"
    ]
    assert len(rows) >= len(LAMBDA_SETTINGS)
    assert [ast.unparse(row)[:60] for row in rows if row.args] == []


@pytest.mark.parametrize("setting", LAMBDA_SETTINGS, ids=lambda setting: setting.key)
def test_cdk_json_holds_the_table_default(setting: Setting) -> None:
    assert cdk_json_context()[setting.key] == json_default(setting) == DEFAULTS[setting.key]


def table_rows(heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading`` in docs/configuration.md, header and rule left out."""
    section = REFERENCE[REFERENCE.index(heading) :]
    rows = re.findall(r"^\|(.*)\|\s*$", section[: section.index("\n\n", section.index("\n|"))], re.MULTILINE)
    return [[cell.strip() for cell in row.split(" | ")] for row in rows[2:]]


@pytest.mark.parametrize("setting", WHOLE, ids=lambda setting: setting.key)
def test_configuration_doc_gives_the_table_bounds(setting: Setting) -> None:
    # GIVEN the "All keys" table's row of a whole-number setting
    (row,) = [row for row in table_rows("## All keys") if row[0] == f"`{setting.key}`"]
    # THEN its default and its "Allowed" column are the table's
    assert (row[1], row[2]) == (f"`{setting.default}`", setting.bounds)


@pytest.mark.parametrize("setting", LAMBDA_SETTINGS, ids=lambda setting: setting.key)
def test_environment_doc_names_the_variable_and_its_functions(setting: Setting) -> None:
    rows = [row for row in table_rows("## The Lambda environment") if f"`{setting.env}`" in row[0]]
    assert len(rows) == 1, setting.env
    named = {part.split()[0] for part in rows[0][1].split(",")}
    assert named & {"all", "oom", "digest", "alarm", "association"} == set(setting.functions)


def probes(setting: Setting) -> list[int]:
    """Both sides of each bound, the off value and its neighbours, and the default."""
    assert setting.low is not None and setting.high is not None
    values = {setting.low - 1, setting.low, setting.high, setting.high + 1, int(str(setting.default))}
    if setting.off is not None:
        values |= {setting.off - 1, setting.off, setting.off + 1}
    return sorted(values)


@pytest.mark.parametrize(
    ("setting", "number"),
    [(setting, number) for setting in WHOLE for number in probes(setting)],
    ids=lambda value: value.key if isinstance(value, Setting) else str(value),
)
def test_synth_and_the_lambda_accept_the_same_numbers(setting: Setting, number: int) -> None:
    # GIVEN a number for a whole-number setting
    # WHEN synth validates it, and the Lambda reads it from its variable
    try:
        accepted = getattr(OomWatchConfig.from_context(context_with({setting.key: str(number)})), setting.key)
    except ConfigError as error:
        assert error.key == setting.key
        accepted = None
    read = from_env({setting.env: str(number)})
    # THEN both take it as it is, or synth refuses it and the Lambda falls back with a note naming the variable
    if accepted is None:
        assert getattr(read, setting.key) == setting.absent
        assert len(read.problems) == 1 and read.problems[0].startswith(f"{setting.env}={number} ")
    else:
        assert (accepted, getattr(read, setting.key), read.problems) == (number, number, ())
    assert setting.allows(number) == (accepted is not None)


def lambda_value(settings: Settings, env: dict[str, str], setting: Setting) -> Any:
    """A setting as the Lambda holds it, in the form ``OomWatchConfig`` holds it."""
    if setting in (KILL_METRIC, SPARKLINE):
        return flag(env, setting)  # read by service.wiring, not kept in Settings
    value = getattr(settings, setting.key)
    if isinstance(value, LambdaAllowList):
        return (value.processes, value.units, tuple(sorted(value.tags.items())))
    return value


def config_value(config: OomWatchConfig, setting: Setting) -> Any:
    value = getattr(config, setting.key)
    if setting.key == "allow_list":
        return (value.processes, value.units, value.tags)
    return value


@pytest.mark.slow
@pytest.mark.parametrize("variant", [False, True], ids=["defaults", "variant"])
def test_the_lambda_reads_back_what_synth_validated(
    variant: bool, template: dict[str, Any], variant_template: dict[str, Any]
) -> None:
    # GIVEN the synthesized template (the default one from the CDK CLI, the variant in-process) and its config
    config = OomWatchConfig.from_context(context_with(VARIANT) if variant else cdk_json_context())
    tpl = variant_template if variant else template
    for setting in LAMBDA_SETTINGS:
        for function in setting.functions:
            variables = function_by_handler(tpl, HANDLERS[function])[1]["Properties"]["Environment"]["Variables"]
            # references (the topic, the table) resolve at deploy time: none is one of the table's variables
            env = {name: value if isinstance(value, str) else f"<{name}>" for name, value in variables.items()}
            # WHEN the function's own parser reads its environment
            read = from_env(env)
            # THEN it holds the validated value, under the key's name and in the key's unit, without a note
            assert not read.problems
            if setting.env not in env:
                # only the coverage targets are left out, and only with the coverage check off
                assert setting.key.startswith("target_") and config.coverage_interval_minutes == 0, setting.key
                continue
            assert lambda_value(read, env, setting) == config_value(config, setting), (setting.key, function)
