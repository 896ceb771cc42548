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




def test_a_request_finding_names_its_cause_in_the_body() -> None:
    """Two disagreements with the same statuses but different bodies are two findings, so
    that an entry explains one cause, not every disagreement of the same shape."""
    from receiver_conformance.diff import compare, generator
    from receiver_conformance.diff.model import Answer, RequestSpec

    causes = {generator.body_cause(RequestSpec(body="mutated", mutation=m))
              for m in range(generator.MUTATIONS)}
    assert len(causes) == generator.MUTATIONS
    assert generator.body_cause(RequestSpec()) == ""
    assert generator.body_cause(RequestSpec(body="null")) == "body null"
    left = right = Answer(status=400, annotated=frozenset())
    key = compare.request_key("cdevents", left, right, "body nested field dropped")
    assert known.heading(key) == "request cdevents 400 400 body nested field dropped"
