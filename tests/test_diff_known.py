"""The known-disagreements file of `receiver-conformance diff`."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.diff import known


@pytest.mark.parametrize(
    ("content", "says"),
    [("{a: [", "cannot read known disagreements"), ("a: 1", "expected a list"),
     ("- key: request * 200 500", "known disagreement 1 lacks cause"),
     ("- cause: x", "known disagreement 1 lacks key")],
    ids=["yaml", "not-a-list", "no-cause", "no-key"],
)
def test_a_bad_file_is_one_clear_error(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "known.yaml"
    path.write_text(content)
    with pytest.raises(known.KnownError, match=says):
        known.load(path)


def test_entries_are_keyed_by_heading_and_causes_read_as_one_line(tmp_path: Path) -> None:
    path = tmp_path / "known.yaml"
    path.write_text("- key: request cdevents 400 200 annotated\n  cause: >-\n    one\n    two\n")
    entry = known.load(path)[known.heading(("request", "cdevents", "400", "200", "annotated"))]
    assert entry.cause == "one two" and entry.deviation is None


def test_the_heading_drops_empty_parts() -> None:
    assert known.heading(("request", "*", "200", "500", "")) == "request * 200 500"


