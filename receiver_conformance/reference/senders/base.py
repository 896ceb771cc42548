"""The interface every sender type implements.

A sender type (github, gitlab, ...) knows how to tell whether a webhook request is
authentic and which event it carries. It knows nothing about Kubernetes: the server
hands it the raw request and the data of the Receiver's Secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class RefusedRequest(Exception):
    """The request failed the sender type's validation; the server answers 400."""


class UnsupportedType(Exception):
    """The receiver type is known to the API but not implemented here."""


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP request as received: header names are lower-cased, the body is raw bytes."""

    method: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @classmethod
    def from_headers(
        cls,
        method: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
    ) -> WebhookRequest:
        """Build a request from headers as sent, lower-casing their names.

        When a name repeats, the first value wins (as Go's `Header.Get` does).
        """
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        lowered: dict[str, str] = {}
        for name, value in pairs:
            lowered.setdefault(name.lower(), value)
        return cls(method=method, headers=lowered, body=body)


@dataclass(frozen=True)
class Event:
    """What a valid request carries.

    `name` is the event type used against `spec.events` (None when the type has no
    event header), `payload` what the sender decoded while validating (kept for reading
    and tests; the server does not use it: CEL's `req` comes from the body, as in Flux).
    `body`, when set, replaces the request body for the filters (gcr: the unwrapped
    notification, as Flux rewrites the body). `claims`, for generic-oidc, are the verified
    token's claims, offered to the filters as `claims`.
    """

    name: str | None = None
    payload: Any = field(default=None)
    body: bytes | None = None
    claims: Mapping[str, Any] | None = None


class Sender(Protocol):
    """Validates requests of one receiver type."""

    type: str

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        """Return the request's event, or raise RefusedRequest."""
        ...
