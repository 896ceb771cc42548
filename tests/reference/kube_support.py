"""Objects for the integration tests, created through the real API server."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any

import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver_conformance.kube import wait_until
from receiver_conformance.reference import api

GROUP, VERSION = api.GROUP, api.VERSION
SOURCE = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
# The label that makes Flux (and the reference) re-reconcile on a Secret change at once.
WATCHED = {"reconcile.fluxcd.io/watch": "Enabled"}


def new_token() -> str:
    """As the guide makes one: hex SHA-1 of 12 random bytes."""
    return hashlib.sha1(os.urandom(12)).hexdigest()


def put_secret(api_client: client.ApiClient, namespace: str, token: str,
               name: str = "webhook-token", labels: dict[str, str] | None = None) -> None:
    """Create or replace the token Secret (unlabelled unless `labels`), in one write."""
    core = client.CoreV1Api(api_client)
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name, labels=labels),
                           string_data={"token": token})
    try:
        core.create_namespaced_secret(namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_secret(name, namespace, body)


def create_receiver(api_client: client.ApiClient, namespace: str, name: str = "github",
                    **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "github",
            "events": ["ping", "push"],
            "secretRef": {"name": "webhook-token"},
            "resources": [{"kind": "GitRepository", "name": "podinfo"}],
            **spec,
        },
    }
    return client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, api.PLURAL, body
    )


def get_receiver(api_client: client.ApiClient, namespace: str, name: str = "github") -> dict:
    return client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        GROUP, VERSION, namespace, api.PLURAL, name
    )


def patch_receiver(api_client: client.ApiClient, namespace: str, name: str, spec: dict) -> None:
    client.CustomObjectsApi(api_client).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, api.PLURAL, name, {"spec": spec}
    )


def create_git_repository(api_client: client.ApiClient, namespace: str, name: str = "podinfo",
                          labels: dict[str, str] | None = None) -> None:
    body = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"url": "https://github.com/stefanprodan/podinfo", "interval": "1m"},
    }
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        *SOURCE[:2], namespace, SOURCE[2], body
    )


def requested_at(api_client: client.ApiClient, namespace: str, name: str = "podinfo") -> str:
    obj = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        *SOURCE[:2], namespace, SOURCE[2], name
    )
    return (obj["metadata"].get("annotations") or {}).get(api.RECONCILE_ANNOTATION, "")


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond["type"] == type_:
            return cond
    return {}


def wait_for_receiver(api_client: client.ApiClient, namespace: str, name: str,
                      ready: str = "True", reason: str | None = None,
                      timeout: float = 30.0) -> dict[str, Any]:
    """Poll (deadline `timeout`) until the Ready condition has `ready` (and `reason`)."""
    seen: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        nonlocal seen
        seen = get_receiver(api_client, namespace, name)
        cond = condition(seen, "Ready")
        ok = cond.get("status") == ready and (reason is None or cond.get("reason") == reason)
        return seen if ok else None

    return wait_until(probe, timeout, f"Receiver {namespace}/{name} Ready={ready}",
                      interval=0.02, describe=lambda: json.dumps(seen.get("status")))


def github_push(url: str, token: str, payload: dict[str, Any] | None = None,
                event: str = "push") -> requests.Response:
    body = json.dumps(payload or {"ref": "refs/heads/main"}).encode()
    signature = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(url, data=body, timeout=30, headers={
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": f"sha256={signature}",
    })


def path_of(kube_api: client.ApiClient, namespace: str) -> str | None:
    return get_receiver(kube_api, namespace)["status"].get("webhookPath")


def stays(probe: Any, seconds: float) -> bool:
    """Whether `probe()` stays true for `seconds` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not probe():
            return False
        time.sleep(0.05)
    return True
