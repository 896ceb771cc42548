"""A mutant as the report and the equivalents list see it, read from a cosmic-ray session.

A mutant is named by what does not shift when other code moves: its file (from the
repository root), operator, the original line and the mutated line; the line number is
kept to tell apart identical mutations of identical lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkItem, WorkResult

OUTCOMES = ("killed", "survived", "timeout", "error")
TIMEOUT_OUTPUT = "timeout"  # cosmic-ray's whole output for a test command it had to kill
KILLED_BY = "MUTATION-KILLED-BY: "  # receiver_conformance.mutation.check's line naming the failing scenario
HARNESS_ERROR = "MUTATION-HARNESS-ERROR"  # the check could not judge the mutant


MODULE_LEVEL = "<module>"


@dataclass(frozen=True)
class Mutant:
    """One mutant of the sample and what the suite did to it."""

    job_id: str
    file: str  # e.g. reference/senders/github.py
    line: int
    operator: str
    original: str  # the line before, stripped
    mutated: str  # the line after, stripped
    outcome: str  # one of OUTCOMES
    killed_by: str = ""  # the first scenario that failed, if the check named one
    function: str = MODULE_LEVEL  # the def or class the line is in, e.g. "Server._handle"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.file, self.operator, self.original, self.mutated)


def function_at(source: str, line: int) -> str:
    """The qualified name of the innermost def or class holding `line` (its decorators
    included), or MODULE_LEVEL."""
    found: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                if start <= line <= (child.end_lineno or child.lineno):
                    name = f"{prefix}{child.name}"
                    found.append(name)
                    visit(child, name + ".")
                    return
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found[-1] if found else MODULE_LEVEL


def outcome_of(result: WorkResult) -> str:
    """killed, survived, timeout or error, from cosmic-ray's result and the check's output."""
    if result.worker_outcome != WorkerOutcome.NORMAL:
        return "error"
    output = result.output or ""
    if result.test_outcome == TestOutcome.SURVIVED:
        return "survived"
    if result.test_outcome == TestOutcome.KILLED:
        if output.strip() == TIMEOUT_OUTPUT:
            return "timeout"
        return "error" if HARNESS_ERROR in output else "killed"
    return "error"  # incompetent: the test command could not be started


def killed_by(output: str | None) -> str:
    for line in (output or "").splitlines():
        if line.startswith(KILLED_BY):
            return line[len(KILLED_BY):].strip()
    return ""


def mutated_line(diff: str | None) -> str:
    """The first added line of a unified diff, stripped."""
    for line in (diff or "").splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def relative_module(module_path: Path | str, src: Path) -> str:
    """`src/reference/x.py` -> `reference/x.py` (a path outside src is returned as given)."""
    path = Path(module_path)
    try:
        return path.relative_to(src).as_posix()
    except ValueError:
        return path.as_posix()


def to_mutant(item: WorkItem, result: WorkResult, src: Path, repo: Path) -> Mutant:
    """The mutant of a single-mutation work item; the original line is read from `repo`."""
    (spec,) = item.mutations
    file = relative_module(spec.module_path, src)
    line = spec.start_pos[0]
    source = (repo / file).read_text()
    lines = source.splitlines()
    original = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return Mutant(item.job_id, file, line, spec.operator_name, original,
                  mutated_line(result.diff), outcome_of(result), killed_by(result.output),
                  function_at(source, line))


def session_mutants(session: Path, src: Path, repo: Path) -> Iterator[Mutant]:
    """Every mutant of the session that was run (those left out of the sample are skipped)."""
    with use_db(str(session), WorkDB.Mode.open) as db:
        results = dict(db.results)
        for item in db.work_items:
            result = results.get(item.job_id)
            if result is None or result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            yield to_mutant(item, result, src, repo)


def by_file(mutants: Iterable[Mutant]) -> dict[str, list[Mutant]]:
    grouped: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        grouped.setdefault(mutant.file, []).append(mutant)
    return grouped
