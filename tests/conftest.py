"""The tests' order: `make test TEST_WORKERS=3` runs them in pytest-xdist workers by module
(`--dist loadscope`), so the modules that take minutes go first and the workers share out
the short ones meanwhile.

The steps' own module goes last: its session target (the reference receiver and Flux's
source- and kustomize-controller on the worker's control plane) lives to the end of the
worker's session, so no other module may follow it in that process (a source controller
left running there answers the probes that expect none).
"""

from __future__ import annotations

import pytest

LONGEST_FIRST = (
    "tests/test_suite_teeth.py",
    "tests/test_distribution.py",
    "tests/test_external_target.py",
    "tests/test_parallel.py",
    "tests/test_exposure_live.py",
)
LAST = "receiver_conformance/steps/test_conformance.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: place for place, module in enumerate(LONGEST_FIRST)}
    rank[LAST] = len(rank) + 1

    def place(item: pytest.Item) -> int:
        return rank.get(item.nodeid.split("::")[0], len(LONGEST_FIRST))

    items.sort(key=place)
