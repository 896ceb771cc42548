"""Where two sides' observations differ, and which differences count as the same finding."""

from __future__ import annotations

from dataclasses import dataclass

from receiver_conformance.diff.model import Answer, ReceiverState


@dataclass(frozen=True)
class Difference:
    """One observed field on which the sides disagree."""

    field: str  # "status", "annotated", "conditions", "webhookPath"
    left: str
    right: str


def status_class(code: int) -> str:
    return f"{code // 100}xx" if code else "no answer"


def answers(left: Answer, right: Answer) -> list[Difference]:
    """Status code (class and exact code) and the set of annotated objects."""
    out = []
    if left.status != right.status:
        out.append(Difference("status", str(left.status), str(right.status)))
    if left.annotated != right.annotated:
        out.append(Difference("annotated", _objects(left.annotated),
                              _objects(right.annotated)))
    return out


def receivers(left: ReceiverState, right: ReceiverState) -> list[Difference]:
    """Conditions (type, status, reason) and whether the webhook path is derived correctly."""
    out = []
    if left.conditions != right.conditions:
        out.append(Difference("conditions", _conditions(left), _conditions(right)))
    if left.path != right.path:
        out.append(Difference("webhookPath", left.path, right.path))
    return out


def request_key(receiver_type: str, left: Answer, right: Answer) -> tuple[str, ...]:
    """Differences with the same key are one finding: same statuses, same kind of mismatch.

    A 4xx is a type's validation, so the type is part of the key; 5xx and 2xx are not
    type-specific (annotation and filters are shared by every type).
    """
    validation = any(400 <= code < 500 for code in (left.status, right.status))
    return ("request", receiver_type if validation else "*", str(left.status),
            str(right.status), "annotated" if left.annotated != right.annotated else "")


def receiver_key(diffs: list[Difference]) -> tuple[str, ...]:
    return ("receiver", *sorted(f"{d.field}:{d.left}|{d.right}" for d in diffs))


def _objects(names: frozenset[str]) -> str:
    return ", ".join(sorted(names)) or "nothing"


def _conditions(state: ReceiverState) -> str:
    return ", ".join(f"{t}={s} ({r})" for t, s, r in state.conditions) or "none"
