"""The "verified against" table of docs/flux.md, generated from the results of real runs.

    receiver-conformance verified reports reports/flux --readme docs/flux.md

Each run gives one row: implementation and version, target, date, and its counts; a
failure that is a known deviation is counted as such. With `--readme` (or `--page`), the
table replaces what stands between the two markers below in the Markdown page given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from receiver_conformance.report import model

START = "<!-- verified-against:start -->"
END = "<!-- verified-against:end -->"


class ReadmeError(Exception):
    """The Markdown page lacks the markers the table goes between."""


def row(results: dict[str, Any]) -> str:
    run = results.get("run") or {}
    impl = run.get("implementation") or {}
    name = "/".join(p for p in (impl.get("organization"), impl.get("project")) if p) or "?"
    counts = model.count(results["scenarios"])
    known = run.get("known_deviations") or 0
    failed = f"{counts.failed}" + (f" (known deviations: {known})" if known else "")
    return (f"| {name} | {impl.get('version') or '—'} | {run.get('target') or '?'} "
            f"| {(run.get('date') or '?')[:10]} | {counts.passed} | {failed} | {counts.skipped} |")


def table(runs: list[dict[str, Any]]) -> str:
    lines = ["| implementation | version | target | date | passed | failed | skipped |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    return "\n".join(lines + [row(r) for r in runs]) + "\n"


def update_readme(readme: Path, text: str, start: str = START, end: str = END) -> None:
    """Put `text` between the markers `start` and `end` of the Markdown page `readme`."""
    content = readme.read_text(encoding="utf-8")
    if start not in content or end not in content:
        raise ReadmeError(f"{readme} has no {start} ... {end} section")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{text}{end}{tail}", encoding="utf-8")
