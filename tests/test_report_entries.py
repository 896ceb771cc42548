"""The committed entry files (known deviations, release changes, known disagreements) load."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from receiver_conformance.diff import known
from receiver_conformance.paths import FLUX_DEVIATIONS, FLUX_DISAGREEMENTS, FLUX_RELEASE_CHANGES
from receiver_conformance.report import deviations, matrix


@pytest.mark.parametrize(
    ("path", "load"),
    [(FLUX_DEVIATIONS, deviations.load), (FLUX_RELEASE_CHANGES, matrix.load_changes),
     (FLUX_DISAGREEMENTS, known.load)],
    ids=["deviations", "release-changes", "disagreements"],
)
def test_a_committed_file_loads(path: Path, load: Callable[[Path], Any]) -> None:
    load(path)


LOADERS = {"deviations": (deviations.load, deviations.DeviationsError),
           "release-changes": (matrix.load_changes, matrix.ChangesError),
           "disagreements": (known.load, known.KnownError)}


@pytest.mark.parametrize(
    ("loader", "content", "says"),
    [
        ("deviations", "{a: [", "cannot read deviations"),
        ("deviations", "a: 1", "expected a list of deviations"),
        ("deviations", "- implementation: a/b\n  versions: [v1]\n  scenario: s\n",
         "deviation 1 lacks cause"),
        ("release-changes", "{a: [", "cannot read release changes"),
        ("release-changes", "- scenario: x\n  changed_in: v1.6.0", "change 1 lacks change"),
        ("release-changes", "- changed_in: v1.6.0\n  change: y", "change 1 lacks scenario"),
        ("disagreements", "a: 1", "expected a list of known disagreements"),
        ("disagreements", "- key: request * 200 500", "known disagreement 1 lacks cause"),
        ("disagreements", "- cause: x", "known disagreement 1 lacks key"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path: Path, loader: str, content: str,
                                       says: str) -> None:
    load, error = LOADERS[loader]
    path = tmp_path / "entries.yaml"
    path.write_text(content)
    with pytest.raises(error, match=re.escape(says)) as raised:
        load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
