"""Survivors argued equivalent (`equivalent.yaml`): no conforming test could tell them apart.

Each entry names a mutant by file, operator, original and mutated line, and where it is:
its line number or the def it is in (`function`, e.g. `TimedRequestHandler._refuse_headers`,
or `<module>`), and gives the reason. Text alone never matches: the same text in another
function is another mutant, with its own argument to make.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from receiver_conformance.mutation.mutants import Mutant

EQUIVALENT_FILE = Path(__file__).with_name("equivalent.yaml")
FIELDS = ("file", "line", "function", "operator", "original", "mutated", "reason")


class EquivalentsError(Exception):
    """equivalent.yaml is malformed; the message names the entry."""


@dataclass(frozen=True)
class Equivalent:
    file: str
    line: int
    function: str
    operator: str
    original: str
    mutated: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.file, self.operator, self.original.strip(), self.mutated.strip())


def load(path: Path = EQUIVALENT_FILE) -> list[Equivalent]:
    """The entries of `path`; each needs every field and a non-empty reason."""
    entries = (yaml.safe_load(path.read_text()) or []) if path.exists() else []
    if not isinstance(entries, list):
        raise EquivalentsError(f"{path}: expected a list of entries")
    found = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            raise EquivalentsError(f"{path}: entry {i} needs exactly {', '.join(FIELDS)}")
        if not str(entry["reason"]).strip():
            raise EquivalentsError(f"{path}: entry {i} gives no reason")
        found.append(Equivalent(str(entry["file"]), int(entry["line"]), str(entry["function"]),
                                str(entry["operator"]),
                                str(entry["original"]), str(entry["mutated"]),
                                str(entry["reason"]).strip()))
    return found


def match(mutant: Mutant, equivalents: list[Equivalent]) -> Equivalent | None:
    """The entry for `mutant`: same file, operator and lines, and the same line number or
    the same enclosing def (code that moved keeps its argument; the same text elsewhere
    does not). The line number decides between entries that are otherwise the same."""
    same = [e for e in equivalents if e.key == mutant.key
            and (e.line == mutant.line or e.function == mutant.function)]
    if len(same) > 1:
        same = [e for e in same if e.line == mutant.line]
    return same[0] if len(same) == 1 else None
