"""Read the real OOM excerpts in tests/corpus as the README there says: drop the `# ` comment lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "lambdas" / "oomwatch" / "event.schema.json"


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.log"))
    assert files, f"the OOM corpus is missing at {CORPUS}"
    return files


def corpus_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.split("\n") if not (line.startswith("# ") or line == "#")]


def expected(path: Path) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((CORPUS / "expected" / f"{path.stem}.json").read_text())
    return list(data["kills"])


def corpus_file(number: str) -> Path:
    (match,) = CORPUS.glob(f"{number}_*.log")
    return match


@cache
def validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid(event: Mapping[str, Any]) -> None:
    errors = sorted(validator().iter_errors(event), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


# Label field -> path in the event.
LABEL_PATHS: dict[str, tuple[str, ...]] = {
    "source": ("source",),
    "constraint": ("constraint",),
    "victim_pid": ("victim", "pid"),
    "victim_comm": ("victim", "comm"),
    "uid": ("victim", "uid"),
    "total_vm_kb": ("victim", "total_vm_kb"),
    "anon_rss_kb": ("victim", "anon_rss_kb"),
    "file_rss_kb": ("victim", "file_rss_kb"),
    "shmem_rss_kb": ("victim", "shmem_rss_kb"),
    "oom_score_adj": ("victim", "oom_score_adj"),
    "trigger_comm": ("trigger", "comm"),
    "task_memcg": ("cgroup", "task_memcg"),
    "oom_memcg": ("cgroup", "oom_memcg"),
}


def dig(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        if value is None:
            return None
        value = value.get(key)
    return value
