"""Timings a scenario records reach results.json, report.md and report.html."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from receiver_conformance.report import model, timings
from receiver_conformance.report.html import render_html
from receiver_conformance.report.markdown import render_markdown

pytest_plugins = ["pytester"]

RECORDED = Path(__file__).parent / "data" / "recorded_run" / "results.json"
PUSH = [
    {"name": "push → revision", "seconds": 0.412, "instead_of": "the GitRepository's interval",
     "instead_of_seconds": 3600.0},
    {"name": "push → applied", "seconds": 1.5, "instead_of": "the GitRepository's interval",
     "instead_of_seconds": 3600.0},
]


def test_record_keeps_timings_in_order(request: pytest.FixtureRequest) -> None:
    timings.record(request, "push → revision", 0.41234, "the interval", 3600)
    timings.record(request, "push → applied", 1.5)
    assert timings.collected(request.node) == [
        {"name": "push → revision", "seconds": 0.412, "instead_of": "the interval",
         "instead_of_seconds": 3600},
        {"name": "push → applied", "seconds": 1.5},
    ]


def test_timing_rows() -> None:
    rows = model.timing_rows({"timings": [*PUSH, {"name": "other", "seconds": 2}]})
    assert rows == [
        ("push → revision", "0.41 s", "the GitRepository's interval (60 min 0 s)"),
        ("push → applied", "1.50 s", "the GitRepository's interval (60 min 0 s)"),
        ("other", "2.00 s", "—"),
    ]


@pytest.fixture
def results() -> dict[str, Any]:
    recorded = model.load_results(RECORDED)
    results = copy.deepcopy(recorded)
    results["scenarios"][0]["timings"] = PUSH
    return results


def test_markdown_shows_timings_in_a_summary_and_under_the_scenario(
    results: dict[str, Any]
) -> None:
    text = render_markdown(results)
    name = model.display_name(results["scenarios"][0])
    assert "## Timings" in text
    summary = text.split("## Timings", 1)[1]
    assert (f"| {name} | push → revision | 0.41 s | the GitRepository's interval "
            "(60 min 0 s) |") in summary
    scenario = text.split(f"{name} (", 1)[1]
    assert "| push → applied | 1.50 s | the GitRepository's interval (60 min 0 s) |" in scenario


def test_markdown_without_timings_has_no_section() -> None:
    assert "## Timings" not in render_markdown(model.load_results(RECORDED))


def test_html_shows_timings(results: dict[str, Any]) -> None:
    page = render_html(results)
    assert "<th>Measured</th><th>Took</th><th>Instead of</th>" in page
    assert "<td>push → revision</td><td>0.41 s</td>" in page


FEATURE = """\
Feature: Timed
  Scenario: Something is measured
    Given a measured step
"""

TESTS = """\
from pytest_bdd import given, scenarios

from receiver_conformance.report import timings

scenarios("timed.feature")


@given("a measured step")
def measured(request):
    timings.record(request, "push → revision", 0.25, "the interval", 60.0)
"""


def test_results_json_carries_the_timings(pytester: pytest.Pytester) -> None:
    pytester.makefile(".feature", timed=FEATURE)
    pytester.makepyfile(test_timed=TESTS)
    out = pytester.path / "results.json"
    run = pytester.runpytest_subprocess("-p", "receiver_conformance.report.collector",
                                        f"--results-json={out}")
    run.assert_outcomes(passed=1)
    [scenario] = json.loads(out.read_text())["scenarios"]
    assert scenario["timings"] == [{"name": "push → revision", "seconds": 0.25,
                                    "instead_of": "the interval", "instead_of_seconds": 60.0}]
