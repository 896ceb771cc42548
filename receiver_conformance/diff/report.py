"""The run's report: `report.md` (figures and every finding as a scenario),
`disagreements.feature` (the scenarios alone) and `findings.json`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from receiver_conformance.diff import gherkin
from receiver_conformance.diff.known import Known, heading
from receiver_conformance.diff.runner import DiffRun, Finding


def write(run: DiffRun, report_dir: Path, wall: float,
          known: dict[str, Known] | None = None) -> list[Path]:
    known = known or {}
    report_dir.mkdir(parents=True, exist_ok=True)
    left, right = run.left.implementation, run.right.implementation
    scenarios = [gherkin.scenario(f, left, right) for f in _ordered(run)]
    feature = (f"Feature: Where {left} and {right} disagree\n"
               f"  Found by `receiver-conformance diff --seed {run.budget.seed}`; each "
               "scenario is the smallest case Hypothesis found.\n\n" + "\n".join(scenarios))
    paths = [report_dir / "disagreements.feature", report_dir / "report.md",
             report_dir / "findings.json"]
    paths[0].write_text(feature, encoding="utf-8")
    paths[1].write_text(_markdown(run, scenarios, wall, known), encoding="utf-8")
    paths[2].write_text(json.dumps(_json(run, wall, known), indent=2, default=str),
                        encoding="utf-8")
    return paths


def figures_line(run: DiffRun, wall: float, known: dict[str, Known] | None = None) -> str:
    f = run.figures
    rate = f.requests / f.request_seconds if f.request_seconds else 0.0
    explained = len(run.findings) - len(unexplained(run, known or {}))
    return (f"{f.requests} requests over {len(run.pool)} Receivers in {wall:.1f} s "
            f"(requests {f.request_seconds:.1f} s, {rate:.1f} requests/s; pool "
            f"{f.pool_seconds:.1f} s); {len(run.findings)} disagreement(s), {explained} known")


def unexplained(run: DiffRun, known: dict[str, Known]) -> list[Finding]:
    """Findings whose key no known entry explains."""
    return [f for f in _ordered(run) if heading(f.key) not in known]


def _ordered(run: DiffRun) -> list[Finding]:
    return sorted(run.findings.values(), key=lambda f: (f.request is not None, f.key))


def _markdown(run: DiffRun, scenarios: list[str], wall: float,
              known: dict[str, Known]) -> str:
    f, b = run.figures, run.budget
    lines = [f"# Differential run: {run.left.implementation} (left) vs "
             f"{run.right.implementation} (right)", "",
             f"Seed {b.seed}, budget {b.examples} requests, {b.receivers} Receivers, "
             f"{b.max_time:g} s.", "", f"**{figures_line(run, wall)}**", "",
             f"- Receivers: {f.receivers} in the pool search, {f.rejected} refused by the API "
             f"server, {f.shrink_receivers} more while shrinking",
             f"- Requests: {f.requests} in the search, {f.shrink_requests} while shrinking",
             "- Statuses seen (both sides): " + ", ".join(
                 f"{k}: {v}" for k, v in sorted(f.statuses.items())), ""]
    if not scenarios:
        lines.append("No disagreement found.")
    for finding, text in zip(_ordered(run), scenarios, strict=True):
        lines += [f"## {heading(finding.key)}", ""]
        explained = known.get(heading(finding.key))
        if explained:
            lines += [f"Known: {explained.cause}" + (
                f" (pinned by the scenario \"{explained.deviation}\")"
                if explained.deviation else ""), ""]
        for d in finding.differences:
            lines.append(f"- {d.field}: {run.left.implementation} `{d.left}`, "
                         f"{run.right.implementation} `{d.right}`")
        if finding.built is not None:
            lines.append(f"- request ({run.left.implementation}'s side): "
                         f"`POST {_short(finding.built.path)}`, {finding.built.describe()}")
        lines += ["", "```gherkin", text.rstrip(), "```", ""]
    return "\n".join(lines) + "\n"


def _short(path: str) -> str:
    """A hook path shortened: never the whole digest in a report."""
    head, _, digest = path.partition("/hook/")
    return f"{head}/hook/{digest[:8]}…{digest[64:]}" if digest else path


def _json(run: DiffRun, wall: float, known: dict[str, Known]) -> dict[str, Any]:
    return {
        "left": run.left.implementation, "right": run.right.implementation,
        "budget": asdict(run.budget), "wall_seconds": wall,
        "figures": {**asdict(run.figures), "statuses": dict(run.figures.statuses),
                    "pool": len(run.pool)},
        "findings": [{
            "key": list(f.key), "receiver": asdict(f.receiver),
            "request": asdict(f.request) if f.request else None,
            "differences": [asdict(d) for d in f.differences],
            "answers": {k: {"status": a.status, "annotated": sorted(a.annotated)}
                        for k, a in f.answers.items()},
            "states": {k: asdict(s) for k, s in f.states.items()},
            "occurrences": f.occurrences, "shrunk": f.shrunk, "flaky": f.flaky,
            "known": known[heading(f.key)].cause if heading(f.key) in known else None,
        } for f in _ordered(run)],
    }
