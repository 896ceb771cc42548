"""The release matrix: each scenario's outcome against several releases of one implementation.

    receiver-conformance matrix reports/matrix/v1.5.0 reports/matrix/v1.6.0 ... \\
        --changes receiver_conformance/flux/releases.yaml --out reports/matrix --readme docs/flux.md

Each report directory is one run (`results.json`); its release is the implementation's
version. A scenario whose outcome is not the same in every release is a change of behaviour;
the changes file names each one (the release it changed in and what changed, traced to the
code), and the Markdown page given with --readme (docs/flux.md) shows the counts per release
plus every changed or failing scenario.
A change that the file does not name is listed as unexplained and makes the command fail.

    - scenarios: [limit-body-over-3mib, ...]   # scenario ids; or scenario: ID
      changed_in: v1.9.3
      change: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiver_conformance import scenario_ids
from receiver_conformance.report import model
from receiver_conformance.report.entries import load_entries

START = "<!-- release-matrix:start -->"
END = "<!-- release-matrix:end -->"
MARKS = {"passed": "pass", "failed": "**fail**", "skipped": "skip", "error": "**error**"}


class ChangesError(Exception):
    """A changes file that cannot be read or lacks a field."""


@dataclass(frozen=True)
class Change:
    scenario: str
    changed_in: str
    change: str


@dataclass
class Matrix:
    releases: list[str]
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)  # scenario id -> release
    names: dict[str, str] = field(default_factory=dict)  # scenario id -> name as shown
    counts: dict[str, model.Counts] = field(default_factory=dict)
    flux: dict[str, str] = field(default_factory=dict)  # release -> what it shipped with

    def changed(self) -> list[str]:
        """Scenarios whose outcome differs between releases (a missing one counts)."""
        return [name for name, row in self.outcomes.items()
                if len({row.get(r, "not run") for r in self.releases}) > 1]

    def failing_everywhere(self) -> list[str]:
        return [name for name, row in self.outcomes.items()
                if all(row.get(r) in ("failed", "error") for r in self.releases)]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.lstrip("v").split("."))


def build(runs: list[dict[str, Any]]) -> Matrix:
    """One matrix from runs of different releases, oldest release first."""
    by_release: dict[str, dict[str, Any]] = {}
    for results in runs:
        run = results.get("run") or {}
        release = (run.get("implementation") or {}).get("version") or "?"
        by_release[release] = results
    matrix = Matrix(sorted(by_release, key=version_key))
    for release in matrix.releases:
        results = by_release[release]
        matrix.counts[release] = model.count(results["scenarios"])
        details = (results.get("target") or {}).get("details") or {}
        matrix.flux[release] = details.get("controllers") or details.get("implementation", "")
        for scenario in results["scenarios"]:
            key = scenario.get("scenario_id") or model.display_name(scenario)
            matrix.names[key] = model.display_name(scenario)
            matrix.outcomes.setdefault(key, {})[release] = scenario["outcome"]
    return matrix


def load_changes(path: Path) -> list[Change]:
    """One Change per scenario; an entry names one `scenario` or a list of `scenarios`."""
    changes = []
    for number, entry in enumerate(load_entries(path, "release change", ("changed_in", "change"),
                                                ChangesError), 1):
        names = entry.get("scenarios") or [entry.get("scenario")]
        if not all(isinstance(n, str) and n for n in names):
            raise ChangesError(f"{path}: release change {number} lacks scenario(s)")
        text = " ".join(entry["change"].split())
        changes += [Change(name, entry["changed_in"], text) for name in names]
    return changes


def change_of(changes: list[Change], key: str) -> Change | None:
    """The change that names the scenario run `key` (by its id, or its outline's)."""
    return next((c for c in changes if scenario_ids.selects(c.scenario, key)), None)


def unexplained(matrix: Matrix, changes: list[Change]) -> list[str]:
    return [key for key in matrix.changed() if change_of(changes, key) is None]


def _row(matrix: Matrix, key: str, note: str) -> str:
    cells = [MARKS.get(matrix.outcomes[key].get(r, ""), "not run") for r in matrix.releases]
    name = matrix.names.get(key, key)
    return f"| {_escape(name)} | " + " | ".join(cells) + f" | {_escape(note)} |"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def summary(matrix: Matrix, changes: list[Change]) -> str:
    """Counts per release, then every scenario that changed or fails in every release; each
    change is told once, in a numbered list under the table."""
    head = "| | " + " | ".join(matrix.releases) + " |"
    rule = "| --- |" + " --- |" * len(matrix.releases)
    lines = [head, rule]
    for label, attr in (("passed", "passed"), ("failed", "failed"), ("skipped", "skipped")):
        lines.append(f"| {label} | " + " | ".join(
            str(getattr(matrix.counts[r], attr)) for r in matrix.releases) + " |")
    told: list[str] = []  # each change's text, numbered by first appearance
    changed = matrix.changed()
    lines += ["", f"Scenarios whose outcome differs between releases ({len(changed)}), and "
              "those failing in every release:", "",
              "| scenario | " + " | ".join(matrix.releases) + " | what changed |",
              "| --- |" + " --- |" * (len(matrix.releases) + 1)]
    for name in changed:
        change = change_of(changes, name)
        note = "**unexplained**"
        if change:
            if change.change not in told:
                told.append(change.change)
            note = f"in {change.changed_in} ({told.index(change.change) + 1})"
        lines.append(_row(matrix, name, note))
    for name in matrix.failing_everywhere():
        lines.append(_row(matrix, name, "fails in every release (known deviation)"))
    lines += ["", *(f"{number}. {text}" for number, text in enumerate(told, 1))]
    return "\n".join(lines) + "\n"


def full_table(matrix: Matrix, changes: list[Change]) -> str:
    """Every scenario against every release (the report's matrix.md)."""
    def note(key: str) -> str:
        change = change_of(changes, key)
        return f"changed in {change.changed_in}: {change.change}" if change else ""

    lines = ["# Release matrix", "",
             *(f"- {r}: {matrix.flux.get(r) or r}" for r in matrix.releases), "",
             "| scenario | " + " | ".join(matrix.releases) + " | note |",
             "| --- |" + " --- |" * (len(matrix.releases) + 1)]
    lines += [_row(matrix, key, note(key))
              for key in sorted(matrix.outcomes, key=lambda k: matrix.names.get(k, k))]
    return "\n".join(lines) + "\n"
