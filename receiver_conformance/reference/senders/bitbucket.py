"""Bitbucket Server: GitHub-style HMAC signature, event from `X-Event-Key`."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import github_style_payload
from .base import Event, WebhookRequest


class BitbucketSender:
    """Same signature and Content-Type rules as GitHub; the event key names the event."""

    type = "bitbucket"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        payload = github_style_payload(request, secret)
        return Event(name=request.header("X-Event-Key") or "", payload=payload)
