"""The committed entry files (known deviations, release changes, known disagreements) load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.diff import known
from harness.paths import FLUX_DEVIATIONS, FLUX_DISAGREEMENTS, FLUX_RELEASE_CHANGES
from harness.report import deviations, matrix


@pytest.mark.parametrize(
    ("path", "load"),
    [(FLUX_DEVIATIONS, deviations.load), (FLUX_RELEASE_CHANGES, matrix.load_changes),
     (FLUX_DISAGREEMENTS, known.load)],
    ids=["deviations", "release-changes", "disagreements"],
)
def test_a_committed_file_loads(path: Path, load: Callable[[Path], Any]) -> None:
    load(path)


def test_a_deviation_without_a_cause_is_named_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "deviations.yaml"
    path.write_text("- implementation: a/b\n  versions: [v1]\n  scenario: s\n")
    with pytest.raises(deviations.DeviationsError, match="deviation 1 lacks cause"):
        deviations.load(path)
