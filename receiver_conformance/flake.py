"""Run the conformance suite N times and list every scenario whose outcome changed.

    python -m receiver_conformance.flake --runs 20 [--out reports/flake] [-- RUN ARGS]

Each run is `receiver-conformance run RUN ARGS --report-dir OUT/run-<i>`: a fresh namespace
per scenario, as always. The outcomes (passed, failed, skipped, not run) of every run are
compared by scenario id; a scenario with more than one outcome is flaky. Exit 0 when none is,
1 when any is, 2 on bad usage or a run that wrote no results.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.report.model import ResultsError, load_results

RUN = [sys.executable, "-m", "receiver_conformance.cli", "run"]


@dataclass(frozen=True)
class Flake:
    """A scenario and its outcome in each run, in order."""

    scenario: str
    outcomes: tuple[str, ...]

    def line(self) -> str:
        tally = {o: self.outcomes.count(o) for o in dict.fromkeys(self.outcomes)}
        counts = ", ".join(f"{n} {o}" for o, n in tally.items())
        return f"{self.scenario}: {counts} ({' '.join(o[0] for o in self.outcomes)})"


def outcomes(report_dir: Path) -> dict[str, str]:
    """Scenario id -> outcome, from one run's results.json."""
    return {s["id"]: s["outcome"] for s in load_results(report_dir / "results.json")["scenarios"]}


def flakes(runs: Sequence[dict[str, str]]) -> list[Flake]:
    """The scenarios whose outcome differs between `runs` (absent from a run: 'not run')."""
    ids = sorted({scenario for run in runs for scenario in run})
    seen = [Flake(i, tuple(run.get(i, "not run") for run in runs)) for i in ids]
    return [f for f in seen if len(set(f.outcomes)) > 1]


def run_once(index: int, out: Path, run_args: Sequence[str]) -> dict[str, str]:
    report_dir = out / f"run-{index}"
    done = subprocess.run([*RUN, *run_args, "--report-dir", str(report_dir)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    summary = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"run {index}: exit {done.returncode}, {summary[0]}", flush=True)
    return outcomes(report_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m receiver_conformance.flake", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="how many runs (default 20)")
    parser.add_argument("--out", type=Path, default=Path("reports/flake"),
                        help="report directories go to OUT/run-<i> (default reports/flake)")
    parser.add_argument("run_args", nargs="*", help="after --: arguments of `run`")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2 to compare outcomes")
    try:
        runs = [run_once(i, args.out, args.run_args) for i in range(1, args.runs + 1)]
    except ResultsError as err:
        print(f"flake: {err}", file=sys.stderr)
        return 2
    found = flakes(runs)
    steady_failures = sorted(i for i in runs[0] if all(r.get(i) == "failed" for r in runs))
    print(f"{len(runs)} runs, {len(runs[0])} scenarios: {len(found)} changed outcome, "
          f"{len(steady_failures)} failed every time")
    for flake in found:
        print(f"  FLAKY {flake.line()}")
    for scenario in steady_failures:
        print(f"  always failed: {scenario}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
