"""The corpus excerpts the benchmarks play: kernel text of every excerpt whose kills are all the kernel's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))


def kernel_excerpts() -> list[list[str]]:
    """Per corpus file with kernel kills only: its kernel text, prefixes and comment lines removed."""
    from oomwatch.transport import parse_line

    excerpts = []
    for path in sorted(CORPUS.glob("*.log")):
        expected = json.loads((CORPUS / "expected" / (path.stem + ".json")).read_text())
        if not expected["kills"] or any(k["source"] != "kernel" for k in expected["kills"]):
            continue
        lines: list[str] = []
        for raw in path.read_text(encoding="utf-8", errors="replace").split("\n"):
            if raw.startswith("# ") or not raw.strip():
                continue
            lines.extend(rec.text for rec in parse_line(raw) if rec.kernel)
        excerpts.append(lines)
    return excerpts
