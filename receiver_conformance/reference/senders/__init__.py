"""Per-type validation of webhook requests for the reference receiver.

Interface (stable; the server and the reconciler depend on it):

- `sender_for(receiver_type, *, google_keys=None) -> Sender` returns the validator for a
  Receiver `spec.type` (`github`, `gitlab`, `bitbucket`, `harbor`, `generic`, `generic-hmac`,
  `dockerhub`, `quay`, `nexus`, `acr`, `cdevents`, `gcr`, `generic-oidc`). It raises
  `UnsupportedType` for any unknown type. The generic-oidc sender's `validate` also takes the
  Receiver's `providers` (it has no Secret) and returns the verified claims as `Event.claims`.
  `google_keys` is the `KeySource` the gcr sender verifies ID tokens with; by default one
  process-wide cache of Google's published keys. `key_source_from(location)` builds one from
  an https URL, a `file://` URL or a local JWKS path (for tests).
- `await sender.validate(request, secret) -> Event`: `request` is a `WebhookRequest`
  (header names lower-cased; `WebhookRequest.from_headers` lower-cases them for you),
  `secret` the decoded data of the Receiver's Secret (`token`; for gcr also `email` and
  `audience`). A request that fails validation raises `RefusedRequest` (answer 400) with a
  short sentence saying what was wrong, never containing the token.
- `Event.name` is the event to match case-insensitively against `spec.events`: a string for
  types with an event header (github `X-GitHub-Event`, gitlab `X-Gitlab-Event`, bitbucket
  `X-Event-Key`, cdevents `Ce-Type`; "" when the header is absent) and None for types without
  events, for which `spec.events` does not apply. `Event.payload` is what the sender decoded
  while validating: for GitHub-style form deliveries the JSON of the `payload` field, for gcr
  the notification unwrapped from the Pub/Sub message; None when the body is not JSON and the
  type does not require JSON. The server does not read it: CEL's `req` comes from the request
  body (for gcr, `Event.body`, the unwrapped notification), as Flux builds it.
"""

from __future__ import annotations

from collections.abc import Callable

from .acr import ACRSender
from .base import Event, RefusedRequest, Sender, UnsupportedType, WebhookRequest
from .bitbucket import BitbucketSender
from .cdevents import CDEventsSender
from .dockerhub import DockerHubSender
from .gcr import GCRSender
from .generic import GenericSender
from .generic_hmac import GenericHMACSender
from .generic_oidc import GenericOIDCSender
from .github import GitHubSender
from .gitlab import GitLabSender
from .google_keys import KeySource, KeySourceError, default_google_keys, key_source_from
from .harbor import HarborSender
from .nexus import NexusSender
from .quay import QuaySender

__all__ = [
    "RECEIVER_TYPES",
    "Event",
    "KeySource",
    "KeySourceError",
    "RefusedRequest",
    "Sender",
    "UnsupportedType",
    "WebhookRequest",
    "key_source_from",
    "sender_for",
]

# Receiver types whose sender needs no configuration, by `spec.type`.
_SENDERS: dict[str, Callable[[], Sender]] = {
    "generic": GenericSender,
    "generic-hmac": GenericHMACSender,
    "generic-oidc": GenericOIDCSender,
    "github": GitHubSender,
    "gitlab": GitLabSender,
    "bitbucket": BitbucketSender,
    "harbor": HarborSender,
    "dockerhub": DockerHubSender,
    "quay": QuaySender,
    "nexus": NexusSender,
    "acr": ACRSender,
    "cdevents": CDEventsSender,
}

# Every `spec.type` the API accepts.
RECEIVER_TYPES: frozenset[str] = frozenset({*_SENDERS, "gcr"})


def sender_for(receiver_type: str, *, google_keys: KeySource | None = None) -> Sender:
    """The sender for a Receiver's `spec.type`; raises UnsupportedType if there is none."""
    if receiver_type == "gcr":
        return GCRSender(google_keys if google_keys is not None else default_google_keys())
    factory = _SENDERS.get(receiver_type)
    if factory is None:
        raise UnsupportedType(f"unknown receiver type {receiver_type!r}")
    return factory()
