"""The Lambda asset's local build (infra.bytecode): staged sources plus deterministic, unchecked bytecode.

These run with the interpreter running the tests (any CPython); the template test checks the real asset
carries bytecode for the runtime's own version.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import subprocess
import sys
from pathlib import Path

from infra.bytecode import ASSET_EXCLUDES, TASK_ROOT, compile_tree, find_python, python_candidates, stage

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def build(tmp: Path) -> Path:
    stage(LAMBDAS, tmp, exclude=ASSET_EXCLUDES)
    compile_tree(tmp, sys.executable)
    return tmp


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_every_module_gets_unchecked_hash_bytecode_naming_its_lambda_path(tmp_path: Path) -> None:
    # GIVEN the code staged and compiled
    root = build(tmp_path / "asset")

    # THEN each module has bytecode for this interpreter, hash-based and never re-checked against the source
    for module in root.rglob("*.py"):
        pyc = Path(importlib.util.cache_from_source(str(module)))
        data = pyc.read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
        assert int.from_bytes(data[4:8], "little") == 0b01, pyc  # hash-based, check_source off: UNCHECKED_HASH
        code = marshal.loads(data[16:])
        assert code.co_filename == f"{TASK_ROOT}/{module.relative_to(root).as_posix()}"


def test_two_builds_are_byte_for_byte_equal(tmp_path: Path) -> None:
    # GIVEN the same sources built twice, in different directories (and so at different times and paths)
    # THEN the results are identical, so the asset hash does not change from one synth to the next
    assert digest(build(tmp_path / "one")) == digest(build(tmp_path / "two"))


def test_staging_leaves_out_tests_caches_and_metadata(tmp_path: Path) -> None:
    # GIVEN a source tree with a test directory, a stale cache and packaging metadata
    source = tmp_path / "src"
    for rel in ("pkg/mod.py", "pkg/tests/test_mod.py", "tests/test_top.py", "pkg/__pycache__/mod.cpython-39.pyc",
                "pkg/stale.pyc", "pkg.egg-info/PKG-INFO", "pkg/data.json"):  # fmt: skip
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text("x = 1\n")

    # WHEN it is staged
    stage(source, tmp_path / "out", exclude=ASSET_EXCLUDES)

    # THEN only the module and its data remain
    kept = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert kept == ["pkg/data.json", "pkg/mod.py"]


def test_the_staged_bytecode_is_what_the_interpreter_loads(tmp_path: Path) -> None:
    # GIVEN the built asset, with the sources' text changed afterwards (a read-only /var/task never changes;
    # an unchecked .pyc is loaded without looking at the source)
    root = build(tmp_path / "asset")
    (root / "oomwatch" / "kernel.py").write_text("raise SystemExit('source was compiled instead of the .pyc')\n")

    # WHEN a fresh interpreter imports it, writing no bytecode of its own
    done = subprocess.run(
        [sys.executable, "-B", "-c", "import oomwatch.kernel"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )

    # THEN the shipped bytecode ran
    assert done.returncode == 0, done.stderr


def test_find_python_checks_the_version_it_runs(tmp_path: Path) -> None:
    here = sys.version_info[:2]
    other = (here[0], here[1] + 1)
    assert find_python(here, [sys.executable]) == sys.executable
    assert find_python(other, [sys.executable]) is None  # runs, but it is not that version
    assert find_python(here, [str(tmp_path / "no-such-python"), sys.executable]) == sys.executable
    fake = tmp_path / "python9.9"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    assert find_python((9, 9), [str(fake)]) is None


def test_candidates_start_with_the_running_interpreter_then_path_then_installs(tmp_path: Path) -> None:
    install = tmp_path / ".pyenv" / "versions" / "3.13.0" / "bin" / "python3.13"
    install.parent.mkdir(parents=True)
    install.write_text("")
    assert python_candidates((3, 13), current="/usr/bin/python3", home=tmp_path) == [
        "/usr/bin/python3",
        "python3.13",
        str(install),
    ]
