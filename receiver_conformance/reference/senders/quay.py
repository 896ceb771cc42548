"""Quay: no authentication; the body must be a Quay repository-push payload."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import STRING, registry_payload
from .base import Event, WebhookRequest

SHAPE = {"docker_url": STRING, "updated_tags": [STRING]}


class QuaySender:
    """Checks the members the reference reads: docker_url and updated_tags."""

    type = "quay"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        return Event(payload=registry_payload(request.body, SHAPE, "Quay"))
