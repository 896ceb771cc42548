"""The tests' order: `make test` runs them in pytest-xdist workers by module
(`--dist loadscope`), so the modules that take minutes go first and the workers share out
the short ones meanwhile."""

from __future__ import annotations

import pytest

LONGEST_FIRST = (
    "tests/test_suite_teeth.py",
    "tests/test_distribution.py",
    "tests/test_external_target.py",
    "receiver_conformance/steps/test_conformance.py",
    "tests/test_parallel.py",
    "tests/test_exposure_live.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: place for place, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
