"""The README's settings table names every configuration key (docs/configuration.md explains each)."""

from __future__ import annotations

from pathlib import Path

from infra.config import KEYS

ROOT = Path(__file__).resolve().parents[2]


def test_readme_and_configuration_doc_name_every_key() -> None:
    readme = (ROOT / "README.md").read_text()
    reference = (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in KEYS if f"`{key}`" not in readme or f"`{key}`" not in reference]
    assert not missing, missing
