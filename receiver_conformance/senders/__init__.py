"""How each sender system builds a webhook request, for the conformance scenarios.

Every receiver type has a table of named variants ("valid", "wrong signature", ...), each
with the status a conformant receiver answers (200 accepted, 400 refused), assuming the
Receiver lists `listed_events(type)` in `spec.events` (types without events ignore that).

    d = delivery("github", "wrong signature", token, event="push")
    response = send(base_url, hook_path, d)
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from . import (
    acr,
    bitbucket,
    cdevents,
    dockerhub,
    gcr,
    generic,
    generic_hmac,
    github,
    gitlab,
    harbor,
    nexus,
    quay,
)
from .delivery import Delivery, Variant, send
from .token import generate_token, short_path, webhook_path

__all__ = [
    "SENDER_TYPES",
    "Delivery",
    "UnknownSender",
    "UnknownVariant",
    "Variant",
    "delivery",
    "expected_status",
    "generate_token",
    "listed_events",
    "send",
    "short_path",
    "variant_names",
    "webhook_path",
]

# Receiver `spec.type` -> its variants. generic-oidc has its own scenarios and no variants here.
VARIANTS: MappingProxyType[str, dict[str, Variant]] = MappingProxyType(
    {
        "github": github.VARIANTS,
        "gitlab": gitlab.VARIANTS,
        "bitbucket": bitbucket.VARIANTS,
        "harbor": harbor.VARIANTS,
        "generic": generic.VARIANTS,
        "generic-hmac": generic_hmac.VARIANTS,
        "dockerhub": dockerhub.VARIANTS,
        "quay": quay.VARIANTS,
        "acr": acr.VARIANTS,
        "nexus": nexus.VARIANTS,
        "cdevents": cdevents.VARIANTS,
        "gcr": gcr.VARIANTS,
    }
)
SENDER_TYPES: tuple[str, ...] = tuple(VARIANTS)

_LISTED_EVENTS = {
    "github": github.LISTED_EVENTS,
    "gitlab": gitlab.LISTED_EVENTS,
    "bitbucket": bitbucket.LISTED_EVENTS,
    "cdevents": cdevents.LISTED_EVENTS,
}


class UnknownSender(KeyError):
    """No sender type of that name."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownVariant(KeyError):
    """The sender type has no variant of that name."""

    def __str__(self) -> str:
        return str(self.args[0])


def _variants(sender_type: str) -> dict[str, Variant]:
    try:
        return VARIANTS[sender_type]
    except KeyError:
        known = ", ".join(SENDER_TYPES)
        raise UnknownSender(f"unknown sender type {sender_type!r}; known: {known}") from None


def _variant(sender_type: str, variant: str) -> Variant:
    table = _variants(sender_type)
    try:
        return table[variant]
    except KeyError:
        known = ", ".join(repr(name) for name in table)
        raise UnknownVariant(f"{sender_type} has no variant {variant!r}; known: {known}") from None


def variant_names(sender_type: str) -> tuple[str, ...]:
    """The names of `sender_type`'s variants."""
    return tuple(_variants(sender_type))


def expected_status(sender_type: str, variant: str) -> int:
    """The status a conformant receiver answers to this variant (200 or 400)."""
    return _variant(sender_type, variant).expected_status


def listed_events(sender_type: str) -> tuple[str, ...]:
    """The events a Receiver under test lists in `spec.events` (empty: the type has none)."""
    _variants(sender_type)
    return _LISTED_EVENTS.get(sender_type, ())


def delivery(sender_type: str, variant: str, token: str, **context: Any) -> Delivery:
    """Build the request `sender_type` would send, in the named `variant`.

    `context` carries what some types need: `event` (github, gitlab, bitbucket) picks the
    event and its payload (github also takes `payload`, the JSON bytes to send instead of
    the example); gcr needs `issuer` (a `gcr.TestGoogleIssuer`), `audience` and
    `email`.
    """
    headers, body = _variant(sender_type, variant).build(token, context)
    return Delivery(sender_type=sender_type, variant=variant, headers=headers, body=body)
