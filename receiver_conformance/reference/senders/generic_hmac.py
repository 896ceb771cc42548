"""Generic HMAC: `X-Signature: <alg>=<hex HMAC(token, body)>`, alg sha1, sha256 or sha512."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import check_prefixed_signature, token, try_json
from .base import Event, WebhookRequest


class GenericHMACSender:
    """The body must be signed with the Receiver's token; no event."""

    type = "generic-hmac"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        signature = request.header("X-Signature")
        check_prefixed_signature("X-Signature", signature, request.body, token(secret))
        return Event(payload=try_json(request.body))
