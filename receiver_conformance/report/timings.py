"""Measured durations of a scenario (e.g. push → revision), kept on the test item.

Steps call :func:`record` with what was measured and, where there is one, the wait it
replaces ("the GitRepository's interval, 60m"). The results collector copies them into
``results.json`` for every scenario, passed or not; the reports show them beside it.
"""

from __future__ import annotations

from typing import Any

import pytest

TIMINGS_KEY = pytest.StashKey[list[dict[str, Any]]]()


def timing(name: str, seconds: float, instead_of: str | None = None,
           instead_of_seconds: float | None = None) -> dict[str, Any]:
    """One measurement as results.json carries it."""
    record: dict[str, Any] = {"name": name, "seconds": round(seconds, 3)}
    if instead_of is not None:
        record["instead_of"] = instead_of
        record["instead_of_seconds"] = instead_of_seconds
    return record


def record(request: pytest.FixtureRequest, name: str, seconds: float,
           instead_of: str | None = None, instead_of_seconds: float | None = None) -> None:
    """Keep one measured duration on the running scenario."""
    items = request.node.stash.setdefault(TIMINGS_KEY, [])
    items.append(timing(name, seconds, instead_of, instead_of_seconds))


def collected(item: pytest.Item) -> list[dict[str, Any]]:
    """The durations recorded on a test item so far."""
    return list(item.stash.get(TIMINGS_KEY, []))
