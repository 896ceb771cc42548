"""The release matrix: runs of several releases become one table, each change named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from receiver_conformance.report import matrix
from tests.checkout import REPO_ROOT

SAME = "A signed push is accepted"
CHANGED = "Hostile requests leave nothing in the log"
BROKEN = "A body missing its id is refused"


def run(version: str, outcomes: dict[str, str]) -> dict[str, Any]:
    return {
        "run": {"implementation": {"organization": "fluxcd", "version": version,
                                   "project": "notification-controller"}},
        "target": {"details": {"controllers": f"notification-controller {version}"}},
        "scenarios": [{"name": name, "example": {}, "outcome": outcome}
                      for name, outcome in outcomes.items()],
    }


RUNS = [  # given newest first: the matrix orders them by version
    run("v1.10.0", {SAME: "passed", CHANGED: "failed", BROKEN: "failed"}),
    run("v1.5.0", {SAME: "passed", CHANGED: "passed", BROKEN: "failed"}),
    run("v1.9.3", {SAME: "passed", CHANGED: "failed", BROKEN: "failed"}),
]
NAMED = [matrix.Change(CHANGED, "v1.9.3", "logs the digest")]


def test_releases_are_ordered_by_version_not_by_text() -> None:
    assert matrix.build(RUNS).releases == ["v1.5.0", "v1.9.3", "v1.10.0"]


@pytest.mark.parametrize(
    ("rows", "changed", "everywhere"),
    [
        ({SAME: ["passed", "passed"]}, [], []),
        ({SAME: ["passed", "failed"]}, [SAME], []),
        ({SAME: ["failed", "failed"]}, [], [SAME]),
        ({SAME: ["skipped", "passed"]}, [SAME], []),
        ({SAME: ["passed", None]}, [SAME], []),  # not run in one release
    ],
    ids=["same", "changed", "failing-everywhere", "skip-then-pass", "missing"],
)
def test_what_counts_as_a_change(rows: dict[str, list[str | None]], changed: list[str],
                                 everywhere: list[str]) -> None:
    runs = [run(v, {name: got[i] for name, got in rows.items() if got[i]})
            for i, v in enumerate(("v1.5.0", "v1.6.0"))]
    built = matrix.build(runs)
    assert built.changed() == changed
    assert built.failing_everywhere() == everywhere


def test_the_summary_counts_each_release_and_names_each_change() -> None:
    text = matrix.summary(matrix.build(RUNS), NAMED)
    assert "| | v1.5.0 | v1.9.3 | v1.10.0 |" in text
    assert "| passed | 2 | 1 | 1 |" in text
    assert f"| {CHANGED} | pass | **fail** | **fail** | in v1.9.3 (1) |" in text
    assert text.endswith("\n1. logs the digest\n")
    assert f"| {BROKEN} | **fail** | **fail** | **fail** | fails in every release" in text
    assert SAME not in text


def test_an_unnamed_change_is_unexplained() -> None:
    built = matrix.build(RUNS)
    assert matrix.unexplained(built, NAMED) == []
    assert matrix.unexplained(built, []) == [CHANGED]
    assert "**unexplained**" in matrix.summary(built, [])


def test_the_full_table_has_every_scenario_and_what_each_release_ran() -> None:
    text = matrix.full_table(matrix.build(RUNS), NAMED)
    assert "- v1.5.0: notification-controller v1.5.0" in text
    for name in (SAME, CHANGED, BROKEN):
        assert f"| {name} |" in text


def test_one_entry_may_name_several_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "changes.yaml"
    path.write_text("- scenarios: [a, b]\n  changed_in: v1.9.3\n  change: >-\n    one\n    two\n")
    assert matrix.load_changes(path) == [matrix.Change("a", "v1.9.3", "one two"),
                                         matrix.Change("b", "v1.9.3", "one two")]


def test_the_command_writes_the_table_and_fails_on_an_unexplained_change(
    tmp_path: Path,
) -> None:
    dirs = []
    for results in RUNS:
        folder = tmp_path / results["run"]["implementation"]["version"]
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps({
            "schema": 1, "started": "2026-11-30T00:00:00+00:00", "duration": 1.0,
            "pytest_exit_status": 1, "features": [], **results}))
        dirs.append(str(folder))
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{matrix.START}\nold\n{matrix.END}\nafter\n")
    changes = tmp_path / "changes.yaml"
    changes.write_text("[]\n")
    argv = [sys.executable, "-m", "receiver_conformance.cli", "matrix", *dirs, "--changes", str(changes),
            "--out", str(tmp_path / "out"), "--readme", str(readme)]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"not named in {changes}: {CHANGED}" in done.stderr
    assert "| passed | 2 | 1 | 1 |" in readme.read_text()
    assert readme.read_text().endswith(f"{matrix.END}\nafter\n")
    assert (tmp_path / "out" / "matrix.md").is_file()
