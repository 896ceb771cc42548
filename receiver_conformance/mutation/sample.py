"""Draw the sample: per module, its operators only, then a seeded choice of `size` mutants."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from receiver_conformance.mutation.features import ModuleSample


@dataclass(frozen=True)
class Candidate:
    """A work item as the sample sees it."""

    job_id: str
    module: str  # from the repository root
    operator: str
    occurrence: int
    start: tuple[int, int]


def draw(candidates: Iterable[Candidate], sample: Iterable[ModuleSample],
         seed: int) -> set[str]:
    """The job ids in the sample; the same candidates and seed always give the same ids."""
    pool = list(candidates)
    chosen: set[str] = set()
    for entry in sample:
        mine = sorted((c for c in pool if c.module == entry.module and entry.takes(c.operator)),
                      key=lambda c: (c.start, c.operator, c.occurrence))
        rng = random.Random(f"{seed}:{entry.module}")
        chosen.update(c.job_id for c in rng.sample(mine, min(entry.size, len(mine))))
    return chosen
