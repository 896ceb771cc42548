"""Nexus Repository: `X-Nexus-Webhook-Signature: <hex HMAC-SHA1(token, body)>`, JSON body."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ._common import STRING, hmac_hex, raw, registry_payload, token
from .base import Event, RefusedRequest, WebhookRequest

HEADER = "X-Nexus-Webhook-Signature"
SHAPE = {"action": STRING, "repositoryName": STRING}


class NexusSender:
    """The signature is the bare lower-case hex digest, compared as sent."""

    type = "nexus"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        signature = request.header(HEADER)
        if not signature:
            raise RefusedRequest(f"missing {HEADER} header")
        expected = hmac_hex("sha1", token(secret), request.body)
        if not hmac.compare_digest(raw(signature), expected.encode()):
            raise RefusedRequest(f"the {HEADER} signature does not match the body")
        return Event(payload=registry_payload(request.body, SHAPE, "Nexus", stream=False))
