"""Generic: anyone who knows the hook path may trigger it; nothing is checked."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import try_json
from .base import Event, WebhookRequest


class GenericSender:
    """Accepts every request; the JSON body, if any, is offered to CEL filters."""

    type = "generic"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        return Event(payload=try_json(request.body))
