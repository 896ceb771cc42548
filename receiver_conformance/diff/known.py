"""Disagreements already explained: a Flux behaviour traced to its code, not a reference bug.

A finding's key (its report heading, e.g. `request cdevents 400 200 annotated`) groups every
disagreement with the same statuses and kind of mismatch. A known entry names such a key and
its cause; the report prints the cause, and `--fail-on-disagreement` counts only the rest.

    - key: request cdevents 400 200 annotated
      cause: ...
      deviation: the id of the scenario of receiver_conformance/flux/deviations.yaml that pins
        it (optional)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.report.entries import load_entries


class KnownError(Exception):
    """A known-disagreements file that cannot be read or lacks a field."""


@dataclass(frozen=True)
class Known:
    key: str
    cause: str
    deviation: str | None = None


def heading(key: Iterable[str]) -> str:
    """A finding's key as one line: the report's heading and the known file's `key`."""
    return " ".join(k for k in key if k)


def load(path: Path) -> dict[str, Known]:
    """The entries of a YAML list, by key."""
    entries = load_entries(path, "known disagreement", ("key", "cause"), KnownError)
    return {entry["key"]: Known(entry["key"], " ".join(entry["cause"].split()),
                                entry.get("deviation"))
            for entry in entries}
