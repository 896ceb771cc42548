"""The Flux objects the guide works with: sources, token Secrets, Receivers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance import paths
from receiver_conformance.kube import Kube, load_manifests, wait_until

RECEIVER_API = "notification.toolkit.fluxcd.io/v1"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
GUIDE = paths.FIXTURES / "guide"
READY_TIMEOUT = 30.0

# The apiVersion of every kind a Receiver may point at.
API_VERSIONS = {
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
    "HelmChart": "source.toolkit.fluxcd.io/v1",
    "Bucket": "source.toolkit.fluxcd.io/v1",
    "ExternalArtifact": "source.toolkit.fluxcd.io/v1",
    "ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
    "ImageRepository": "image.toolkit.fluxcd.io/v1",
    "ImagePolicy": "image.toolkit.fluxcd.io/v1",
    "ImageUpdateAutomation": "image.toolkit.fluxcd.io/v1",
    "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
    "HelmRelease": "helm.toolkit.fluxcd.io/v2",
}

# Kinds whose apiVersion a Receiver may leave out: the receiver knows their default.
DEFAULTED_KINDS = frozenset({
    "Bucket", "HelmChart", "HelmRepository", "GitRepository", "OCIRepository",
    "ImageRepository", "ArtifactGenerator",
})

# A plausible spec per kind, for sources the guide does not spell out.
SPECS: dict[str, dict[str, Any]] = {
    "GitRepository": {"interval": "60m", "url": "https://github.com/example/webapp",
                      "ref": {"branch": "main"}},
    "OCIRepository": {"interval": "10m", "url": "oci://ghcr.io/example/webapp",
                      "ref": {"tag": "latest"}},
    "HelmRepository": {"interval": "10m", "url": "https://charts.example.com"},
    "HelmChart": {"interval": "10m", "chart": "webapp",
                  "sourceRef": {"kind": "HelmRepository", "name": "webapp"}},
    "Bucket": {"interval": "10m", "bucketName": "webapp", "endpoint": "s3.example.com"},
    "ImageRepository": {"interval": "10m", "image": "ghcr.io/example/webapp"},
    "Kustomization": {"interval": "10m", "path": "./", "prune": True,
                      "sourceRef": {"kind": "GitRepository", "name": "webapp"}},
    "HelmRelease": {"interval": "10m", "chart": {"spec": {"chart": "webapp"}}},
    "ArtifactGenerator": {
        "sources": [{"alias": "webapp", "kind": "GitRepository", "name": "webapp"}],
        "artifacts": [{"name": "webapp", "copy": [{"from": "@webapp/**", "to": "@artifact/"}]}],
    },
}


def guide_object(
    file: str, namespace: str, name: str | None = None,
    placeholders: Mapping[str, str] | None = None, directory: Path = GUIDE,
) -> dict[str, Any]:
    """One object of the guide, moved to `namespace` (and renamed if asked)."""
    values = {"<GH-ORG>": "example", "<GH-REPO>": "webapp", **(placeholders or {})}
    [doc] = load_manifests(directory / file)
    obj = copy.deepcopy(doc)
    _fill(obj, values)
    obj["metadata"]["namespace"] = namespace
    if name:
        obj["metadata"]["name"] = name
    return obj


def _fill(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            node[key] = _fill(value, values)
    elif isinstance(node, list):
        node[:] = [_fill(v, values) for v in node]
    elif isinstance(node, str):
        for placeholder, value in values.items():
            node = node.replace(placeholder, value)
    return node


def source_object(
    kind: str, name: str, namespace: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A source (or other Flux object) of `kind` with a plausible spec."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": meta,
            "spec": copy.deepcopy(SPECS.get(kind, {}))}


def receiver_object(
    name: str, namespace: str, receiver_type: str, resources: list[dict[str, Any]],
    events: list[str] | None = None, secret: str | None = "webhook-token",
    extra_spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": receiver_type, "resources": resources}
    if events:
        spec["events"] = events
    if secret:
        spec["secretRef"] = {"name": secret}
    spec.update(extra_spec or {})
    return {"apiVersion": RECEIVER_API, "kind": "Receiver",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def put_token_secret(
    kube: Kube, namespace: str, name: str, data: Mapping[str, str]
) -> None:
    """Create or replace an Opaque Secret (the token Secret of the guide)."""
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name, namespace=namespace),
                           string_data=dict(data), type="Opaque")
    try:
        kube.core.create_namespaced_secret(namespace, body)
    except ApiException as err:
        if err.status != 409:
            raise
        kube.core.replace_namespaced_secret(name, namespace, body)


def get_receiver(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get(RECEIVER_API, "Receiver", name, namespace)


def condition(obj: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def describe_receiver(kube: Kube, namespace: str, name: str) -> str:
    receiver = get_receiver(kube, namespace, name)
    if receiver is None:
        return "no such Receiver"
    status = dict(receiver.get("status") or {})
    if status.get("webhookPath"):
        status["webhookPath"] = status["webhookPath"][:14] + "…"
    return str(status)


def wait_receiver_condition(
    kube: Kube, namespace: str, name: str, status: str = "True", reason: str | None = None,
    kind: str = "Ready", timeout: float = READY_TIMEOUT,
) -> dict[str, Any]:
    """Wait until the Receiver's condition `kind` has `status` (and `reason`) for its
    current generation; return the Receiver."""

    def settled() -> dict[str, Any] | None:
        receiver = get_receiver(kube, namespace, name)
        cond = condition(receiver, kind)
        if receiver is None or cond is None:
            return None
        # The condition's own observedGeneration, else the status's, must be current.
        observed = cond.get("observedGeneration",
                            (receiver.get("status") or {}).get("observedGeneration"))
        current = observed == receiver["metadata"].get("generation")
        if not (current and cond.get("status") == status and reason in (None, cond.get("reason"))):
            return None
        # Flux patches status.conditions before the rest of the status (fluxcd/pkg runtime's
        # patch helper), so Ready=True can be seen a moment before webhookPath: a Receiver is
        # Ready for a user once both are there.
        if kind == "Ready" and status == "True" and not receiver["status"].get("webhookPath"):
            return None
        return receiver

    what = f"Receiver {name} to have {kind}={status}" + (f" ({reason})" if reason else "")
    return wait_until(settled, timeout, what,
                      describe=lambda: describe_receiver(kube, namespace, name))


def requested_at(kube: Kube, kind: str, name: str, namespace: str) -> str | None:
    """The object's reconcile.fluxcd.io/requestedAt annotation, if any."""
    obj = kube.get(API_VERSIONS[kind], kind, name, namespace)
    if obj is None:
        raise LookupError(f"{kind} {namespace}/{name} does not exist")
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(REQUESTED_AT)


def annotations(kube: Kube, kind: str, name: str, namespace: str) -> dict[str, str]:
    obj = kube.get(API_VERSIONS[kind], kind, name, namespace) or {}
    return dict((obj.get("metadata") or {}).get("annotations") or {})
