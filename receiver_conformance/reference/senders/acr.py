"""Azure Container Registry: no authentication; the body must be an ACR webhook payload."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import STRING, registry_payload
from .base import Event, WebhookRequest

SHAPE = {"action": STRING, "target": {"repository": STRING, "tag": STRING}}


class ACRSender:
    """Checks the members the reference reads: action, target.repository and target.tag."""

    type = "acr"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        return Event(payload=registry_payload(request.body, SHAPE, "ACR"))
