"""The settings docs stay true: every key named, every default, every error example and the exit status.

README.md's settings table and docs/configuration.md's key table name every key with its default (compared with
``DEFAULTS``, which a test in test_stack_config.py keeps equal to ``cdk.json``); each ``$ npx cdk synth -c ...``
example in the docs shows exactly the lines the app and the CDK CLI print for it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from synth_kit import APP_CONFIG_ERROR_STATUS, CDK_CLI_ERROR_STATUS, context_with

from infra.config import DEFAULTS, KEYS, ConfigError, OomWatchConfig

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
REFERENCE = (ROOT / "docs" / "configuration.md").read_text()
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
APP_COMMAND = json.loads((ROOT / "cdk.json").read_text())["app"]


def test_readme_and_configuration_doc_name_every_key() -> None:
    missing = [key for key in KEYS if f"`{key}`" not in README or f"`{key}`" not in REFERENCE]
    assert not missing, missing


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading``, header and rule left out."""
    section = text[text.index(heading) :]
    rows = re.findall(r"^\|(.*)\|\s*$", section[: section.index("\n\n", section.index("\n|"))], re.MULTILINE)
    return [[cell.strip() for cell in row.split(" | ")] for row in rows[2:]]


def documented(text: str, key: str) -> Any:
    """A default as the docs write it: strings as they are, everything else as JSON."""
    return text if isinstance(DEFAULTS[key], str) else json.loads(text)


def test_configuration_doc_gives_every_default() -> None:
    rows = table_rows(REFERENCE, "## All keys")
    shown = {row[0].strip("`"): documented(row[1].strip("`"), row[0].strip("`")) for row in rows}
    assert shown == dict(DEFAULTS)


def test_readme_gives_every_default() -> None:
    """Backticked defaults as written; ``none``/``empty`` for an empty list or allow-list; a list in words."""
    keys_seen: list[str] = []
    for row in table_rows(README, "### Settings"):
        keys = re.findall(r"`([a-z_]+)`", row[0])
        keys_seen += keys
        values = re.findall(r"`([^`]*)`", row[1])
        if values:
            assert len(keys) == len(values), row
            for key, value in zip(keys, values, strict=True):
                assert documented(value, key) == DEFAULTS[key], (key, value)
        elif row[1] in ("none", "empty"):
            (key,) = keys
            default = DEFAULTS[key]
            parts = list(default.values()) if isinstance(default, dict) else [default]
            assert all(part in ([], {}) for part in parts), row
        else:
            assert len(keys) == 1 and [word.strip() for word in row[1].split(",")] == DEFAULTS[keys[0]], row
    assert sorted(keys_seen) == sorted(KEYS)


def code_blocks(text: str) -> list[list[str]]:
    """The lines of each fenced code block."""
    blocks: list[list[str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    return blocks


def examples() -> list[tuple[str, list[str]]]:
    """Each ``$ npx cdk synth ...`` line of the docs' code blocks, with the lines printed under it."""
    found = []
    for text in (REFERENCE, DEPLOY):
        for lines in code_blocks(text):
            for index, line in enumerate(lines):
                if line.startswith("$ npx cdk synth"):
                    output = []
                    for printed in lines[index + 1 :]:
                        if printed.startswith("$ "):
                            break
                        output.append(printed)
                    found.append((line[2:], output))
    return found


EXAMPLES = examples()


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 5
    assert any("unknown setting" in line for _, output in EXAMPLES for line in output)


@pytest.mark.parametrize(("command", "output"), EXAMPLES, ids=[command for command, _ in EXAMPLES])
def test_each_error_example_is_what_the_app_and_cdk_print(command: str, output: list[str]) -> None:
    args = shlex.split(command)
    overrides = dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg in ("-c", "--context"))
    with pytest.raises(ConfigError) as caught:
        OomWatchConfig.from_context(context_with(overrides))
    assert output == [
        f"oomwatch: config: {caught.value}",
        f"{APP_COMMAND}: Subprocess exited with error {APP_CONFIG_ERROR_STATUS}",
    ]


def test_configuration_doc_states_the_real_exit_statuses() -> None:
    """The numbers test_config_cli.py checks against the real CDK CLI."""
    assert f"`app.py` itself exits with status **{APP_CONFIG_ERROR_STATUS}**" in REFERENCE
    assert f"exits with status **{CDK_CLI_ERROR_STATUS}**" in REFERENCE
    assert "exit status 2" not in REFERENCE  # what it used to claim for cdk synth
