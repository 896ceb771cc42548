"""The Receiver API (notification.toolkit.fluxcd.io/v1) as plain Python values.

The controller and the HTTP server share these types and nothing else but the index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GROUP = "notification.toolkit.fluxcd.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Receiver"
PLURAL = "receivers"

FINALIZER = "finalizers.fluxcd.io"
RECONCILE_ANNOTATION = "reconcile.fluxcd.io/requestedAt"
HOOK_PREFIX = "/hook/"
TOKEN_KEY = "token"
DEFAULT_INTERVAL_SECONDS = 600.0

# Condition types and reasons, as Flux names them.
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
SUCCEEDED = "Succeeded"
FAILED = "Failed"  # fluxcd/pkg apis/meta FailedReason: the reason of failure Events
PROGRESSING = "Progressing"
PROGRESSING_WITH_RETRY = "ProgressingWithRetry"
TOKEN_NOT_FOUND = "TokenNotFound"
INVALID_CEL_EXPRESSION = "InvalidCELExpression"
VALIDATION_FAILED = "ValidationFailed"
UNSUPPORTED_TYPE = "UnsupportedType"

GENERIC_OIDC = "generic-oidc"
RECEIVER_TYPES = frozenset(
    {
        "generic",
        "generic-hmac",
        GENERIC_OIDC,
        "github",
        "gitlab",
        "bitbucket",
        "harbor",
        "dockerhub",
        "quay",
        "gcr",
        "nexus",
        "acr",
        "cdevents",
    }
)

# apiVersion used when a resource reference leaves it out; other kinds must name one.
DEFAULT_API_VERSIONS: Mapping[str, str] = {
    "Bucket": "source.toolkit.fluxcd.io/v1",
    "HelmChart": "source.toolkit.fluxcd.io/v1",
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "ImageRepository": "image.toolkit.fluxcd.io/v1",
    "ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
}

_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def webhook_path(token: str | bytes, name: str, namespace: str) -> str:
    """The hook path Flux derives from the token and the Receiver's name and namespace."""
    raw = token if isinstance(token, bytes) else token.encode()
    digest = hashlib.sha256(raw + name.encode() + namespace.encode()).hexdigest()
    return HOOK_PREFIX + digest


def parse_interval(value: str | None) -> float:
    """Seconds in a Go duration such as `10m` or `1h30m`; the default when empty or invalid."""
    if not value or not _DURATION.match(value):
        return DEFAULT_INTERVAL_SECONDS
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
    return seconds or DEFAULT_INTERVAL_SECONDS


def short_path(path: str) -> str:
    """A hook path safe to log: the prefix and the first 8 hex characters."""
    if path.startswith(HOOK_PREFIX):
        return path[: len(HOOK_PREFIX) + 8] + "…"
    return path[:16] + ("…" if len(path) > 16 else "")


@dataclass(frozen=True)
class ResourceRef:
    """One entry of `spec.resources`."""

    kind: str
    name: str
    api_version: str | None = None
    namespace: str | None = None
    match_labels: Mapping[str, str] | None = None
    filter: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceRef:
        return cls(
            kind=str(data.get("kind") or ""),
            name=str(data.get("name") or ""),
            api_version=data.get("apiVersion") or None,
            namespace=data.get("namespace") or None,
            match_labels=dict(data["matchLabels"]) if data.get("matchLabels") else None,
            filter=data.get("filter") or None,
        )


DEFAULT_OIDC_AUDIENCE = "notification-controller"


@dataclass(frozen=True)
class OIDCVariable:
    name: str
    expression: str


@dataclass(frozen=True)
class OIDCValidation:
    expression: str
    message: str


@dataclass(frozen=True)
class OIDCProvider:
    """One entry of `spec.oidcProviders` (generic-oidc)."""

    issuer_url: str
    audience: str = DEFAULT_OIDC_AUDIENCE
    variables: tuple[OIDCVariable, ...] = ()
    validations: tuple[OIDCValidation, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OIDCProvider:
        return cls(
            issuer_url=str(data.get("issuerURL") or ""),
            audience=str(data.get("audience") or DEFAULT_OIDC_AUDIENCE),
            variables=tuple(OIDCVariable(str(v.get("name") or ""), str(v.get("expression") or ""))
                            for v in data.get("variables") or ()),
            validations=tuple(OIDCValidation(str(v.get("expression") or ""),
                                             str(v.get("message") or ""))
                              for v in data.get("validations") or ()),
        )


@dataclass(frozen=True)
class Receiver:
    """A Receiver object as read from the API server, spec and status parsed."""

    name: str
    namespace: str
    uid: str = ""
    generation: int = 0
    resource_version: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    deleting: bool = False
    type: str = ""
    events: tuple[str, ...] = ()
    secret_name: str | None = None
    resources: tuple[ResourceRef, ...] = ()
    resource_filter: str | None = None
    interval: float = DEFAULT_INTERVAL_SECONDS
    suspend: bool = False
    has_oidc_providers: bool = False
    oidc_providers: tuple[OIDCProvider, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Receiver:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        secret_ref = spec.get("secretRef") or {}
        return cls(
            name=meta.get("name", ""),
            namespace=meta.get("namespace", ""),
            uid=meta.get("uid", ""),
            generation=int(meta.get("generation") or 0),
            resource_version=meta.get("resourceVersion", ""),
            annotations=dict(meta.get("annotations") or {}),
            finalizers=tuple(meta.get("finalizers") or ()),
            deleting=bool(meta.get("deletionTimestamp")),
            type=str(spec.get("type") or ""),
            events=tuple(str(e) for e in spec.get("events") or ()),
            secret_name=secret_ref.get("name") or None,
            resources=tuple(ResourceRef.from_dict(r) for r in spec.get("resources") or ()),
            resource_filter=spec.get("resourceFilter") or None,
            interval=parse_interval(spec.get("interval")),
            suspend=bool(spec.get("suspend")),
            has_oidc_providers=bool(spec.get("oidcProviders")),
            oidc_providers=tuple(OIDCProvider.from_dict(p)
                                 for p in spec.get("oidcProviders") or ()),
            status=dict(obj.get("status") or {}),
        )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def secret_key(self) -> str | None:
        return f"{self.namespace}/{self.secret_name}" if self.secret_name else None

    @property
    def webhook_path(self) -> str:
        return str(self.status.get("webhookPath") or "")

    def condition(self, type_: str) -> Mapping[str, Any] | None:
        for cond in self.status.get("conditions") or ():
            if cond.get("type") == type_:
                return cond
        return None

    @property
    def ready(self) -> bool:
        cond = self.condition(READY)
        return bool(cond and cond.get("status") == "True")

    def accepts_event(self, event: str | None) -> bool:
        """True when spec.events is empty or names the event (case-insensitively).

        `None` means the type carries no event at all; Flux ignores spec.events then.
        """
        if not self.events or event is None:
            return True
        return any(event.casefold() == e.casefold() for e in self.events)
