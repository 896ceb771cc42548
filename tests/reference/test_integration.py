"""The reference receiver against the embedded control plane: real API server, real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver_conformance.kube import wait_until
from receiver_conformance.reference import api
from receiver_conformance.reference_process import ReferenceReceiver

from .kube_support import (
    WATCHED,
    condition,
    create_git_repository,
    create_receiver,
    get_receiver,
    github_push,
    new_token,
    patch_receiver,
    path_of,
    put_secret,
    requested_at,
    stays,
    wait_for_receiver,
)

pytestmark = pytest.mark.controlplane
# Well below the default spec.interval (10m): a path that moves within it moved by the watch.
INTERVAL_DEFAULT_NOT_REACHED = 30.0


@pytest.fixture(scope="module")
def reference_receiver(control_plane: Any) -> Iterator[ReferenceReceiver]:
    with ReferenceReceiver(control_plane.kubeconfig, ["--log-level", "debug"]) as receiver:
        yield receiver


def ready_github_receiver(
    kube_api: client.ApiClient, namespace: str, with_source: bool = True
) -> tuple[str, str]:
    """A token Secret, the GitRepository (unless not `with_source`) and a Ready github
    Receiver: the token and the Receiver's hook path."""
    token = new_token()
    put_secret(kube_api, namespace, token)
    if with_source:
        create_git_repository(kube_api, namespace)
    create_receiver(kube_api, namespace)
    return token, wait_for_receiver(kube_api, namespace, "github")["status"]["webhookPath"]


