"""The reference receiver on a kind cluster built here: Flux's CRDs from the pinned modules,
reference/deploy/ applied as it is (its image built here and loaded into the node, as there
is no registry), and a signed GitHub push sent from this host through a node port reaches it
and annotates the source.

Runs only with RC_KIND_TESTS=1 (root, Debian's docker.io, the Go builds of
`python -m receiver_conformance.kind.binary`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests
from kubernetes import client

from receiver_conformance.controlplane.crds import ensure_crds
from receiver_conformance.flux.objects import (
    API_VERSIONS,
    put_token_secret,
    receiver_object,
    requested_at,
    source_object,
    wait_receiver_condition,
)
from receiver_conformance.kind.cluster import KindCluster
from receiver_conformance.kind.engine import Engine
from receiver_conformance.kube import Kube, api_client, install_crds, wait_until
from receiver_conformance.node.reference_image import ensure_reference_archive
from receiver_conformance.paths import REFERENCE_DEPLOY
from receiver_conformance.senders import delivery, generate_token
from tests.test_deploy_manifests import render
from tests.test_kind_engine import engine_leftovers
from tests.test_node_reference import available, describe_pods

pytestmark = pytest.mark.skipif(
    os.environ.get("RC_KIND_TESTS") != "1",
    reason="kind tests run only with RC_KIND_TESTS=1 (root, Debian's docker.io, Go builds)",
)

RECEIVER_NAMESPACE = "flux-system"  # reference/deploy/'s
NODE_PORT = "webhook-node-port"


@pytest.fixture(scope="module")
def kind() -> Iterator[tuple[KindCluster, Kube]]:
    """A kind cluster running reference/deploy/ with the image built here; afterwards,
    nothing of the engine may be left."""
    archive, image = ensure_reference_archive()
    with Engine() as engine:
        cluster = KindCluster(engine).create()
        assert cluster.kubeconfig is not None
        cluster.reach_from_host()
        cluster.load(archive)
        with api_client(cluster.kubeconfig) as api:
            kube = Kube(api)
            install_crds(kube, ensure_crds())
            docs = render(REFERENCE_DEPLOY)
            for doc in docs:
                if doc["kind"] == "Deployment":
                    pod = doc["spec"]["template"]["spec"]
                    pod["containers"][0].update(image=image.name, imagePullPolicy="Never")
            kube.apply_all(docs)
            kube.core.create_namespaced_service(RECEIVER_NAMESPACE, client.V1Service(
                metadata=client.V1ObjectMeta(name=NODE_PORT),
                spec=client.V1ServiceSpec(
                    type="NodePort", selector={"app": "notification-controller"},
                    ports=[client.V1ServicePort(port=80, target_port=9292)])))
            yield cluster, kube
        footprint = engine.footprint()
    assert engine_leftovers(footprint) == []


def test_a_signed_push_from_this_host_reaches_the_reference_on_kind(
        kind: tuple[KindCluster, Kube]) -> None:
    cluster, kube = kind
    wait_until(lambda: available(kube), 180, "the reference's Deployment to be available",
               describe=lambda: describe_pods(kube))
    namespace = "kind-push"
    kube.create_namespace(namespace)
    token = generate_token()
    put_token_secret(kube, namespace, "webhook-token", {"token": token})
    kube.apply(source_object("GitRepository", "webapp", namespace))
    kube.apply(receiver_object("webapp", namespace, "github", [
        {"apiVersion": API_VERSIONS["GitRepository"], "kind": "GitRepository",
         "name": "webapp"}], events=["ping", "push"]))
    path = wait_receiver_condition(kube, namespace, "webapp", timeout=60)["status"][
        "webhookPath"]
    assert requested_at(kube, "GitRepository", "webapp", namespace) is None

    port = kube.core.read_namespaced_service(NODE_PORT, RECEIVER_NAMESPACE).spec.ports[0]
    url = f"http://{cluster.node_ip()}:{port.node_port}{path}"
    push = delivery("github", "valid", token, event="push")

    def answered() -> tuple[requests.Response] | None:
        try:  # a tuple: a Response with a 4xx status is falsy
            return (requests.post(url, data=push.body, headers=push.headers, timeout=5),)
        except requests.ConnectionError:
            return None  # kube-proxy still programming the node port

    [answer] = wait_until(answered, 60, "an answer through the node port")
    assert answer.status_code == 200, answer.text
    wait_until(lambda: requested_at(kube, "GitRepository", "webapp", namespace), 30,
               "the GitRepository to be annotated")
