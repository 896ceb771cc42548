"""Stable scenario ids: what the project and its users name a scenario by.

Each scenario carries one tag `@id:<name>`; each row of an outline's Examples has an `id`
column, and the row's id is `<scenario id>/<row id>`. Deviations, disagreements, release
changes, the teeth cases and `--scenario` refer to these ids, never to a sentence or a
generated test name, so a scenario's wording can change without breaking them. Names are
lower-case words joined by `-`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_bdd.parser import FeatureParser

TAG_PREFIX = "id:"
ROW_COLUMN = "id"
SEPARATOR = "/"
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class ScenarioIdError(ValueError):
    """A scenario id that is malformed or names no scenario; one line for the user."""


def is_id_tag(tag: str) -> bool:
    return tag.startswith(TAG_PREFIX)


def of_tags(tags: Iterable[str]) -> str | None:
    """The scenario id among a scenario's tags (without '@'), or None."""
    found = [tag.removeprefix(TAG_PREFIX) for tag in tags if is_id_tag(tag)]
    return found[0] if len(found) == 1 else None


def other_tags(tags: Iterable[str]) -> list[str]:
    """The tags that are not the id, sorted."""
    return sorted(tag for tag in tags if not is_id_tag(tag))


def of_run(scenario: str | None, example: Mapping[str, str]) -> str | None:
    """The id of one run: the scenario's, with `/<row id>` for an outline's row."""
    row = example.get(ROW_COLUMN)
    if scenario is None or not row:
        return scenario
    return f"{scenario}{SEPARATOR}{row}"


def without_row_id(example: Mapping[str, str]) -> dict[str, str]:
    """An example row's values as the sentences use them (the id column left out)."""
    return {key: value for key, value in example.items() if key != ROW_COLUMN}


def selects(wanted: str, run_id: str) -> bool:
    """Whether `wanted` (a scenario's id, or one row's) selects the run `run_id`."""
    return run_id == wanted or run_id.startswith(wanted + SEPARATOR)


def check_name(text: str) -> str:
    """`text` if it is a well-formed id (`name` or `name/row`), else ScenarioIdError."""
    parts = text.split(SEPARATOR)
    if len(parts) > 2 or not all(NAME.fullmatch(part) for part in parts):
        raise ScenarioIdError(f"{text!r} is not a scenario id (lower-case words joined by '-', "
                              f"and '/<row>' for one example row)")
    return text


@dataclass(frozen=True)
class Catalogue:
    """Every id the feature files define, and what is wrong with them."""

    scenarios: tuple[str, ...]  # one per scenario, in file order
    runs: tuple[str, ...]  # one per run: the scenario, or each row of an outline
    problems: tuple[str, ...]

    def known(self, wanted: str) -> bool:
        return wanted in self.scenarios or wanted in self.runs


def catalogue(directory: Path) -> Catalogue:
    """Read every `.feature` file under `directory` and collect its ids."""
    scenarios: list[str] = []
    runs: list[str] = []
    problems: list[str] = []
    for path in sorted(directory.rglob("*.feature")):
        feature = FeatureParser(str(directory), str(path.relative_to(directory))).parse()
        for template in feature.scenarios.values():
            where = f"{path.name}:{template.line_number}"
            tagged = [t for t in template.tags if is_id_tag(t)]
            if len(tagged) != 1:
                problems.append(f"{where}: {len(tagged)} id tags (one @id:<name> wanted)")
                continue
            scenario = tagged[0].removeprefix(TAG_PREFIX)
            if not NAME.fullmatch(scenario):
                problems.append(f"{where}: malformed id {scenario!r}")
            if scenario in scenarios:
                problems.append(f"{where}: id {scenario!r} used twice")
            scenarios.append(scenario)
            rows = [row for examples in template.examples for row in examples.as_contexts()]
            if not rows:
                runs.append(scenario)
            for row in rows:
                run = of_run(scenario, row)
                if not row.get(ROW_COLUMN) or not NAME.fullmatch(row[ROW_COLUMN]):
                    problems.append(f"{where}: an example row without a well-formed id: {row}")
                elif run in runs:
                    problems.append(f"{where}: row id {run!r} used twice")
                runs.append(run or scenario)
    return Catalogue(tuple(scenarios), tuple(runs), tuple(problems))
