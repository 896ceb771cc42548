"""Harbor: the `Authorization` header carries the token itself; no event."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import check_header_equals_token, token, try_json
from .base import Event, WebhookRequest


class HarborSender:
    """The Authorization header must equal the Receiver's token (no scheme prefix)."""

    type = "harbor"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        check_header_equals_token(request, "Authorization", token(secret))
        return Event(payload=try_json(request.body))
