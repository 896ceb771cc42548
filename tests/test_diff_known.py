"""The known-disagreements file of `receiver-conformance diff`."""

from __future__ import annotations

from pathlib import Path

from receiver_conformance.diff import known


def test_entries_are_keyed_by_heading_and_causes_read_as_one_line(tmp_path: Path) -> None:
    path = tmp_path / "known.yaml"
    path.write_text("- key: request cdevents 400 200 annotated\n  cause: >-\n    one\n    two\n")
    entry = known.load(path)[known.heading(("request", "cdevents", "400", "200", "annotated"))]
    assert entry.cause == "one two" and entry.deviation is None


def test_the_heading_drops_empty_parts() -> None:
    assert known.heading(("request", "*", "200", "500", "")) == "request * 200 500"


