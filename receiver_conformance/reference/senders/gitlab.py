"""GitLab: `X-Gitlab-Token` carries the token itself, event from `X-Gitlab-Event`."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import check_header_equals_token, token, try_json
from .base import Event, WebhookRequest


class GitLabSender:
    """The secret token header must equal the Receiver's token."""

    type = "gitlab"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        check_header_equals_token(request, "X-Gitlab-Token", token(secret))
        return Event(name=request.header("X-Gitlab-Event") or "", payload=try_json(request.body))
