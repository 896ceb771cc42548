"""The exposure and policy scenarios inspect the target's own receiver objects.

An external target whose cluster holds a receiver namespace (a Deployment whose pods carry
app: notification-controller, the Service webhook-receiver, Flux's default policies) is
checked against those live objects: the scenarios pass as they stand and fail when the
live Service no longer leads to port 9292, or when the live policies are missing.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.kube import Kube, load_manifests
from receiver_conformance.paths import FIXTURES, REFERENCE_DEPLOY
from receiver_conformance.reference_process import ReferenceReceiver
from receiver_conformance.suite_run import run_suite
from receiver_conformance.targets.external import has_deployed_receiver, has_source_controller

pytestmark = pytest.mark.controlplane

ROUTES = ("exposure-loadbalancer", "exposure-ingress", "exposure-httproute")
POLICIES = ("netpol-webhook-port-open", "netpol-without-allow-webhooks", "netpol-acme-solver")


@pytest.fixture(scope="module")
def reference(control_plane: ControlPlane) -> Iterator[ReferenceReceiver]:
    with ReferenceReceiver(control_plane.kubeconfig) as receiver:
        yield receiver


@pytest.fixture
def receiver_namespace(kube: Kube) -> Iterator[str]:
    """A namespace laid out as flux-system: the receiver's Deployment, ServiceAccount and
    Service from reference/deploy/, and Flux's default policies."""
    name = f"rc-live-{uuid.uuid4().hex[:6]}"
    kube.create_namespace(name)
    docs = [d for f in ("rbac.yaml", "deployment.yaml", "service.yaml")
            for d in load_manifests(REFERENCE_DEPLOY / f) if d["kind"] in (
                "ServiceAccount", "Deployment", "Service")]
    docs += load_manifests(FIXTURES / "exposure" / "flux-policies.yaml")
    for doc in docs:
        doc = copy.deepcopy(doc)
        doc["metadata"]["namespace"] = name
        kube.apply(doc)
    yield name
    kube.delete_namespace(name)


def live_run(control_plane: ControlPlane, reference: ReferenceReceiver, namespace: str,
             selection: tuple[str, ...]):
    return run_suite(control_plane.kubeconfig, reference.url,
                     *(f"--scenario={scenario}" for scenario in selection),
                     "--receiver-namespace", namespace)


def test_the_scenarios_pass_over_the_live_receiver_objects(
    control_plane: ControlPlane, reference: ReferenceReceiver, receiver_namespace: str
) -> None:
    run = live_run(control_plane, reference, receiver_namespace, (*ROUTES, *POLICIES))
    assert len(run.outcomes) == 6, run.explain()
    assert run.named("passed") == set(run.outcomes), run.explain()


def test_a_live_service_that_misses_the_port_fails_the_routes(
    control_plane: ControlPlane, reference: ReferenceReceiver, receiver_namespace: str,
    kube: Kube
) -> None:
    kube.core.patch_namespaced_service("webhook-receiver", receiver_namespace, {
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "healthz"}]}})
    run = live_run(control_plane, reference, receiver_namespace, ROUTES)
    failed = run.named("failed")
    assert {"exposure-ingress", "exposure-httproute"} <= failed, run.explain()
    # The guide's LoadBalancer Service targets 9292 itself: the live pods still serve it.
    assert "exposure-loadbalancer" in run.named("passed")


def test_missing_live_policies_fail_the_policy_scenarios(
    control_plane: ControlPlane, reference: ReferenceReceiver, receiver_namespace: str,
    kube: Kube
) -> None:
    client.NetworkingV1Api(kube.api).delete_namespaced_network_policy(
        "allow-webhooks", receiver_namespace)
    run = live_run(control_plane, reference, receiver_namespace, POLICIES)
    assert run.named("failed") == set(run.outcomes), run.explain()
    assert all("allow-webhooks" in m for m in run.messages.values()), run.explain()



def test_the_external_probe_finds_the_receiver_by_the_guides_names(
    kube: Kube, receiver_namespace: str, namespace: str
) -> None:
    assert has_deployed_receiver(kube, receiver_namespace)
    assert not has_deployed_receiver(kube, namespace)  # empty
    kube.core.delete_namespaced_service("webhook-receiver", receiver_namespace)
    assert not has_deployed_receiver(kube, receiver_namespace)


def test_the_source_controller_probe_is_negative_without_one_and_cleans_up(
    kube: Kube, namespace: str
) -> None:
    assert not has_source_controller(kube, namespace, timeout=1.0)
    left = client.CustomObjectsApi(kube.api).list_namespaced_custom_object(
        "source.toolkit.fluxcd.io", "v1", namespace, "gitrepositories")["items"]
    assert left == []


def test_the_source_controller_probe_sees_a_controller_that_answers(
    kube: Kube, namespace: str
) -> None:
    """A stand-in source controller copies requestedAt into lastHandledReconcileAt."""
    custom = client.CustomObjectsApi(kube.api)
    git = ("source.toolkit.fluxcd.io", "v1", namespace, "gitrepositories")
    stop = threading.Event()

    def answer() -> None:
        while not stop.wait(0.05):
            for obj in custom.list_namespaced_custom_object(*git)["items"]:
                stamp = (obj["metadata"].get("annotations") or {}).get(
                    "reconcile.fluxcd.io/requestedAt")
                if stamp and (obj.get("status") or {}).get("lastHandledReconcileAt") != stamp:
                    custom.patch_namespaced_custom_object_status(
                        *git, obj["metadata"]["name"],
                        {"status": {"lastHandledReconcileAt": stamp}})

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert has_source_controller(kube, namespace, timeout=5.0)
    finally:
        stop.set()
        thread.join(5)
