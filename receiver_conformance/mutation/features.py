"""Which feature files exercise which reference module, and the sample to mutate.

One table, `SAMPLE`: each sampled module, the feature files that check it (most telling
first, the run stops at the first failure), the cosmic-ray operators applied to it and how
many of its mutants are drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from receiver_conformance.paths import FEATURES

# Operator families that change a decision the spec pins; cosmic-ray names, matched in full.
DECISIONS = (
    r"core/ReplaceComparisonOperator_(Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is|In_NotIn|NotIn_In"
    r"|Lt_GtE|LtE_Gt|Gt_LtE|GtE_Lt)",
    r"core/AddNot",
    r"core/Replace(True|False)With(False|True)",
    r"core/Replace(And|Or)With(Or|And)",
    r"core/ZeroIterationForLoop",
    r"core/ExceptionReplacer",
)
NUMBERS = (r"core/NumberReplacer",)


@dataclass(frozen=True)
class ModuleSample:
    """A module of reference/, the features that check it, its operators and its share."""

    module: str  # path from the repository root, e.g. reference/senders/github.py
    features: tuple[str, ...]  # feature file names, in the order they are run
    operators: tuple[str, ...] = DECISIONS
    size: int = 8  # mutants drawn (all of them when there are fewer)

    def takes(self, operator: str) -> bool:
        """Whether `operator` is one of this module's operator patterns."""
        return any(re.fullmatch(pattern, operator) for pattern in self.operators)


SAMPLE: tuple[ModuleSample, ...] = (
    ModuleSample("reference/senders/_common.py",
                 ("05_github.feature", "06_other_senders.feature", "13_every_rule.feature"),
                 size=10),
    ModuleSample("reference/senders/github.py", ("05_github.feature",), size=4),
    ModuleSample("reference/senders/gitlab.py", ("06_other_senders.feature",), size=4),
    ModuleSample("reference/server.py",
                 ("08_limits.feature", "05_github.feature", "13_every_rule.feature",
                  "10_flux_fidelity.feature"),
                 operators=DECISIONS + NUMBERS, size=10),
    ModuleSample("reference/annotate.py",
                 ("07_source_annotation.feature", "13_every_rule.feature",
                  "10_flux_fidelity.feature"), size=8),
    ModuleSample("reference/filters.py",
                 ("10_flux_fidelity.feature", "07_source_annotation.feature",
                  "13_every_rule.feature", "12_oidc_and_flags.feature"), size=7),
    ModuleSample("reference/status.py",
                 ("04_receiver_url.feature", "03_token_secret.feature",
                  "13_every_rule.feature", "12_oidc_and_flags.feature"), size=8),
    ModuleSample("reference/index.py",
                 ("04_receiver_url.feature", "08_limits.feature", "03_token_secret.feature",
                  "13_every_rule.feature"),
                 size=6),
)


def by_module() -> dict[str, ModuleSample]:
    return {entry.module: entry for entry in SAMPLE}


def features_for(module: str) -> tuple[str, ...]:
    """The feature files to run against a mutant of `module` (KeyError if not sampled)."""
    return by_module()[module].features


def missing_features() -> list[str]:
    """Feature files the table names that do not exist (a typo, a renamed feature)."""
    return sorted({name for entry in SAMPLE for name in entry.features
                   if not (FEATURES / name).is_file()})
