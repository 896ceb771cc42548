"""``conformance-report.yaml``: the run summarised the way Gateway API's ConformanceReport does.

Besides the counts per profile, it carries what a published report needs: who made the
implementation and who answers for it, how the receiver ran (the target and its details),
the suite's version, the Flux API versions the scenarios used, every scenario's outcome by
its id, and a digest over all of that, so that `receiver-conformance report check` can tell
a report the suite wrote from an edited one.
"""

from __future__ import annotations

import hashlib
import json
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
                "capabilities": _capabilities(members),
                "failedScenarios": [_ref(s) for s in members if s["outcome"] == "failed"],
            }
        )
    overall = model.count(scenarios)
    target = run.get("target") or (results.get("target") or {}).get("name")
    report = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "date": run.get("date"),
        "implementation": dict(run.get("implementation", {})),
        "suite": dict(run.get("suite", {})),
        "target": target,
        "mode": {"target": target, "receiver": run.get("receiver"),
                 "details": dict((results.get("target") or {}).get("details") or {})},
        "fluxAPIVersions": list(run.get("flux_api_versions") or []),
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
        "results": [{"id": s.get("scenario_id") or model.display_name(s),
                     "outcome": s["outcome"]} for s in scenarios],
    }
    report["digest"] = digest(report)
    return report


def digest(report: dict[str, Any]) -> str:
    """`sha256:<hex>` over the report without its digest, in a canonical JSON form."""
    body = {key: value for key, value in report.items() if key != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _capabilities(members: list[dict[str, Any]]) -> dict[str, list[str]]:
    supported, unsupported = model.capabilities({"scenarios": members})
    return {"supported": supported, "unsupported": unsupported}


def render_yaml(results: dict[str, Any]) -> str:
    return yaml.safe_dump(
        conformance_report(results), sort_keys=False, allow_unicode=True, width=100
    )


def _ref(scenario: dict[str, Any]) -> dict[str, str]:
    ref = {"id": scenario["scenario_id"]} if scenario.get("scenario_id") else {}
    return {**ref, "feature": scenario["feature"], "scenario": model.display_name(scenario)}
