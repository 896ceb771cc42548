"""Known deviations: failures of a real implementation that the suite explains.

A deviation names an implementation (`organization/project`), the versions it was seen in,
a scenario by its stable id (receiver_conformance.scenario_ids: an outline's id covers all
its rows, `id/row` one row), the cause and an upstream link. The
scenario still counts as failed everywhere; the reports add the cause next to it, and the
run passes when every failure is a known deviation of the implementation under test. A
deviation that no longer fails is reported, so the list cannot go stale unnoticed; one
marked `intermittent` (with why: its outcome depends on the order of requests, which
parallel scenarios change) may pass without being stale.

    - implementation: fluxcd/notification-controller
      versions: [v1.9.3]
      scenario: github-delivery-refused/no-signature
      cause: ...
      upstream: https://github.com/...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver_conformance import scenario_ids
from receiver_conformance.report.entries import load_entries

FIELDS = ("implementation", "versions", "scenario", "cause")


class DeviationsError(Exception):
    """A deviations file that cannot be read or lacks a field."""


@dataclass(frozen=True)
class Deviation:
    implementation: str
    versions: tuple[str, ...]
    scenario: str
    cause: str
    upstream: str | None = None
    intermittent: str | None = None  # why it sometimes passes: then a pass is not stale

    def applies_to(self, implementation: dict[str, Any]) -> bool:
        name = "/".join(p for p in (implementation.get("organization"),
                                    implementation.get("project")) if p)
        version = implementation.get("version")
        return name == self.implementation and (version is None or version in self.versions)


def load(path: Path) -> list[Deviation]:
    """Every deviation of a YAML file (a list of mappings with FIELDS and `upstream`)."""
    return [Deviation(entry["implementation"], tuple(entry["versions"]), entry["scenario"],
                      entry["cause"], entry.get("upstream"), entry.get("intermittent"))
            for entry in load_entries(path, "deviation", FIELDS, DeviationsError)]


@dataclass(frozen=True)
class Verdict:
    explained: int  # failures that are known deviations
    unexplained: int  # failures nobody explained
    stale: list[Deviation]  # known deviations whose scenario ran and did not fail


def _covers(deviation: Deviation, scenario: dict[str, Any]) -> bool:
    run = scenario.get("scenario_id")
    return run is not None and scenario_ids.selects(deviation.scenario, run)


def _explaining(known: list[Deviation], scenario: dict[str, Any]) -> Deviation | None:
    return next((d for d in known if _covers(d, scenario)), None)


def _no_longer_fails(deviation: Deviation, scenarios: list[dict[str, Any]]) -> bool:
    """The deviation's scenario ran and every run of it passed (and it does not pass at
    times by its nature)."""
    if deviation.intermittent:
        return False
    runs = [s["outcome"] for s in scenarios if _covers(deviation, s)]
    return bool(runs) and all(outcome == "passed" for outcome in runs)


def mark(results: dict[str, Any], known: list[Deviation]) -> Verdict:
    """Attach `deviation` (cause, upstream) to each failed scenario a deviation explains."""
    implementation = (results.get("run") or {}).get("implementation") or {}
    relevant = [d for d in known if d.applies_to(implementation)]
    explained = unexplained = 0
    for scenario in results["scenarios"]:
        if scenario["outcome"] != "failed":
            continue
        deviation = _explaining(relevant, scenario)
        if deviation is None:
            unexplained += 1
            continue
        explained += 1
        scenario["deviation"] = {"cause": deviation.cause, "upstream": deviation.upstream}
    stale = [d for d in relevant if _no_longer_fails(d, results["scenarios"])]
    run = results.setdefault("run", {})
    run["known_deviations"] = explained
    run["stale_deviations"] = [d.scenario for d in stale]
    return Verdict(explained, unexplained, stale)
