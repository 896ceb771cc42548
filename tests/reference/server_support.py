"""Pieces shared by the server unit tests: a receiver in an index, a stub sender and annotator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from receiver_conformance.reference import api
from receiver_conformance.reference.index import Index
from receiver_conformance.reference.senders.base import (
    Event,
    RefusedRequest,
    UnsupportedType,
    WebhookRequest,
)

TOKEN = b"s3cr3t"


def receiver_object(
    name: str = "hook",
    namespace: str = "apps",
    *,
    type_: str = "stub",
    ready: bool = True,
    suspend: bool = False,
    events: tuple[str, ...] = (),
    secret: str | None = "webhook-token",
) -> dict[str, Any]:
    """A Receiver as the API server would return it after a reconcile."""
    path = api.webhook_path(TOKEN, name, namespace)
    spec: dict[str, Any] = {
        "type": type_,
        "events": list(events),
        "resources": [{"kind": "GitRepository", "name": "podinfo"}],
        "suspend": suspend,
    }
    if secret:
        spec["secretRef"] = {"name": secret}
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                     "generation": 1, "resourceVersion": "1"},
        "spec": spec,
        "status": {
            "webhookPath": path,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "reason": "Succeeded" if ready else "TokenNotFound",
                            "message": ""}],
        },
    }


def index_with(*objects: Mapping[str, Any]) -> Index:
    index = Index()
    for obj in objects:
        receiver = api.Receiver.from_dict(obj)
        index.put(receiver)
        index.put_secret(f"{receiver.namespace}/webhook-token", {"token": TOKEN})
    return index


class StubSender:
    """Accepts a request whose `X-Token` header equals the token; the event is `X-Event`."""

    type = "stub"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        if (request.header("x-token") or "").encode() != secret.get("token"):
            raise RefusedRequest("bad token")
        try:
            payload = json.loads(request.body) if request.body else None
        except ValueError as exc:
            raise RefusedRequest(f"body is not JSON: {exc}") from None
        return Event(name=request.header("x-event"), payload=payload)


def stub_senders(receiver_type: str) -> StubSender:
    if receiver_type != "stub":
        raise UnsupportedType(receiver_type)
    return StubSender()


@dataclass
class StubAnnotator:
    """Records what it was asked to annotate; answers with `errors`."""

    errors: list[str] = field(default_factory=list)
    calls: list[tuple[str, bytes]] = field(default_factory=list)

    async def annotate(self, receiver: api.Receiver, request: WebhookRequest) -> list[str]:
        self.calls.append((receiver.key, request.body))
        return list(self.errors)
