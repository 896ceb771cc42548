"""``report.md``: the run as Markdown, summary first, then the guide feature by feature."""

from __future__ import annotations

import json
from typing import Any

from receiver_conformance.report import model

_MARK = {"passed": "✅ PASS", "failed": "❌ FAIL", "skipped": "⏭ SKIP", "not run": "· not run"}


def render_markdown(results: dict[str, Any]) -> str:
    run = results.get("run", {})
    counts = model.count(results["scenarios"])
    supported, unsupported = model.capabilities(results)
    impl = run.get("implementation", {})
    suite = run.get("suite", {})
    lines = [
        "# Receiver conformance report",
        "",
        f"**Result: {model.result_of(counts).upper()}** — {counts.line()}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Implementation | {_cell(_implementation(impl))} |",
        f"| Target | {_cell(run.get('target') or '—')} |",
        f"| Profile | {_cell(run.get('profile') or '—')} |",
        f"| Tags | {_cell(run.get('tags') or '—')} |",
        f"| Suite | {_cell(model.suite_label(suite))} |",
        f"| Date | {_cell(run.get('date') or '—')} |",
        f"| Wall time | {model.seconds(run.get('wall_time'))} |",
        f"| Capabilities supported | {_cell(', '.join(supported) or '—')} |",
        f"| Capabilities not supported | {_cell(', '.join(unsupported) or '—')} |",
        "",
        "| Profile | Result | Passed | Failed | Skipped |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, members in model.by_profile(results["scenarios"]).items():
        c = model.count(members)
        lines.append(f"| {name} | {model.result_of(c)} | {c.passed} | {c.failed} | {c.skipped} |")
    lines.append("")

    deviations = [s for s in results["scenarios"] if s.get("deviation")]
    if deviations:
        lines += ["## Known deviations of the implementation", "",
                  "These scenarios failed for a cause found in the implementation's code; they "
                  "count as failed.", ""]
        lines += [f"- {s['feature']}: {model.display_name(s)} — {_deviation(s)}"
                  for s in deviations]
        lines.append("")

    skipped = [s for s in results["scenarios"] if s["outcome"] == "skipped"]
    if skipped:
        lines += ["## Skipped scenarios", ""]
        lines += [
            f"- {s['feature']}: {model.display_name(s)} — {s.get('skip_reason') or 'no reason'}"
            for s in skipped
        ]
        lines.append("")

    timed = [s for s in results["scenarios"] if s.get("timings")]
    if timed:
        lines += ["## Timings", "", *_timings_table(timed), ""]

    for feature, scenarios in model.by_feature(results):
        lines += _feature(feature, scenarios)
    return "\n".join(lines).rstrip() + "\n"


def _feature(feature: dict[str, Any], scenarios: list[dict[str, Any]]) -> list[str]:
    lines = [f"## {feature['name']}", "", f"`{feature['file']}`", ""]
    if feature.get("description"):
        lines += [feature["description"], ""]
    for scenario in scenarios:
        lines += [
            f"### {_MARK.get(scenario['outcome'], scenario['outcome'])} "
            f"{model.display_name(scenario)} ({model.seconds(scenario.get('duration'))})",
            "",
            (f"Id: `{scenario['scenario_id']}` · " if scenario.get("scenario_id") else "")
            + "Tags: " + " ".join(f"`@{tag}`" for tag in scenario["tags"]),
            "",
        ]
        if scenario.get("description"):
            lines += [scenario["description"], ""]
        for step in scenario["steps"]:
            lines.append(f"- **{step['keyword']}** {step['text']} — _{step['status']}_")
            if step.get("docstring") is not None:
                lines += [
                    "",
                    "  ```",
                    *("  " + ln for ln in step["docstring"].splitlines()),
                    "  ```",
                ]
            if step.get("datatable"):
                lines += ["", *("  | " + " | ".join(row) + " |" for row in step["datatable"][:1])]
                lines.append("  |" + " --- |" * len(step["datatable"][0]))
                lines += ["  | " + " | ".join(row) + " |" for row in step["datatable"][1:]]
        lines.append("")
        if scenario.get("timings"):
            lines += [*_timings_table([scenario], named=False), ""]
        if scenario["outcome"] == "skipped":
            lines += [f"> Skipped: {scenario.get('skip_reason') or 'no reason given'}", ""]
        if scenario["outcome"] == "failed":
            lines += _failure(scenario)
    return lines


def _deviation(scenario: dict[str, Any]) -> str:
    deviation = scenario["deviation"]
    upstream = f" ({deviation['upstream']})" if deviation.get("upstream") else ""
    return f"{deviation['cause']}{upstream}"


def _failure(scenario: dict[str, Any]) -> list[str]:
    lines = ["**Failure:**", "", "```", scenario.get("error") or "no error message", "```", ""]
    if scenario.get("deviation"):
        lines = [f"**Known deviation:** {_deviation(scenario)}", "", *lines]
    for item in scenario.get("evidence", []):
        body = item["body"]
        text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)
        lines += [f"**{item['title']}**", "", "```", text, "```", ""]
    return lines


def _timings_table(scenarios: list[dict[str, Any]], named: bool = True) -> list[str]:
    """What each scenario measured, beside the wait it replaces."""
    head = ["Scenario"] if named else []
    lines = ["| " + " | ".join([*head, "Measured", "Took", "Instead of"]) + " |",
             "|" + " --- |" * (len(head) + 3)]
    for scenario in scenarios:
        name = [_cell(model.display_name(scenario))] if named else []
        for row in model.timing_rows(scenario):
            lines.append("| " + " | ".join([*name, *map(_cell, row)]) + " |")
    return lines


def _implementation(impl: dict[str, Any]) -> str:
    name = "/".join(p for p in (impl.get("organization"), impl.get("project")) if p) or "—"
    parts = [name]
    if impl.get("version"):
        parts.append(impl["version"])
    if impl.get("url"):
        parts.append(f"<{impl['url']}>")
    return " ".join(parts)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
