"""Generic OIDC: accepted by the API, not implemented by this reference receiver."""

from __future__ import annotations

from collections.abc import Mapping

from .base import Event, UnsupportedType, WebhookRequest

REASON = "receiver type 'generic-oidc' is not supported by the reference receiver"


class GenericOIDCSender:
    """Constructing one raises UnsupportedType, so lookups fail early and clearly."""

    type = "generic-oidc"

    def __init__(self) -> None:
        raise UnsupportedType(REASON)

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        raise UnsupportedType(REASON)
