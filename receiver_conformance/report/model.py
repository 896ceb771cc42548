"""Summaries of a run's results that every report format shares.

A *results* dict has the shape the collector writes to ``results.json``: ``features``,
``scenarios`` (each with ``outcome`` passed/failed/skipped/"not run"), ``target`` and, once
the CLI has added it, ``run`` (implementation, target name, profile, suite version, date).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver_conformance.capabilities import KNOWN_CAPABILITIES

PROFILES = ("core", "extended")
CAPABILITY_TAG_PREFIX = "cap-"


class ResultsError(Exception):
    """A results.json that cannot be read."""


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.not_run

    def line(self) -> str:
        """The closing line of a run: 'N passed, N failed, N skipped'."""
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def load_results(path: Path) -> dict[str, Any]:
    """A results.json, checked for the fields the reports need."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"cannot read results {path}: {exc}") from exc
    if not isinstance(results, dict) or not isinstance(results.get("scenarios"), list):
        raise ResultsError(f"{path} has no 'scenarios' list")
    return results


def count(scenarios: list[dict[str, Any]]) -> Counts:
    outcomes = [s["outcome"] for s in scenarios]
    return Counts(
        passed=outcomes.count("passed"),
        failed=outcomes.count("failed"),
        skipped=outcomes.count("skipped"),
        not_run=outcomes.count("not run"),
    )


def runs_of(scenario: dict[str, Any]) -> int:
    """How many times a scenario runs: once, or once per example row of an outline."""
    rows = sum(len(examples["rows"]) for examples in scenario.get("examples", []))
    return rows or 1


def row_ids(scenario: dict[str, Any]) -> list[str]:
    """The ids of an outline's example rows (their `id` column), as a not-run record lists them."""
    ids = []
    for examples in scenario.get("examples", []):
        if "id" in examples["header"]:
            column = examples["header"].index("id")
            ids += [row[column] for row in examples["rows"]]
    return ids


def result_of(counts: Counts) -> str:
    """success (all passed), partial (some skipped, none failed), failure, or 'not run'."""
    if counts.failed:
        return "failure"
    if counts.passed == 0:
        return "not run" if counts.skipped == 0 else "partial"
    return "partial" if counts.skipped or counts.not_run else "success"


def profile_of(scenario: dict[str, Any]) -> str | None:
    for profile in PROFILES:
        if profile in scenario["tags"]:
            return profile
    return None


def capabilities_of(scenario: dict[str, Any]) -> list[str]:
    """The capabilities a scenario needs, from its @cap-<name> tags."""
    return [
        tag.removeprefix(CAPABILITY_TAG_PREFIX)
        for tag in scenario["tags"]
        if tag.startswith(CAPABILITY_TAG_PREFIX)
    ]


def by_profile(scenarios: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Scenarios grouped by profile, in PROFILES order; untagged ones under 'untagged'."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for profile in (*PROFILES, None):
        members = [s for s in scenarios if profile_of(s) == profile]
        if members:
            groups[profile or "untagged"] = members
    return groups


def capabilities(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(supported, not supported) capabilities of the target.

    From the target the run recorded when there is one; otherwise inferred: a capability
    is supported when a scenario needing it ran, not supported when a skip reason names it.
    """
    target = results.get("target") or {}
    if "capabilities" in target:
        supported = set(target["capabilities"])
        return sorted(supported), sorted(set(KNOWN_CAPABILITIES) - supported)
    supported: set[str] = set()
    missing: set[str] = set()
    for scenario in results["scenarios"]:
        needed = capabilities_of(scenario)
        if scenario["outcome"] in ("passed", "failed"):
            supported.update(needed)
        elif scenario["outcome"] == "skipped":
            reason = scenario.get("skip_reason") or ""
            missing.update(cap for cap in needed if cap in reason)
    return sorted(supported), sorted(missing - supported)


def by_feature(results: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each feature (in file order) with its scenarios (in line order)."""
    features = {f["file"]: f for f in results.get("features", [])}
    for scenario in results["scenarios"]:
        features.setdefault(
            scenario["feature_file"],
            {
                "file": scenario["feature_file"],
                "name": scenario["feature"],
                "description": "",
                "tags": [],
                "line": 1,
            },
        )
    groups = []
    for file in sorted(features):
        members = [s for s in results["scenarios"] if s["feature_file"] == file]
        members.sort(key=lambda s: (s["line"], json.dumps(s.get("example", {}), sort_keys=True)))
        groups.append((features[file], members))
    return groups


def display_name(scenario: dict[str, Any]) -> str:
    """The scenario name, with its example values when it comes from an outline."""
    example = scenario.get("example") or {}
    if not example:
        return scenario["name"]
    values = ", ".join(f"{key}={value}" for key, value in example.items())
    return f"{scenario['name']} [{values}]"


def suite_label(suite: dict[str, Any]) -> str:
    """'receiver-conformance 0.1.0 (abcdef123456)', '-dirty' kept for a modified tree."""
    text = f"receiver-conformance {suite.get('version') or '?'}"
    if suite.get("commit"):
        commit = suite["commit"]
        text += f" ({commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''})"
    return text


def timing_rows(scenario: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what was measured, how long it took, the wait it replaces) per recorded timing."""
    rows = []
    for item in scenario.get("timings") or []:
        instead = item.get("instead_of") or "—"
        if item.get("instead_of_seconds") is not None:
            instead += f" ({seconds(item['instead_of_seconds'])})"
        rows.append((item["name"], seconds(item["seconds"]), instead))
    return rows


def elapsed(duration: float) -> str:
    """A wall-clock span in whole seconds: '42 s', '1 min 12 s'."""
    minutes, rest = divmod(round(duration), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def seconds(duration: float | None) -> str:
    if duration is None:
        return "—"
    if duration < 60:
        return f"{duration:.2f} s"
    minutes, rest = divmod(duration, 60)
    return f"{int(minutes)} min {rest:.0f} s"
