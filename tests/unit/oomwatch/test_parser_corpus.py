"""Every real excerpt in tests/corpus gives exactly the kills of its hand-made label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oomwatch import parse_lines

from tests.support.corpus import LABEL_PATHS, SCHEMA_PATH, assert_valid, corpus_files, corpus_lines, dig, expected


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.stem[:40])
def test_corpus_file_gives_exactly_the_labelled_kills(path: Path) -> None:
    # GIVEN a real excerpt and its label
    labels = expected(path)

    # WHEN it is parsed
    events = parse_lines(corpus_lines(path))

    # THEN there is one event per labelled kill, in order, agreeing on every field the label fills
    assert len(events) == len(labels), [e["victim"]["pid"] for e in events]
    for event, label in zip(events, labels, strict=True):
        for field, want in label.items():
            if want is not None:
                assert dig(event, LABEL_PATHS[field]) == want, (field, event["kill_line"])
        assert_valid(event)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))


def test_the_schema_rejects_an_event_missing_a_required_field() -> None:
    # GIVEN a real event with its victim block removed
    (parsed,) = parse_lines(corpus_lines(corpus_files()[0]))
    event = dict(parsed)
    del event["victim"]

    # THEN validation fails (the schema is not a rubber stamp)
    with pytest.raises(AssertionError, match="victim"):
        assert_valid(event)


def test_docs_describe_every_event_field() -> None:
    # docs/events.md is the field reference users read: it must not drift from the schema.
    docs = (SCHEMA_PATH.parents[2] / "docs" / "events.md").read_text()
    schema = json.loads(SCHEMA_PATH.read_text())
    missing = [name for name in schema["properties"] if f"`{name}" not in docs]
    missing += [f"victim.{n}" for n in schema["properties"]["victim"]["properties"] if f"{n}`" not in docs]
    assert not missing, missing
