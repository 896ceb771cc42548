"""The mutation report: killed / survived / timeout per module, and the kill rate.

The kill rate counts timeouts as kills (the suite noticed) and leaves out survivors argued
equivalent and mutants the harness could not judge (errors, listed on their own).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from receiver_conformance.mutation.equivalents import Equivalent, match
from receiver_conformance.mutation.mutants import OUTCOMES, Mutant, by_file


@dataclass
class Tally:
    """Counts for one module (or all): each outcome, and survivors argued equivalent."""

    killed: int = 0
    survived: int = 0
    timeout: int = 0
    error: int = 0
    equivalent: int = 0  # survivors matched in equivalent.yaml (not in `survived`)

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.timeout + self.error + self.equivalent

    @property
    def kill_rate(self) -> float | None:
        """(killed + timeout) / (killed + timeout + survived), None with nothing to judge."""
        judged = self.killed + self.timeout + self.survived
        return (self.killed + self.timeout) / judged if judged else None


@dataclass
class Report:
    wall_seconds: float
    tallies: dict[str, Tally] = field(default_factory=dict)
    survivors: list[Mutant] = field(default_factory=list)  # not argued equivalent
    equivalents: list[tuple[Mutant, Equivalent]] = field(default_factory=list)
    errors: list[Mutant] = field(default_factory=list)
    rejudged: int = 0  # survivors run again (`--rejudge`), and how long that took
    rejudge_seconds: float = 0.0

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.tallies.values():
            for name in (*OUTCOMES, "equivalent"):
                setattr(total, name, getattr(total, name) + getattr(tally, name))
        return total

    @property
    def mutants_per_minute(self) -> float:
        return self.overall.total / (self.wall_seconds / 60) if self.wall_seconds else 0.0


def build(mutants: Iterable[Mutant], equivalents: list[Equivalent],
          wall_seconds: float) -> Report:
    report = Report(wall_seconds)
    for module, mine in sorted(by_file(mutants).items()):
        tally = report.tallies.setdefault(module, Tally())
        for mutant in sorted(mine, key=lambda m: (m.line, m.operator)):
            entry = match(mutant, equivalents) if mutant.outcome == "survived" else None
            if entry is not None:
                tally.equivalent += 1
                report.equivalents.append((mutant, entry))
                continue
            setattr(tally, mutant.outcome, getattr(tally, mutant.outcome) + 1)
            if mutant.outcome == "survived":
                report.survivors.append(mutant)
            elif mutant.outcome == "error":
                report.errors.append(mutant)
    return report


def _rate(tally: Tally) -> str:
    return "—" if tally.kill_rate is None else f"{tally.kill_rate:.0%}"


def _mutant_line(m: Mutant) -> str:
    return f"- `{m.file}:{m.line}` {m.operator}: `{m.original}` → `{m.mutated}`"


def markdown(report: Report, mutants: Iterable[Mutant] = ()) -> str:
    """The report as Markdown; with `mutants`, the scenario that killed each one too."""
    overall = report.overall
    lines = [
        "# Mutation report (cosmic-ray, the conformance suite as the test)",
        "",
        f"**Kill rate excluding equivalent survivors: {_rate(overall)}** — "
        f"{overall.total} mutants in {report.wall_seconds / 60:.1f} min "
        f"({report.mutants_per_minute:.2f} mutants/minute)",
        "",
        *([f"Then {report.rejudged} survivors were run again with new scenarios "
           f"(`--rejudge`, {report.rejudge_seconds / 60:.1f} min).", ""]
          if report.rejudged else []),
        "| module | killed | survived | timeout | equivalent | error | kill rate |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for module, t in [*report.tallies.items(), ("**all**", overall)]:
        lines.append(f"| {module} | {t.killed} | {t.survived} | {t.timeout} | {t.equivalent} "
                     f"| {t.error} | {_rate(t)} |")
    lines += ["", "## Survivors (no scenario fails)", ""]
    lines += [_mutant_line(m) for m in report.survivors] or ["None."]
    lines += ["", "## Survivors argued equivalent (receiver_conformance/mutation/equivalent.yaml)", ""]
    lines += [f"{_mutant_line(m)} — {e.reason}" for m, e in report.equivalents] or ["None."]
    if report.errors:
        lines += ["", "## Not judged (the harness failed; left out of the rate)", ""]
        lines += [_mutant_line(m) for m in report.errors]
    killers = [f"{_mutant_line(m)}: {m.killed_by}"
               for m in sorted(mutants, key=lambda m: (m.file, m.line, m.operator))
               if m.outcome == "killed" and m.killed_by]
    if killers:
        lines += ["", "## Killed by (the first failing scenario)", "", *killers]
    return "\n".join(lines) + "\n"


def write(report: Report, mutants: Iterable[Mutant], out: Path) -> None:
    """report.md and results.json (every mutant with its outcome) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    everything = sorted(mutants, key=lambda m: (m.file, m.line, m.operator))
    (out / "report.md").write_text(markdown(report, everything))
    overall = report.overall
    (out / "results.json").write_text(json.dumps({
        "wall_seconds": round(report.wall_seconds, 1),
        "mutants_per_minute": round(report.mutants_per_minute, 2),
        "rejudged": report.rejudged,
        "rejudge_seconds": round(report.rejudge_seconds, 1),
        "kill_rate_excluding_equivalents": overall.kill_rate,
        "modules": {name: asdict(t) for name, t in report.tallies.items()},
        "mutants": [asdict(m) for m in everything],
    }, indent=2) + "\n")