def test_receiver_becomes_ready_with_the_hook_path(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    token = new_token()
    put_secret(kube_api, namespace, token)
    began = time.monotonic()
    create_receiver(kube_api, namespace)
    obj = wait_for_receiver(kube_api, namespace, "github")
    print(f"\nReceiver Ready {time.monotonic() - began:.3f} s after creation")

    path = api.webhook_path(token, "github", namespace)
    ready = condition(obj, "Ready")
    assert obj["status"]["webhookPath"] == path
    assert ready["reason"] == "Succeeded"
    assert ready["message"] == f"Receiver initialized for path: {path}"
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert condition(obj, "Reconciling") == {}
    assert api.FINALIZER in obj["metadata"]["finalizers"]


def test_signed_push_annotates_the_git_repository(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    token, path = ready_github_receiver(kube_api, namespace)

    began = time.monotonic()
    resp = github_push(reference_receiver.url + path, token)
    print(f"\nsigned push answered {resp.status_code} in {time.monotonic() - began:.3f} s")
    assert resp.status_code == 200
    first = requested_at(kube_api, namespace)
    assert first

    assert github_push(reference_receiver.url + path, token).status_code == 200
    assert requested_at(kube_api, namespace) not in ("", first)
    assert github_push(reference_receiver.url + path, "wrong-token").status_code == 400
    assert github_push(reference_receiver.url + path, token, event="issues").status_code == 400


def test_rotating_the_token_moves_the_path(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    old_token, new = new_token(), new_token()
    put_secret(kube_api, namespace, old_token, labels=WATCHED)
    create_git_repository(kube_api, namespace)
    create_receiver(kube_api, namespace)
    old_path = wait_for_receiver(kube_api, namespace, "github")["status"]["webhookPath"]
    assert github_push(reference_receiver.url + old_path, old_token).status_code == 200

    began = time.monotonic()
    put_secret(kube_api, namespace, new, labels=WATCHED)
    new_path = api.webhook_path(new, "github", namespace)
    wait_until(
        lambda: get_receiver(kube_api, namespace)["status"].get("webhookPath") == new_path,
        INTERVAL_DEFAULT_NOT_REACHED, "the Receiver's webhookPath to follow the new token",
        interval=0.02,
    )
    print(f"\nnew path in status {time.monotonic() - began:.3f} s after the Secret changed")
    wait_until(lambda: github_push(reference_receiver.url + new_path, new).status_code == 200,
               10, "the new path to be served")
    assert github_push(reference_receiver.url + old_path, old_token).status_code == 404


def test_an_unlabelled_rotation_waits_for_the_interval(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    old_token, new = new_token(), new_token()
    put_secret(kube_api, namespace, old_token)
    # The interval leaves room for a loaded machine between Ready and the watched 1.5 s, so
    # that the interval's own reconcile cannot fall inside them.
    create_receiver(kube_api, namespace, interval="8s")
    old_path = wait_for_receiver(kube_api, namespace, "github")["status"]["webhookPath"]
    # A retry the first reconcile scheduled (the Secret not yet in the receiver's cache, on a
    # loaded machine) runs here, with the old token: it must not meet the new one below.
    assert stays(lambda: path_of(kube_api, namespace) == old_path, 1.0)

    put_secret(kube_api, namespace, new)  # no reconcile.fluxcd.io/watch label
    began = time.monotonic()
    # A watched Secret moves the path within ~50 ms; this one waits for the interval.
    assert stays(lambda: path_of(kube_api, namespace) == old_path, 1.5), \
        "an unlabelled Secret's change re-reconciled the Receiver at once"
    new_path = api.webhook_path(new, "github", namespace)
    wait_until(lambda: path_of(kube_api, namespace) == new_path, 8 + 10,
               "the next interval reconcile to pick up the new token", interval=0.05)
    print(f"\nunlabelled: new path {time.monotonic() - began:.2f} s after the change")


def test_missing_secret_then_created(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    create_receiver(kube_api, namespace)
    obj = wait_for_receiver(kube_api, namespace, "github", "False", "TokenNotFound")
    assert "webhookPath" not in obj["status"]
    assert condition(obj, "Reconciling")["reason"] == "ProgressingWithRetry"

    token = new_token()
    put_secret(kube_api, namespace, token, labels=WATCHED)
    obj = wait_for_receiver(kube_api, namespace, "github")
    assert obj["status"]["webhookPath"] == api.webhook_path(token, "github", namespace)


def test_secret_without_token_key(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    client.CoreV1Api(kube_api).create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="webhook-token"), string_data={"other": "x"}))
    create_receiver(kube_api, namespace)
    obj = wait_for_receiver(kube_api, namespace, "github", "False", "TokenNotFound")
    assert "required fields 'token'" in condition(obj, "Ready")["message"]


def test_invalid_cel_is_terminal(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    put_secret(kube_api, namespace, new_token())
    create_receiver(kube_api, namespace, resourceFilter="res.metadata.name ==")
    obj = wait_for_receiver(kube_api, namespace, "github", "False", "InvalidCELExpression")
    assert condition(obj, "Stalled")["status"] == "True"
    assert condition(obj, "Stalled")["reason"] == "InvalidCELExpression"
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]

    patch_receiver(kube_api, namespace, "github", {"resourceFilter": "true"})
    obj = wait_for_receiver(kube_api, namespace, "github")
    assert condition(obj, "Stalled") == {}


def test_generic_oidc_is_ready_without_a_secret(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    spec = {"type": "generic-oidc", "secretRef": None, "oidcProviders": [
        {"issuerURL": "https://token.actions.githubusercontent.com",
         "validations": [{"expression": "true", "message": "ok"}]}]}
    create_receiver(kube_api, namespace, **spec)
    obj = wait_for_receiver(kube_api, namespace, "github")
    assert obj["status"]["webhookPath"] == api.webhook_path("", "github", namespace)


def test_suspended_receiver_answers_503(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    token, path = ready_github_receiver(kube_api, namespace)
    patch_receiver(kube_api, namespace, "github", {"suspend": True})
    wait_until(lambda: github_push(reference_receiver.url + path, token).status_code == 503,
               10, "a suspended Receiver to answer 503")
    patch_receiver(kube_api, namespace, "github", {"suspend": False})
    wait_until(lambda: github_push(reference_receiver.url + path, token).status_code == 200,
               10, "a resumed Receiver to answer 200")


def test_missing_resource_is_500(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    token, path = ready_github_receiver(kube_api, namespace, with_source=False)
    assert github_push(reference_receiver.url + path, token).status_code == 500


def test_wildcard_with_labels_and_filter(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    token = new_token()
    put_secret(kube_api, namespace, token)
    create_git_repository(kube_api, namespace, "a", {"team": "x"})
    create_git_repository(kube_api, namespace, "b", {"team": "x"})
    create_git_repository(kube_api, namespace, "c", {"team": "y"})
    create_receiver(kube_api, namespace, resources=[
        {"kind": "GitRepository", "name": "*", "matchLabels": {"team": "x"},
         "filter": "res.metadata.name != 'b'"}],
        resourceFilter="req.ref == 'refs/heads/main'")
    path = wait_for_receiver(kube_api, namespace, "github")["status"]["webhookPath"]
    assert github_push(reference_receiver.url + path, token).status_code == 200
    assert [bool(requested_at(kube_api, namespace, n)) for n in "abc"] == [True, False, False]

    other = {"ref": "refs/heads/dev"}
    stamp = requested_at(kube_api, namespace, "a")
    assert github_push(reference_receiver.url + path, token, other).status_code == 200
    assert requested_at(kube_api, namespace, "a") == stamp


def test_deleting_removes_the_finalizer_and_the_path(
    reference_receiver: ReferenceReceiver, kube_api: client.ApiClient, namespace: str
) -> None:
    token, path = ready_github_receiver(kube_api, namespace, with_source=False)
    client.CustomObjectsApi(kube_api).delete_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, "github")

    def gone() -> bool:
        try:
            get_receiver(kube_api, namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(gone, 30, "the Receiver to be deleted (finalizer removed)")
    wait_until(lambda: github_push(reference_receiver.url + path, token).status_code == 404,
               10, "the deleted Receiver's path to answer 404")


def test_health_and_metrics(reference_receiver: ReferenceReceiver) -> None:
    assert requests.get(reference_receiver.health_url + "/healthz", timeout=5).status_code == 200
    assert requests.get(reference_receiver.health_url + "/readyz", timeout=5).status_code == 200
    text = requests.get(reference_receiver.metrics_url, timeout=5).text
    assert "receiver_reconciles_total" in text
