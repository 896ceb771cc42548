"""Any implementation already running somewhere: a kubeconfig plus the receiver's URL.

Nothing is assumed about how it was installed. The suite creates a namespace per scenario
unless a namespace to work in is given; then it creates its objects there under the guide's
names and deletes them afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.kube import Kube, api_client
from harness.report.preflight import Unreachable, check_external
from harness.targets.base import Target

EXPOSURE_KINDS = (
    ("networking.k8s.io/v1", "Ingress"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
)


def _serves(kube: Kube, api_version: str, kind: str) -> bool:
    """Whether the API server serves `kind` (API discovery)."""
    try:
        kube.resource(api_version, kind)
    except Exception:  # the dynamic client raises ResourceNotFoundError, or a discovery error
        return False
    return True


def external_target(
    kubeconfig: str | None, receiver_url: str | None, namespace: str | None
) -> Target:
    """Check that the target answers, then describe what it can do."""
    path = Path(kubeconfig).expanduser() if kubeconfig else None
    check_external(path, receiver_url)
    assert path is not None and receiver_url is not None
    capabilities = {"api"}
    if namespace is None:
        capabilities.add("fresh-namespaces")
    with api_client(path) as api:
        kube = Kube(api)
        if all(_serves(kube, *kind) for kind in EXPOSURE_KINDS):
            capabilities.add("exposure-objects")
    kubectl = shutil.which("kubectl")
    if kubectl:
        capabilities.add("kubectl")
    return Target(
        name="external",
        kubeconfig=path,
        receiver_url=receiver_url.rstrip("/"),
        capabilities=frozenset(capabilities),
        namespace=namespace,
        details={"receiver": receiver_url, "namespace": namespace or "(one per scenario)"},
        kubectl=Path(kubectl) if kubectl else None,
    )


__all__ = ["Unreachable", "external_target"]
