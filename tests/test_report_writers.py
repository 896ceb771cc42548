"""conformance-report.yaml, report.md and results.json written from a recorded run."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver_conformance.capabilities import KNOWN_CAPABILITIES
from receiver_conformance.report import model, write_reports
from receiver_conformance.report.conformance import API_VERSION, KIND, conformance_report
from receiver_conformance.report.markdown import render_markdown

RECORDED = Path(__file__).parent / "data" / "recorded_run" / "results.json"


@pytest.fixture
def results() -> dict[str, Any]:
    return model.load_results(RECORDED)


@pytest.fixture
def written(results: dict[str, Any], tmp_path: Path) -> Path:
    write_reports(results, tmp_path)
    return tmp_path


def test_write_reports_writes_every_file(written: Path) -> None:
    names = sorted(p.name for p in written.iterdir())
    assert names == ["conformance-report.yaml", "report.html", "report.md", "results.json"]
    assert json.loads((written / "results.json").read_text()) == model.load_results(RECORDED)


def test_yaml_header_and_implementation(written: Path) -> None:
    report = yaml.safe_load((written / "conformance-report.yaml").read_text())
    assert report["apiVersion"] == API_VERSION
    assert report["kind"] == KIND
    assert report["implementation"] == {
        "organization": "example",
        "project": "reference-receiver",
        "version": "0.1.0",
        "url": "https://example.invalid/reference-receiver",
    }
    assert report["suite"] == {
        "version": "0.1.0",
        "commit": "0123456789abcdef0123456789abcdef01234567",
    }
    assert report["date"] == "2025-11-24T09:30:00+00:00"
    assert report["target"] == "embedded"
    assert report["result"] == "failure"
    assert report["statistics"] == {"passed": 4, "failed": 2, "skipped": 2}


@pytest.mark.parametrize(
    ("profile", "result", "statistics", "failed"),
    [
        ("core", "failure", {"passed": 3, "failed": 2, "skipped": 0}, 2),
        ("extended", "partial", {"passed": 1, "failed": 0, "skipped": 2}, 0),
    ],
)
def test_yaml_profiles(
    results: dict[str, Any], profile: str, result: str, statistics: dict[str, int], failed: int
) -> None:
    profiles = {p["name"]: p for p in conformance_report(results)["profiles"]}
    assert list(profiles) == ["core", "extended"]
    assert profiles[profile]["result"] == result
    assert profiles[profile]["statistics"] == statistics
    assert len(profiles[profile]["failedScenarios"]) == failed


def test_yaml_lists_every_skipped_scenario_with_its_reason(results: dict[str, Any]) -> None:
    skipped = conformance_report(results)["skippedScenarios"]
    assert [s["scenario"] for s in skipped] == [
        "a push travels through the Ingress",
        "NetworkPolicy admits the ingress controller",
    ]
    assert all("lacks capability" in s["reason"] for s in skipped)


def test_yaml_capabilities_from_the_recorded_target(results: dict[str, Any]) -> None:
    capabilities = conformance_report(results)["capabilities"]
    supported = ["api", "exposure-objects", "fresh-namespaces", "gcr-test-keys"]
    assert capabilities["supported"] == supported
    assert capabilities["unsupported"] == sorted(set(KNOWN_CAPABILITIES) - set(supported))
    assert "traffic" in capabilities["unsupported"]


def test_capabilities_inferred_without_a_recorded_target(results: dict[str, Any]) -> None:
    results["target"] = None
    capabilities = conformance_report(results)["capabilities"]
    assert capabilities["supported"] == ["api", "exposure-objects"]
    assert capabilities["unsupported"] == ["network-policy-enforcement", "traffic"]


@pytest.mark.parametrize(
    ("outcomes", "result"),
    [
        (["passed", "passed"], "success"),
        (["passed", "skipped"], "partial"),
        (["skipped"], "partial"),
        (["passed", "failed", "skipped"], "failure"),
        ([], "not run"),
        (["not run"], "not run"),
    ],
)
def test_result_of(outcomes: list[str], result: str) -> None:
    assert model.result_of(model.count([{"outcome": o} for o in outcomes])) == result


def test_markdown_summary_then_features(results: dict[str, Any]) -> None:
    text = render_markdown(results)
    assert text.startswith("# Receiver conformance report\n")
    assert "**Result: FAILURE** — 4 passed, 2 failed, 2 skipped" in text
    assert "| core | failure | 3 | 2 | 0 |" in text
    assert "| extended | partial | 1 | 0 | 2 |" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Skipped scenarios",
        "## The webhook token and the Receiver",
        "## GitHub push events",
        "## Exposing the receiver",
    ]


def test_markdown_failures_carry_evidence(results: dict[str, Any]) -> None:
    text = render_markdown(results)
    assert "### ❌ FAIL events outside spec.events are refused [event=release]" in text
    assert "**the request sent**" in text
    assert '"X-GitHub-Event": "release"' in text
    assert "**the Receiver's status observed**" in text
    assert text.count("> Skipped: target embedded lacks capability") == 2


def test_markdown_escapes_table_cells(results: dict[str, Any]) -> None:
    odd = copy.deepcopy(results)
    odd["run"]["tags"] = "core | extended"
    assert "| Tags | core \\| extended |" in render_markdown(odd)


def test_load_results_refuses_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"features": []}')
    with pytest.raises(model.ResultsError, match="no 'scenarios' list"):
        model.load_results(bad)
    bad.write_text("{not json")
    with pytest.raises(model.ResultsError, match="cannot read results"):
        model.load_results(bad)
