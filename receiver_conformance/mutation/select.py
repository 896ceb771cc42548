"""pytest plugin (`-p receiver_conformance.mutation.select`): only the scenarios of some feature files.

`--mutation-features 05_github.feature,13_every_rule.feature` keeps the scenarios of those
files and runs them file by file in that order, so `-x` stops at the first failure of the
most telling file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--mutation-features", default="", metavar="FILES",
                     help="comma-separated feature file names: run only their scenarios, "
                     "in this order")


def feature_file(item: pytest.Item) -> str | None:
    """The name of the feature file an item's scenario comes from (None: not a scenario)."""
    template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
    return Path(template.feature.filename).name if template is not None else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = [name for name in config.getoption("mutation_features").split(",") if name]
    if not wanted:
        return
    rank = {name: i for i, name in enumerate(wanted)}
    kept = [item for item in items if feature_file(item) in rank]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = sorted(kept, key=lambda item: rank[feature_file(item) or ""])  # stable sort
