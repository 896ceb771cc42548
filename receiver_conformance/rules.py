"""Every rule of the behaviour spec, traced: `rules.yaml` gives each rule an id and names
the scenarios that check it and the broken receivers (flaws) that prove those scenarios do.

The spec itself (receiver-semantics.md) is not part of the package. `spec_units` splits its
markdown into rule units, and each rule carries the fingerprint of the unit it stands for,
so a test can tell when the spec gains a rule or changes one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from receiver_conformance.paths import PACKAGE

RULES = PACKAGE / "rules.yaml"

HEADING = re.compile(r"^(#+)\s+(.*)$")
BULLET = re.compile(r"^(\s*)[-*]\s+(.*)$")
SEPARATOR_ROW = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
# A sentence ends at . ! or ? followed by whitespace and a capital (outside code spans).
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z])")


@dataclass(frozen=True)
class Rule:
    """One rule of the spec, where it is checked and what proves the check."""

    id: str
    section: str
    fingerprints: tuple[str, ...]
    says: str
    scenarios: tuple[str, ...]
    flaws: tuple[str, ...]
    gap: str | None = None


def normalise(text: str) -> str:
    """`text` lower-cased, its runs of whitespace made one space."""
    return " ".join(text.split()).lower()


def fingerprint(unit_text: str) -> str:
    """The first 12 hex digits of the SHA-256 of the normalised text."""
    return hashlib.sha256(normalise(unit_text).encode()).hexdigest()[:12]


def load(path: Path = RULES) -> list[Rule]:
    """The rules of `path` (the package's table by default)."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = []
    for entry in entries:
        prints = entry.get("fingerprints") or [entry["fingerprint"]]
        rules.append(Rule(
            id=entry["id"], section=entry["section"], fingerprints=tuple(prints),
            says=entry["says"], scenarios=tuple(entry.get("scenarios") or ()),
            flaws=tuple(entry.get("flaws") or ()), gap=entry.get("gap")))
    return rules


def _sentences(paragraph: str) -> list[str]:
    """`paragraph` split into sentences; never inside a `code span`."""
    found: list[str] = []
    start = 0
    for end in SENTENCE_END.finditer(paragraph):
        if paragraph.count("`", 0, end.start()) % 2 == 0:
            found.append(paragraph[start:end.end()])
            start = end.end()
    found.append(paragraph[start:])
    return [s for s in (normalise(s) for s in found) if s]


def spec_units(text: str) -> list[tuple[str, str]]:
    """The spec's rule units, each (section heading, normalised text): every table row
    but headers and separators, every bullet item (its continuation lines included) and
    every sentence of a paragraph under a heading."""
    units: list[tuple[str, str]] = []
    section: str | None = None
    block: list[str] = []  # the lines of the paragraph or bullet being read
    table: list[str] = []  # the rows of the table being read

    def flush() -> None:
        if section is not None and block:
            if bullet := BULLET.match(block[0]):
                units.append((section, normalise(" ".join([bullet.group(2), *block[1:]]))))
            else:
                units.extend((section, s) for s in _sentences(" ".join(block)))
        if section is not None:
            rows = table[2:] if len(table) > 1 and SEPARATOR_ROW.match(table[1]) else table
            units.extend((section, normalise(" | ".join(
                cell.strip() for cell in row.strip().strip("|").split("|")))) for row in rows)
        block.clear()
        table.clear()

    for line in text.splitlines():
        if heading := HEADING.match(line):
            flush()
            section = heading.group(2).strip()
        elif not line.strip():
            flush()
        elif line.lstrip().startswith("|"):
            if block:
                flush()
            table.append(line)
        elif BULLET.match(line):
            flush()
            block.append(line)
        else:
            if table:
                flush()
            block.append(line.strip())
    flush()
    return units
