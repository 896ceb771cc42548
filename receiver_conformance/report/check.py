"""`receiver-conformance report check`: is a submitted conformance report one the suite wrote?

A report passes when it has the shape of this suite's ConformanceReport, names a suite version
that publishes reports, lists only scenarios the suite has, counts them as it lists them (in
all and per profile, the failed ones named), and carries the digest the suite computed over
it: an edited outcome, count or name changes the digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from receiver_conformance import versions
from receiver_conformance.report import conformance, model

REQUIRED: dict[str, type] = {
    "apiVersion": str, "kind": str, "date": str, "implementation": dict, "suite": dict,
    "mode": dict, "fluxAPIVersions": list, "result": str, "statistics": dict, "profiles": list,
    "capabilities": dict, "results": list, "digest": str,
}
COUNTED = ("passed", "failed", "skipped")


def problems(report: object, profiles: Mapping[str, str | None]) -> list[str]:
    """What is wrong with `report`; `profiles` maps each run id of the suite to its profile."""
    if not isinstance(report, dict):
        return ["not a mapping"]
    wrong = [f"{key}: missing or not a {kind.__name__}" for key, kind in REQUIRED.items()
             if not isinstance(report.get(key), kind)]
    if wrong:
        return wrong
    found: list[str] = []
    if (report["apiVersion"], report["kind"]) != (conformance.API_VERSION, conformance.KIND):
        found.append(f"not a {conformance.KIND} of {conformance.API_VERSION}")
    version = report["suite"].get("version")
    if version not in versions.REPORTING_SUITE_VERSIONS:
        found.append(f"suite version {version!r} is not one that publishes reports "
                     f"({', '.join(versions.REPORTING_SUITE_VERSIONS)})")
    for key in ("organization", "project", "version"):
        if not report["implementation"].get(key):
            found.append(f"implementation.{key} is missing")
    found += _results(report, profiles)
    if report["digest"] != conformance.digest(report):
        found.append("the digest does not match: the report was edited after the suite wrote it")
    return found


def _results(report: dict[str, Any], profiles: Mapping[str, str | None]) -> list[str]:
    found: list[str] = []
    outcomes: dict[str, str] = {}
    for entry in report["results"]:
        if not isinstance(entry, dict) or not {"id", "outcome"} <= set(entry):
            return ["results: each entry needs an id and an outcome"]
        outcomes[str(entry["id"])] = str(entry["outcome"])
    unknown = sorted(set(outcomes) - set(profiles))
    if unknown:
        found.append(f"results name scenarios the suite does not have: {', '.join(unknown[:5])}")
    found += _counts("statistics", report["statistics"], Counter(outcomes.values()))
    for profile in report["profiles"]:
        name = profile.get("name")
        members = {i: o for i, o in outcomes.items() if (profiles.get(i) or "untagged") == name}
        found += _counts(f"profile {name}", profile.get("statistics") or {},
                         Counter(members.values()))
        named = {ref.get("id") for ref in profile.get("failedScenarios") or []}
        failed = {i for i, o in members.items() if o == "failed"}
        if named != failed:
            found.append(f"profile {name}: failedScenarios do not match the failed results")
    return found


def _counts(where: str, stated: Mapping[str, Any], counted: Counter[str]) -> list[str]:
    return [f"{where}: {outcome} says {stated.get(outcome)}, the results count "
            f"{counted.get(outcome, 0)}"
            for outcome in COUNTED if stated.get(outcome) != counted.get(outcome, 0)]


def suite_profiles(results: dict[str, Any]) -> dict[str, str | None]:
    """Each run id of the suite (from `features.not_run_results`) and its profile."""
    found: dict[str, str | None] = {}
    for scenario in results["scenarios"]:
        scenario_id = scenario.get("scenario_id")
        if not scenario_id:
            continue
        profile = model.profile_of(scenario)
        rows = model.row_ids(scenario)
        for run in [f"{scenario_id}/{row}" for row in rows] or [scenario_id]:
            found[run] = profile
    return found
