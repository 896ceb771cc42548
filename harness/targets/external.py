"""Any implementation already running somewhere: a kubeconfig plus the receiver's URL.

Nothing is assumed about how it was installed. The suite creates a namespace per scenario
unless a namespace to work in is given; then it creates its objects there under the guide's
names and deletes them afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kubernetes import client

from harness.kube import api_client
from harness.report.preflight import Unreachable, check_external
from harness.targets.base import Target


def _serves(api: client.ApiClient, group_version: str, plural: str) -> bool:
    try:
        resources = api.call_api(
            f"/apis/{group_version}", "GET", response_type="object", auth_settings=["BearerToken"],
            _return_http_data_only=True, _request_timeout=5,
        )
    except Exception:  # not served: 404, or a discovery error
        return False
    return any(r.get("name") == plural for r in (resources or {}).get("resources", []))


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
        if _serves(api, "gateway.networking.k8s.io/v1", "httproutes") and _serves(
            api, "networking.k8s.io/v1", "ingresses"
        ):
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
