"""GitHub: HMAC signature over the raw body, event from `X-GitHub-Event`."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import github_style_payload
from .base import Event, WebhookRequest


class GitHubSender:
    """`X-Hub-Signature-256: sha256=<hex>` (else legacy `X-Hub-Signature: sha1=<hex>`)."""

    type = "github"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        payload = github_style_payload(request, secret)
        return Event(name=request.header("X-GitHub-Event") or "", payload=payload)
