"""Kubernetes label selectors in their string form (`labels.Parse`), as Flux's flags take them.

`key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key`,
`key>N`, `key<N`, joined by commas (all must hold). `!=` and `notin` also match objects
without the key. The empty string selects everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(==|!=|=|>|<|\(|\)|,|!)|([^\s=!<>(),]+))")
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}")
_VALUE = re.compile(rf"({_NAME})?")


class SelectorError(ValueError):
    """A label selector that does not parse."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # in, notin, exists, !, gt, lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        try:
            number, [bound] = int(value or ""), [int(v) for v in self.values]
        except ValueError:
            return False
        return number > bound if self.operator == "gt" else number < bound


@dataclass(frozen=True)
class Selector:
    """A parsed selector; `text` is what it was parsed from."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)

    def __str__(self) -> str:
        return self.text or "(everything)"


def parse(text: str) -> Selector:
    """Parse a selector string; raise SelectorError with the reason when it is not one."""
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    while tokens:
        requirements.append(_requirement(tokens, text))
        if tokens and tokens.pop(0) != ",":
            raise SelectorError(f"{text!r}: expected ',' between requirements")
        if not tokens and text.rstrip().endswith(","):
            raise SelectorError(f"{text!r}: a requirement is missing after ','")
    return Selector(text, tuple(requirements))


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            if text[at:].strip():
                raise SelectorError(f"{text!r}: unexpected {text[at:]!r}")
            break
        tokens.append(match.group(1) or match.group(2) or "")
        at = match.end()
    return [t for t in tokens if t]


def _requirement(tokens: list[str], text: str) -> Requirement:
    negated = tokens[0] == "!"
    if negated:
        tokens.pop(0)
    key = tokens.pop(0) if tokens else ""
    if not _KEY.fullmatch(key) or len(key) > 316:
        raise SelectorError(f"{text!r}: {key!r} is not a valid label key")
    if negated or not tokens or tokens[0] == ",":
        return Requirement(key, "!" if negated else "exists")
    operator = tokens.pop(0)
    if operator in ("in", "notin"):
        return Requirement(key, operator, frozenset(_set(tokens, text)))
    if operator in ("=", "=="):
        return Requirement(key, "in", frozenset({_value(tokens, text)}))
    if operator == "!=":
        return Requirement(key, "notin", frozenset({_value(tokens, text)}))
    if operator in (">", "<"):
        bound = _value(tokens, text)
        if not bound.lstrip("-").isdigit():
            raise SelectorError(f"{text!r}: {operator} needs an integer, not {bound!r}")
        return Requirement(key, "gt" if operator == ">" else "lt", frozenset({bound}))
    raise SelectorError(f"{text!r}: {operator!r} is not an operator")


def _value(tokens: list[str], text: str) -> str:
    value = tokens.pop(0) if tokens and tokens[0] not in (",", "(", ")") else ""
    if not _VALUE.fullmatch(value):
        raise SelectorError(f"{text!r}: {value!r} is not a valid label value")
    return value


def _set(tokens: list[str], text: str) -> list[str]:
    if not tokens or tokens.pop(0) != "(":
        raise SelectorError(f"{text!r}: expected '(' after in/notin")
    values = []
    while True:
        values.append(_value(tokens, text))
        closing = tokens.pop(0) if tokens else ""
        if closing == ")":
            return values
        if closing != ",":
            raise SelectorError(f"{text!r}: expected ',' or ')' in a set of values")
