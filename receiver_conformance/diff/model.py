"""The generated cases: a Receiver spec and a request spec, both side-neutral.

Namespaces appear symbolically ("same", "other"); a `Side` maps them to its own namespaces,
so one spec is deployed identically on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAME = "same"    # the Receiver's own namespace
OTHER = "other"  # the side's second namespace (cross-namespace references)


@dataclass(frozen=True)
class ResourceSpec:
    """One entry of `spec.resources`."""

    kind: str
    name: str
    namespace: str | None = None  # None (omitted), SAME or OTHER
    api_version: str | None = None
    match_labels: tuple[tuple[str, str], ...] | None = None
    filter: str | None = None

    def complexity(self) -> int:
        return (1 + (self.namespace is not None) + (self.api_version is not None)
                + len(self.match_labels or ()) + (self.filter is not None) * 2)


@dataclass(frozen=True)
class ReceiverSpec:
    """A Receiver's spec; `secret` names one of the side's Secrets (or a missing one)."""

    type: str
    resources: tuple[ResourceSpec, ...]
    secret: str | None = "token-a"
    events: tuple[str, ...] = ()
    resource_filter: str | None = None
    suspend: bool = False
    oidc: bool = False  # generic-oidc: one provider with a CEL validation

    def complexity(self) -> int:
        return (len(self.events) + (self.resource_filter is not None) * 2 + self.suspend
                + self.oidc + sum(r.complexity() for r in self.resources))


@dataclass(frozen=True)
class RequestSpec:
    """A request, before it is signed for a side: every choice is a name or a value."""

    path: str = "own"            # own, unknown, query, trailing-slash
    event: str | None = None     # the event header's value (None: no event header)
    auth: str = "valid"          # valid, wrong, missing, empty, other-token, + type variants
    casing: str = "canonical"    # canonical, lower, upper: header names
    content_type: str | None = "application/json"
    body: str = "valid"          # see generator.BODY_SHAPES
    mutation: int = 0            # which mutation, for body "mutated"


@dataclass(frozen=True)
class Built:
    """A request ready to send: path, headers (name order kept) and raw body."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def describe(self) -> str:
        """Headers with secret-bearing values replaced by their length."""
        from receiver_conformance.senders.delivery import PLAIN_HEADERS

        parts = [f"{k}: {v}" if k.lower() in PLAIN_HEADERS else f"{k}: <{len(v)} chars>"
                 for k, v in self.headers]
        return f"{len(self.body)}-byte body; " + (", ".join(parts) or "no headers")


@dataclass(frozen=True)
class ReceiverState:
    """What a side made of a Receiver: its conditions and its webhook path, judged."""

    conditions: tuple[tuple[str, str, str], ...]  # (type, status, reason), sorted
    path: str  # "derived" (the expected hash), "absent", or "wrong"

    def ready(self) -> bool:
        return ("Ready", "True") in {(t, s) for t, s, _ in self.conditions}


@dataclass(frozen=True)
class Answer:
    """What a side did with one request: its status and the objects it annotated."""

    status: int
    annotated: frozenset[str] = field(default_factory=frozenset)  # "Kind same/name"
