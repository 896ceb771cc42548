"""The diff's search, shrinking and Gherkin output, against two fake sides."""

from __future__ import annotations

from receiver_conformance.diff import gherkin
from receiver_conformance.diff.model import Built, ReceiverSpec, ReceiverState
from receiver_conformance.diff.runner import Budget, DiffRun
from receiver_conformance.diff.world import Side

READY = ReceiverState(conditions=(("Ready", "True", "Succeeded"),), path="derived")
STALLED = ReceiverState(conditions=(("Ready", "False", "InvalidCELExpression"),
                                    ("Stalled", "True", "InvalidCELExpression")), path="absent")


class FakeCluster:
    """Two sides that agree, except where `right_differs` says the right one does not."""

    def __init__(self, right_differs) -> None:
        self.sides = (Side("left", "reference"), Side("right", "flux"))
        self.right_differs = right_differs
        self.specs: dict[str, ReceiverSpec] = {}
        self.sent: list[Built] = []

    def deploy(self, name: str, spec: ReceiverSpec) -> None:
        self.specs[name] = spec

    def settle(self, name: str, spec: ReceiverSpec):
        right = STALLED if spec.resource_filter == "'test'" else READY
        return {"left": (READY, f"/hook/{name}-l"), "right": (right, f"/hook/{name}-r")}

    def suspend(self, name: str) -> None:
        pass

    def delete_receiver(self, name: str) -> None:
        pass

    def snapshot(self):
        return {}

    def send(self, side: Side, base_url: str, built: Built) -> int:
        self.sent.append(built)
        if side.name == "right" and self.right_differs(built):
            return 500
        return 200


def _run(right_differs, **budget) -> DiffRun:
    run = DiffRun(FakeCluster(right_differs), {"left": "l", "right": "r"},  # type: ignore[arg-type]
                  Budget(**{"seed": 3, "examples": 300, "receivers": 40, **budget}))
    run.run()
    return run


def test_a_request_disagreement_is_shrunk_to_its_minimal_request() -> None:
    run = _run(lambda built: built.body == b"null")
    [finding] = [f for f in run.findings.values() if f.request is not None]
    assert finding.key == ("request", "*", "200", "500", "")
    assert finding.shrunk and not finding.flaky
    req = finding.request
    assert req.body == "null"
    # Everything irrelevant shrank to the strategies' first choices.
    assert (req.path, req.casing, req.content_type, req.mutation) == \
        ("own", "canonical", "application/json", 0)
    assert finding.answers["right"].status == 500 and finding.answers["left"].status == 200
    # ... and the Receiver to the simplest one of the pool.
    assert finding.receiver == run.pool[0].spec
    assert run.figures.requests == 300


def test_a_receiver_disagreement_is_shrunk_to_its_minimal_spec() -> None:
    run = _run(lambda built: False, receivers=200, examples=1)
    [finding] = [f for f in run.findings.values() if f.request is None]
    spec = finding.receiver
    assert spec.resource_filter == "'test'"
    assert spec.type == "generic" and not spec.events and not spec.suspend
    assert len(spec.resources) == 1 and spec.resources[0].filter is None
    assert [d.field for d in finding.differences] == ["conditions", "webhookPath"]


def test_budget_bounds_the_search() -> None:
    run = _run(lambda built: False, examples=25, receivers=5)
    assert run.figures.requests == 25 and len(run.pool) == 5 and not run.findings


def test_gherkin_scenario_format() -> None:
    run = _run(lambda built: built.body == b"null")
    finding = next(f for f in run.findings.values() if f.request is not None)
    text = gherkin.scenario(finding, "reference", "flux")
    lines = text.splitlines()
    assert lines[0].startswith("  # seen ") and "shrunk" in lines[0]
    assert lines[1].startswith("  Scenario: ") and "answered 200 by reference, 500 by flux" \
        in lines[1]
    assert lines[2].startswith("    Given the Secrets ")
    assert '      """yaml' in lines and "      kind: Receiver" in lines
    when = next(line for line in lines if line.startswith("    When "))
    assert "with the body 'null'" in when
    assert lines[-2] == "    Then reference answers 200 and annotates nothing"
    assert lines[-1] == "    But flux answers 500 and annotates nothing"
    assert "/hook/" not in text  # no hook path in a scenario


def test_a_known_disagreement_is_explained_in_the_report(tmp_path) -> None:
    import json

    from receiver_conformance.diff import report
    from receiver_conformance.diff.known import Known, heading

    run = _run(lambda built: built.body == b"null")
    key = heading(next(f for f in run.findings.values() if f.request is not None).key)
    assert key == "request * 200 500"
    assert [heading(f.key) for f in report.unexplained(run, {})] == [
        heading(f.key) for f in run.findings.values() if f.request is None] + [key]
    known = {key: Known(key, "Flux answers 500 for a null body", "Some scenario")}
    assert key not in [heading(f.key) for f in report.unexplained(run, known)]
    report.write(run, tmp_path, 1.0, known)
    assert "Known: Flux answers 500 for a null body (pinned by the scenario \"Some scenario\")" \
        in (tmp_path / "report.md").read_text()
    findings = json.loads((tmp_path / "findings.json").read_text())["findings"]
    assert [f["known"] for f in findings if f["request"]] == ["Flux answers 500 for a null body"]
    assert "1 known" in report.figures_line(run, 1.0, known)
