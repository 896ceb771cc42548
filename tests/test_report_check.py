"""`receiver-conformance report check`: a report the suite wrote passes; an edited one fails."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver_conformance import paths
from receiver_conformance.report import check, conformance
from receiver_conformance.report.features import not_run_results
from tests.checkout import REPO_ROOT

SUITE = not_run_results(paths.FEATURES)
PROFILES = check.suite_profiles(SUITE)


def _results() -> dict[str, Any]:
    """results.json of a run of the whole suite: every run passed but one failed and the
    traffic scenarios skipped."""
    scenarios = []
    for template in SUITE["scenarios"]:
        rows = [f"{template['scenario_id']}/{r}" for r in _rows(template)] or [
            template["scenario_id"]]
        for run in rows:
            outcome = "skipped" if "cap-traffic" in template["tags"] else "passed"
            if run == "token-rotation":
                outcome = "failed"
            scenarios.append({**template, "scenario_id": run, "outcome": outcome,
                              "example": {}, "skip_reason": "lacks traffic"})
    return {"scenarios": scenarios, "target": None, "run": {
        "implementation": {"organization": "acme", "project": "hooks", "version": "1.0.0"},
        "suite": {"version": "0.2.0"}, "target": "external", "receiver": None,
        "profile": "all", "date": "2026-12-07T10:00:00+00:00",
        "flux_api_versions": ["notification.toolkit.fluxcd.io/v1"]}}


def _rows(template: dict[str, Any]) -> list[str]:
    from receiver_conformance.report.model import row_ids

    return row_ids(template)


REPORT = conformance.conformance_report(_results())


def test_a_report_the_suite_wrote_passes() -> None:
    assert len(REPORT["results"]) == 207
    assert check.problems(copy.deepcopy(REPORT), PROFILES) == []


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(report: dict[str, Any]) -> None:
        target = report
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _redigest(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """An edit whose author also recomputed the digest: the counts must still catch it."""
    def both(report: dict[str, Any]) -> None:
        edit(report)
        report["digest"] = conformance.digest(report)
    return both


def _flip(report: dict[str, Any]) -> None:
    next(r for r in report["results"] if r["outcome"] == "failed")["outcome"] = "passed"


EDITS = {
    "an outcome flipped": (_flip, "digest does not match"),
    "an outcome flipped, digest redone": (_redigest(_flip), "statistics: passed says"),
    "a count changed": (_set(("statistics", "failed"), 0), "digest does not match"),
    "the suite version": (_redigest(_set(("suite", "version"), "9.9.9")), "'9.9.9' is not one"),
    "an unknown scenario": (_redigest(_set(("results", 0, "id"), "no-such-scenario")),
                            "does not have: no-such-scenario"),
    "no project": (_redigest(_set(("implementation", "project"), "")),
                   "implementation.project is missing"),
    "no digest": (lambda r: r.pop("digest"), "digest: missing"),
    "another kind": (_redigest(_set(("kind",), "Report")), "not a ConformanceReport"),
}


@pytest.mark.parametrize("edit", EDITS, ids=str)
def test_an_edited_report_fails_with_the_reason(edit: str) -> None:
    change, says = EDITS[edit]
    report = copy.deepcopy(REPORT)
    change(report)
    found = check.problems(report, PROFILES)
    assert any(says in problem for problem in found), found


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver_conformance.cli", "report", "check",
                           *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_the_command_exits_0_1_or_2(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(REPORT, sort_keys=False))
    edited = tmp_path / "edited.yaml"
    edited.write_text(good.read_text().replace("outcome: failed", "outcome: passed"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [")
    done = _cli(str(good))
    assert done.returncode == 0 and done.stdout.startswith(f"{good}: ok (207 results"), done
    done = _cli(str(good), str(edited))
    assert done.returncode == 1 and f"{edited}: INVALID: " in done.stdout, done
    done = _cli(str(broken))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "is not YAML" in done.stderr
