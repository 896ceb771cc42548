"""Stable scenario ids: every scenario and outline row has one, each is unique, and everything
the project says about a scenario names it by an id that exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from receiver_conformance import paths, scenario_ids
from receiver_conformance.invocation import pytest_argv
from receiver_conformance.report import deviations, matrix
from receiver_conformance.scenario_ids import ScenarioIdError
from tests.test_suite_teeth import CASES

CATALOGUE = scenario_ids.catalogue(paths.FEATURES)


def test_every_scenario_and_row_has_one_unique_id() -> None:
    assert CATALOGUE.problems == ()
    assert len(set(CATALOGUE.scenarios)) == len(CATALOGUE.scenarios) == 103
    assert len(set(CATALOGUE.runs)) == len(CATALOGUE.runs) == 207


def _referenced() -> list[tuple[str, str]]:
    """(where, id) for every scenario the project's files name."""
    refs = [("deviations.yaml", d.scenario) for d in deviations.load(paths.FLUX_DEVIATIONS)]
    refs += [("releases.yaml", c.scenario) for c in matrix.load_changes(paths.FLUX_RELEASE_CHANGES)]
    disagreements = yaml.safe_load(paths.FLUX_DISAGREEMENTS.read_text())
    refs += [("disagreements.yaml", d["deviation"]) for d in disagreements if "deviation" in d]
    refs += [(f"teeth {case.flaw}", name) for case in CASES for name in case.selected]
    return refs


def test_every_reference_names_a_scenario() -> None:
    references = _referenced()
    assert len({where.split()[0] for where, _ in references}) == 4
    unknown = [f"{where}: {scenario}" for where, scenario in references
               if not CATALOGUE.known(scenario)]
    assert not unknown, "ids that no scenario has:\n" + "\n".join(unknown)


@pytest.mark.parametrize(("text", "ok"), [
    ("token-rotation", True), ("github-delivery-refused/no-signature", True), ("a1", True),
    ("Token-rotation", False), ("token_rotation", False), ("a/b/c", False), ("a-", False),
    ("", False), ("a//b", False),
])
def test_id_names_are_lower_case_words(text: str, ok: bool) -> None:
    if ok:
        assert scenario_ids.check_name(text) == text
    else:
        with pytest.raises(ScenarioIdError):
            scenario_ids.check_name(text)


def test_an_outline_id_selects_its_rows_only() -> None:
    assert scenario_ids.selects("oidc-bad-token", "oidc-bad-token/expired")
    assert scenario_ids.selects("oidc-bad-token/expired", "oidc-bad-token/expired")
    assert not scenario_ids.selects("oidc-bad-token", "oidc-bad-token-other")
    assert not scenario_ids.selects("oidc-bad-token/expired", "oidc-bad-token")


BROKEN_FEATURES = {
    "no id": ("  Scenario: untagged\n    Given x\n", "0 id tags"),
    "two ids": ("  @id:a @id:b\n  Scenario: twice\n    Given x\n", "2 id tags"),
    "duplicate": ("  @id:a\n  Scenario: one\n    Given x\n\n  @id:a\n  Scenario: two\n"
                  "    Given x\n", "id 'a' used twice"),
    "row without id": ("  @id:o\n  Scenario Outline: o <v>\n    Given <v>\n\n    Examples:\n"
                       "      | v |\n      | 1 |\n", "without a well-formed id"),
    "duplicate row": ("  @id:o\n  Scenario Outline: o <v>\n    Given <v>\n\n    Examples:\n"
                      "      | id | v |\n      | r  | 1 |\n      | r  | 2 |\n",
                      "row id 'o/r' used twice"),
}


@pytest.mark.parametrize("case", BROKEN_FEATURES, ids=str)
def test_the_catalogue_names_what_is_wrong(tmp_path: Path, case: str) -> None:
    body, says = BROKEN_FEATURES[case]
    (tmp_path / "f.feature").write_text("Feature: f\n\n" + body)
    problems = scenario_ids.catalogue(tmp_path).problems
    assert any(says in p for p in problems), problems


def _collect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*pytest_argv(), "--collect-only", "-q", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_scenario_selects_an_outline_or_one_row() -> None:
    done = _collect("--scenario", "github-delivery-refused", "--scenario",
                    "oidc-bad-token/expired", "--scenario", "token-rotation")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10/207 tests collected (197 deselected)" in done.stdout, done.stdout


def test_an_unknown_scenario_id_exits_2_with_one_line() -> None:
    done = _collect("--scenario", "token-rotation/no-such-row")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--scenario: no scenario has the id token-rotation/no-such-row" in (
        done.stdout + done.stderr)


def test_id_tags_are_not_marks() -> None:
    """Collected in a plain pytest session (as `make test` collects the steps' own test), an
    id tag must not reach pytest as an unknown mark."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-W", "error::pytest.PytestUnknownMarkWarning", str(paths.PACKAGE / "steps")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "207 tests collected" in done.stdout


def _results(*runs: tuple[str, str]) -> dict:
    return {"run": {"implementation": {"organization": "acme", "project": "hooks",
                                       "version": "v1"}},
            "scenarios": [{"scenario_id": run, "name": run, "outcome": outcome}
                          for run, outcome in runs]}


@pytest.mark.parametrize(("named", "runs", "explained", "unexplained", "stale"), [
    ("o/a", [("o/a", "failed"), ("o/b", "failed")], 1, 1, False),
    ("o", [("o/a", "failed"), ("o/b", "passed")], 1, 0, False),  # an outline's id: its rows
    ("o", [("o/a", "passed"), ("o/b", "passed")], 0, 0, True),  # fails no more: stale
    ("o", [("other", "failed")], 0, 1, False),  # did not run: not stale
    ("o", [("o-x", "failed")], 0, 1, False),  # a prefix of words is not an outline
])
def test_deviations_name_scenarios_by_id(named: str, runs: list[tuple[str, str]],
                                         explained: int, unexplained: int, stale: bool) -> None:
    known = [deviations.Deviation("acme/hooks", ("v1",), named, "a cause")]
    verdict = deviations.mark(_results(*runs), known)
    assert (verdict.explained, verdict.unexplained, bool(verdict.stale)) == (
        explained, unexplained, stale)
