"""The layers of docs/architecture.md hold: imports only go down (handlers -> logic -> dal -> models), the parser
imports nothing of the service, and only the data-access layer (and start-up wiring) imports an AWS library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
#: layer -> the layers it may import from (besides itself and the standard library)
ALLOWED = {
    "oomwatch": set(),
    "service": set(),  # the package itself: its docstring only
    "service.models": {"oomwatch"},
    "service.dal": {"oomwatch", "service.models"},
    "service.logic": {"oomwatch", "service.models", "service.dal"},
    "service.wiring": {"oomwatch", "service.models", "service.dal", "service.logic"},
    "service.handlers": {"oomwatch", "service.models", "service.dal", "service.logic", "service.wiring"},
}
AWS = ("boto3", "botocore")


def _layer(module: str) -> str | None:
    return next((layer for layer in sorted(ALLOWED, key=len, reverse=True) if module == layer or
                 module.startswith(layer + ".")), None)  # fmt: skip


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names if node.module in ("service", "service.logic")]
    return out


MODULES = sorted(p for p in LAMBDAS.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LAMBDAS)))
def test_imports_only_go_down_the_layers(path: Path) -> None:
    # GIVEN a module of the Lambda code and its layer
    module = ".".join(path.relative_to(LAMBDAS).with_suffix("").parts).removesuffix(".__init__")
    own = _layer(module)
    assert own is not None, f"{module} belongs to no layer of docs/architecture.md"
    # THEN everything it imports of ours is its own layer or one below
    for imported in _imports(path):
        target = _layer(imported)
        if target is not None and target != own:
            assert target in ALLOWED[own], f"{module} ({own}) imports {imported} ({target})"


#: The CLI's AWS commands (``oomwatch mute``, the ``aws`` extra): boto3 inside their functions only, never when
#: ``oomwatch`` is imported, so ``oomwatch scan`` stays standard library only.
LAZY_AWS = {"oomwatch.mute_store"}


def _top_level_imports(path: Path) -> list[str]:
    """The imports that run when the module is imported (module level, and under its top-level if/try)."""
    out: list[str] = []
    todo = list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.If | ast.Try):
            todo += [*node.body, *node.orelse, *getattr(node, "finalbody", []),
                     *(h for handler in getattr(node, "handlers", []) for h in handler.body)]  # fmt: skip
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LAMBDAS)))
def test_only_data_access_and_wiring_import_aws_libraries(path: Path) -> None:
    module = ".".join(path.relative_to(LAMBDAS).with_suffix("").parts)
    if _layer(module) in ("service.dal", "service.wiring", "service.handlers"):
        return
    if module in LAZY_AWS:
        aws = [name for name in _top_level_imports(path) if name.split(".")[0] in AWS]
        assert aws == [], f"{module} imports {aws} at import time: only inside the functions that call AWS"
        assert any(name.split(".")[0] in AWS for name in _imports(path)), f"{module} no longer needs LAZY_AWS"
        return
    aws = [name for name in _imports(path) if name.split(".")[0] in AWS]
    assert aws == [], f"{module} imports {aws}: AWS access belongs in service/dal"


def test_importing_oomwatch_and_its_cli_loads_no_aws_library() -> None:
    # GIVEN a fresh interpreter WHEN it imports the CLI (and with it every command, mute included)
    import subprocess
    import sys

    code = "import sys, oomwatch.cli, oomwatch.mutes_cli; print(sorted(m for m in sys.modules if m.split('.')[0] in "
    code += f"{AWS!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(LAMBDAS)})  # fmt: skip
    # THEN no AWS library was loaded
    assert out.stdout.strip() == "[]"
