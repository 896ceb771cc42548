"""``conformance-report.yaml``: the run summarised the way Gateway API's ConformanceReport does."""

from __future__ import annotations

from typing import Any

import yaml

from receiver_conformance.report import model

API_VERSION = "conformance.receiver-conformance.dev/v1alpha1"
KIND = "ConformanceReport"


def conformance_report(results: dict[str, Any]) -> dict[str, Any]:
    """The report as a plain dict (ready for YAML)."""
    run = results.get("run", {})
    scenarios = results["scenarios"]
    supported, unsupported = model.capabilities(results)
    profiles = []
    for name, members in model.by_profile(scenarios).items():
        counts = model.count(members)
        profiles.append(
            {
                "name": name,
                "result": model.result_of(counts),
                "statistics": {
                    "passed": counts.passed,
                    "failed": counts.failed,
                    "skipped": counts.skipped,
                },
                "failedScenarios": [_ref(s) for s in members if s["outcome"] == "failed"],
            }
        )
    overall = model.count(scenarios)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "date": run.get("date"),
        "implementation": dict(run.get("implementation", {})),
        "suite": dict(run.get("suite", {})),
        "target": run.get("target") or (results.get("target") or {}).get("name"),
        "selection": {"profile": run.get("profile"), "tags": run.get("tags")},
        "result": model.result_of(overall),
        "statistics": {
            "passed": overall.passed,
            "failed": overall.failed,
            "skipped": overall.skipped,
        },
        "profiles": profiles,
        "capabilities": {"supported": supported, "unsupported": unsupported},
        "skippedScenarios": [
            {**_ref(s), "reason": s.get("skip_reason") or ""}
            for s in scenarios
            if s["outcome"] == "skipped"
        ],
    }


def render_yaml(results: dict[str, Any]) -> str:
    return yaml.safe_dump(
        conformance_report(results), sort_keys=False, allow_unicode=True, width=100
    )


def _ref(scenario: dict[str, Any]) -> dict[str, str]:
    ref = {"id": scenario["scenario_id"]} if scenario.get("scenario_id") else {}
    return {**ref, "feature": scenario["feature"], "scenario": model.display_name(scenario)}
