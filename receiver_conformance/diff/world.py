"""One side's objects on the shared control plane: namespaces, Secrets, sources, Receivers.

Each side owns two namespaces, `diff-<side>` (its receiver watches only this one: the
Receivers, their Secrets and most sources) and `diff-<side>-other` (sources reached by
cross-namespace references). Both sides hold identical objects, so a Receiver spec means
the same thing on either side and only the namespace differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receiver_conformance.diff.generator import TOKENS
from receiver_conformance.diff.model import OTHER, SAME, ReceiverSpec

LABEL = "receiver-conformance.diff"  # every object the diff creates carries it
NOTIFICATION = "notification.toolkit.fluxcd.io/v1"

# (kind, apiVersion, role, name, labels)
SOURCES: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    ("GitRepository", "source.toolkit.fluxcd.io/v1", SAME, "app", {"team": "a", "tier": "web"}),
    ("GitRepository", "source.toolkit.fluxcd.io/v1", SAME, "infra", {"team": "b"}),
    ("GitRepository", "source.toolkit.fluxcd.io/v1", SAME, "web", {"team": "a", "tier": "web"}),
    ("OCIRepository", "source.toolkit.fluxcd.io/v1", SAME, "charts", {"team": "a"}),
    ("HelmRepository", "source.toolkit.fluxcd.io/v1", SAME, "repo", {"team": "b"}),
    ("Kustomization", "kustomize.toolkit.fluxcd.io/v1", SAME, "apps", {"team": "a"}),
    ("GitRepository", "source.toolkit.fluxcd.io/v1", OTHER, "app", {"team": "a"}),
    ("GitRepository", "source.toolkit.fluxcd.io/v1", OTHER, "shared", {"team": "b"}),
    ("OCIRepository", "source.toolkit.fluxcd.io/v1", OTHER, "charts", {"team": "a"}),
)
SOURCE_SPECS: Mapping[str, dict[str, Any]] = {
    "GitRepository": {"url": "https://git.example.test/app.git", "interval": "60m"},
    "OCIRepository": {"url": "oci://registry.example.test/charts", "interval": "60m"},
    "HelmRepository": {"url": "https://charts.example.test", "interval": "60m"},
    "Kustomization": {"interval": "60m", "prune": False, "path": "./",
                      "sourceRef": {"kind": "GitRepository", "name": "app"}},
}


@dataclass(frozen=True)
class Side:
    """`left` or `right`, and the implementation that runs there."""

    name: str
    implementation: str

    @property
    def namespace(self) -> str:
        return f"diff-{self.name}"

    @property
    def other_namespace(self) -> str:
        return f"diff-{self.name}-other"

    def resolve(self, role: str | None) -> str | None:
        return {SAME: self.namespace, OTHER: self.other_namespace}.get(role or "")

    def role_of(self, namespace: str) -> str | None:
        return {self.namespace: SAME, self.other_namespace: OTHER}.get(namespace)


def secrets(side: Side) -> list[dict[str, Any]]:
    """The side's token Secrets: "token-a", "token-b", and "no-token" without the key."""
    objs = [_secret(side, name, {"token": value}) for name, value in TOKENS.items()]
    objs.append(_secret(side, "no-token", {"other": "x"}))
    return objs


def _secret(side: Side, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": side.namespace, "labels": {LABEL: "1"}},
            "stringData": data}


def sources(side: Side) -> list[dict[str, Any]]:
    return [
        {"apiVersion": api_version, "kind": kind,
         "metadata": {"name": name, "namespace": side.resolve(role),
                      "labels": {LABEL: "1", **labels}},
         "spec": SOURCE_SPECS[kind]}
        for kind, api_version, role, name, labels in SOURCES
    ]


def receiver_manifest(side: Side, name: str, spec: ReceiverSpec) -> dict[str, Any]:
    """The Receiver `spec` describes, in the side's namespace."""
    resources = []
    for ref in spec.resources:
        item: dict[str, Any] = {"kind": ref.kind, "name": ref.name}
        if ref.api_version:
            item["apiVersion"] = ref.api_version
        if ref.namespace:
            item["namespace"] = side.resolve(ref.namespace)
        if ref.match_labels is not None:
            item["matchLabels"] = dict(ref.match_labels)
        if ref.filter is not None:
            item["filter"] = ref.filter
        resources.append(item)
    body: dict[str, Any] = {"type": spec.type, "resources": resources, "interval": "60m"}
    if spec.secret is not None:
        body["secretRef"] = {"name": spec.secret}
    if spec.events:
        body["events"] = list(spec.events)
    if spec.resource_filter is not None:
        body["resourceFilter"] = spec.resource_filter
    if spec.suspend:
        body["suspend"] = True
    if spec.oidc:
        body["oidcProviders"] = [{"issuerURL": "https://issuer.example.test",
                                  "validations": [{"expression": "claims.sub == 'ci'",
                                                   "message": "not ci"}]}]
    return {"apiVersion": NOTIFICATION, "kind": "Receiver",
            "metadata": {"name": name, "namespace": side.namespace, "labels": {LABEL: "1"}},
            "spec": body}


def expected_path(side: Side, name: str, spec: ReceiverSpec) -> str | None:
    """The webhook path Flux derives, or None when the Secret gives no token."""
    if spec.secret is None:
        token = ""
    elif spec.secret in TOKENS:
        token = TOKENS[spec.secret]
    else:
        return None
    digest = hashlib.sha256((token + name + side.namespace).encode()).hexdigest()
    return f"/hook/{digest}"
