"""The Lambda code asset with its bytecode: built locally (no Docker), byte-for-byte the same on every synth.

Pure (no CDK import): ``infra.processing.LocalAssetBuild`` wires it into CDK's local bundling, and the
cold-import benchmark (``bench/bench_cold_import.py``) builds the same asset with it.

Why: the Lambda runtime's code directory (``/var/task``) is read-only, so without ``__pycache__`` in the zip
every cold start compiles every module it imports (``make bench``: bench/bench_cold_import.py measures it).

Bytecode is interpreter-specific: ``__pycache__/x.cpython-313.pyc`` is used only by CPython 3.13 (magic
number and tag), so it must be compiled by a 3.13 interpreter, whatever Python runs ``cdk synth``.
:func:`find_python` looks for one; without one the asset ships the sources only (the functions still work,
each cold start compiles) and synth says so in an info message (docs/deploy.md).

Deterministic: ``PycInvalidationMode.UNCHECKED_HASH`` puts the source's hash in the header instead of its
mtime, and never re-checks it (the files in a deployed zip cannot change), ``dfile`` fixes the file name
recorded in the code objects (``/var/task/<path>``, where Lambda unpacks the zip) and the files are
compiled in sorted order, so two synths of the same sources give the same bytes and the same asset hash
(``AssetHashType.OUTPUT``).
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Final

#: Kept out of the code asset: tests, caches (the asset's own bytecode is compiled fresh) and packaging metadata.
ASSET_EXCLUDES: Final = ("tests", "**/tests", "**/__pycache__", "**/*.pyc", "**/*.egg-info")
#: Where Lambda unpacks a function's zip: the file names tracebacks show.
TASK_ROOT: Final = "/var/task"

#: Run by the target interpreter: compile every ``.py`` below ``argv[1]`` (sorted) for that interpreter.
_COMPILE = """
import py_compile, sys
from pathlib import Path
root = Path(sys.argv[1])
for source in sorted(root.rglob("*.py")):
    rel = source.relative_to(root).as_posix()
    py_compile.compile(str(source), dfile=sys.argv[2] + "/" + rel, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(sys.implementation.cache_tag)
"""


def _version_of(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    major, _, minor = out.stdout.strip().partition(".")
    return (int(major), int(minor)) if out.returncode == 0 and major.isdigit() and minor.isdigit() else None


def find_python(version: tuple[int, int], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` (executables or names on PATH) that runs and is CPython ``version``."""
    for candidate in candidates:
        executable = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if executable and _version_of(executable) == version:
            return executable
    return None


def python_candidates(version: tuple[int, int], *, current: str, home: Path) -> list[str]:
    """Where a CPython ``version`` usually is: the running interpreter, ``pythonX.Y`` on PATH, then pyenv's
    and uv's installs under ``home``."""
    name = "python{}.{}".format(*version)
    installs = sorted(home.glob(f".pyenv/versions/{version[0]}.{version[1]}.*/bin/{name}"), reverse=True)
    installs += sorted(
        home.glob(f".local/share/uv/python/cpython-{version[0]}.{version[1]}.*/bin/{name}"), reverse=True
    )
    return [current, name, *(str(p) for p in installs)]


def stage(source: Path, output: Path, *, exclude: Sequence[str]) -> None:
    """Copy ``source`` into ``output`` without the paths ``exclude`` matches (CDK's glob style, roughly:
    each pattern is matched against the relative path and against every parent directory)."""

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern.removeprefix("**/"))
            for pattern in exclude
            for p in prefixes + parts
        )

    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if excluded(rel):
            continue
        target = output / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def compile_tree(directory: Path, python: str) -> str:
    """Compile every module below ``directory`` with ``python``; returns its cache tag (``cpython-313``)."""
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [python, "-I", "-c", _COMPILE, str(directory), TASK_ROOT],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"compiling the Lambda code with {python} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()
