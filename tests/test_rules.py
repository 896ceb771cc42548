"""The rules table (receiver_conformance/rules.yaml) holds: every rule names real scenarios
and flaws whose teeth cases fail those scenarios, says why where it has none, and covers
the behaviour spec unit by unit."""

from __future__ import annotations

from collections import Counter

import pytest

from receiver_conformance import paths, rules, scenario_ids
from tests.broken.flaws import FLAWS
from tests.checkout import REPO_ROOT
from tests.test_suite_teeth import CASES, CHECKED_ELSEWHERE

# The behaviour spec is shared beside the checkout (../shared), not part of it: an installed
# package (or a checkout elsewhere) has none, and the tests that read it are skipped.
SPEC = REPO_ROOT.parent / "shared" / "receiver-semantics.md"
RULES = rules.load()
CATALOGUE = scenario_ids.catalogue(paths.FEATURES)
MUST_FAIL: dict[str, set[str]] = {}
for _case in CASES:
    MUST_FAIL.setdefault(_case.flaw, set()).update(_case.must_fail)
MAX_WORDS = 14


def by_rule(pairs: list[tuple[rules.Rule, str]]) -> list[object]:
    return [pytest.param(rule, item, id=f"{rule.id}:{item}") for rule, item in pairs]


def overlaps(wanted: str, failing: str) -> bool:
    """Whether a rule's scenario (or row) and a teeth case's scenario (or row) meet."""
    return scenario_ids.selects(wanted, failing) or scenario_ids.selects(failing, wanted)


def test_ids_are_unique_and_well_formed() -> None:
    repeated = [name for name, count in Counter(r.id for r in RULES).items() if count > 1]
    assert not repeated, f"rule ids used twice: {repeated}"
    for rule in RULES:
        scenario_ids.check_name(rule.id)
        assert "/" not in rule.id


@pytest.mark.parametrize(("rule", "scenario"),
                         by_rule([(r, s) for r in RULES for s in r.scenarios]))
def test_a_scenario_names_one_in_the_catalogue(rule: rules.Rule, scenario: str) -> None:
    assert CATALOGUE.known(scenario), f"{rule.id}: no scenario {scenario!r}"


@pytest.mark.parametrize(("rule", "flaw"), by_rule([(r, f) for r in RULES for f in r.flaws]))
def test_a_flaw_is_a_broken_receiver_whose_case_fails_the_rule(rule: rules.Rule, flaw: str) -> None:
    assert flaw in FLAWS, f"{rule.id}: no flaw {flaw!r} in tests/broken/flaws.py"
    if flaw in CHECKED_ELSEWHERE:
        return
    failing = MUST_FAIL.get(flaw, set())
    assert any(overlaps(s, f) for s in rule.scenarios for f in failing), (
        f"{rule.id}: the teeth case of {flaw!r} fails none of the rule's scenarios")


@pytest.mark.parametrize("rule", [pytest.param(r, id=r.id) for r in RULES])
def test_a_gap_says_why_exactly_when_a_list_is_empty(rule: rules.Rule) -> None:
    incomplete = not rule.scenarios or not rule.flaws
    assert bool(rule.gap) == incomplete, (
        f"{rule.id}: " + ("no scenarios or no flaws, and no gap" if incomplete
                          else "a gap, yet scenarios and flaws"))


@pytest.mark.parametrize("rule", [pytest.param(r, id=r.id) for r in RULES])
def test_says_is_a_short_paraphrase(rule: rules.Rule) -> None:
    assert 0 < len(rule.says.split()) <= MAX_WORDS, f"{rule.id}: says {len(rule.says.split())} words"


@pytest.fixture(scope="module")
def units() -> list[tuple[str, str]]:
    if not SPEC.is_file():
        pytest.skip(f"no behaviour spec at {SPEC} (an installed package has none)")
    return rules.spec_units(SPEC.read_text(encoding="utf-8"))


def test_every_unit_of_the_spec_has_a_rule(units: list[tuple[str, str]]) -> None:
    traced = {p for rule in RULES for p in rule.fingerprints}
    missing = [f"{section}: {text[:80]}" for section, text in units
               if rules.fingerprint(text) not in traced]
    assert not missing, "the spec gained a rule the table lacks:\n" + "\n".join(missing)


def test_every_rule_is_a_unit_of_the_spec(units: list[tuple[str, str]]) -> None:
    sections = {rules.fingerprint(text): section for section, text in units}
    changed = [rule.id for rule in RULES if any(p not in sections for p in rule.fingerprints)]
    assert not changed, f"the spec changed these rules: {changed}"
    moved = [rule.id for rule in RULES if any(sections[p] != rule.section for p in rule.fingerprints)]
    assert not moved, f"these rules are under another section of the spec: {moved}"


SAMPLE = """\
# Title
Preface one. Preface two with `e.g. Code` inside.

## Server

| condition | status |
| --- | --- |
| too big | 413 |

- A bullet
  that goes on.
  - A nested one.

Port 9292; one handler. Next
sentence here.
"""


@pytest.mark.parametrize(("index", "expected"), [
    (0, ("Title", "preface one.")),
    (1, ("Title", "preface two with `e.g. code` inside.")),
    (2, ("Server", "too big | 413")),
    (3, ("Server", "a bullet that goes on.")),
    (4, ("Server", "a nested one.")),
    (5, ("Server", "port 9292; one handler.")),
    (6, ("Server", "next sentence here.")),
])
def test_spec_units_splits_rows_bullets_and_sentences(index: int, expected: tuple[str, str]) -> None:
    units = rules.spec_units(SAMPLE)
    assert len(units) == 7
    assert units[index] == expected


def test_a_fingerprint_ignores_case_and_spacing() -> None:
    assert rules.fingerprint("A  rule\n here") == rules.fingerprint("a rule here")
    assert len(rules.fingerprint("x")) == 12
