"""Docker Hub: no authentication; the body must be a Docker Hub webhook payload."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import STRING, registry_payload
from .base import Event, WebhookRequest

SHAPE = {"push_data": {"tag": STRING}, "repository": {"repo_url": STRING}}


class DockerHubSender:
    """Checks the members the reference reads: push_data.tag and repository.repo_url."""

    type = "dockerhub"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        return Event(payload=registry_payload(request.body, SHAPE, "Docker Hub"))
