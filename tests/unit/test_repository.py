"""The repository stands alone: a user's clone has no team folder beside it, so nothing may reach outside."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What tests, synth and CI read: code and build files (prose may say where material came from).
CODE = ("*.py", "Makefile", ".ci/*", "pyproject.toml", "package.json", "cdk.json", "*.toml", "*.cfg", "*.sh")
OUTSIDE = re.compile(
    r"\.\./shared|shared/(?:oom-corpus|cloudwatch-agent)|[\"']shared[\"']|OOMWATCH_SHARED|parents\[\d\]\.parent|REPO\.parent"
)


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *CODE], cwd=REPO, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("git ls-files failed: run the tests from a git checkout")
    return [REPO / name for name in out.decode().split("\0") if name]


def test_no_code_or_build_file_reaches_outside_the_repository() -> None:
    files = _tracked()
    assert len(files) > 50  # the listing itself worked
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in files
        if path.is_file() and path != Path(__file__)
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_the_material_tests_and_synth_need_is_in_the_repository() -> None:
    corpus = sorted((REPO / "tests" / "corpus").glob("*.log"))
    labels = {p.stem for p in (REPO / "tests" / "corpus" / "expected").glob("*.json")}
    assert len(corpus) >= 30
    assert {p.stem for p in corpus} == labels  # every excerpt has its label, and no label is orphaned
    assert all("# source:" in p.read_text(errors="replace") for p in corpus)
    assert (REPO / "agent_config" / "schema" / "schema.json").is_file()
    assert (REPO / "docs" / "oom-formats.md").is_file()
