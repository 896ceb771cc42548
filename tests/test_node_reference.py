"""The reference receiver deployed as a pod on a node: reference/deploy/ applied as it is
(its image built here from a Debian root filesystem, as there is no registry), and a signed
GitHub push sent by a client pod through the `webhook-receiver` Service reaches it and
annotates the source.

Runs only with RC_NODE_TESTS=1 (root, Debian packages, debootstrap the first time).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator

import pytest
from kubernetes import client

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.flux.objects import (
    API_VERSIONS,
    put_token_secret,
    receiver_object,
    requested_at,
    source_object,
    wait_receiver_condition,
)
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.node.images import Image
from receiver_conformance.node.node import Node
from receiver_conformance.node.reference_image import ensure_reference_archive
from receiver_conformance.paths import REFERENCE_DEPLOY
from receiver_conformance.senders import delivery, generate_token
from tests.test_deploy_manifests import render
from tests.test_node import wait_finished

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(os.environ.get("RC_NODE_TESTS") != "1",
                       reason="node tests run only with RC_NODE_TESTS=1 (root, Debian packages)"),
]

RECEIVER_NAMESPACE = "flux-system"  # reference/deploy/'s


@pytest.fixture(scope="module")
def deployed(control_plane: ControlPlane, kube: Kube) -> Iterator[tuple[Node, Image]]:
    """A node running reference/deploy/ with the image built here."""
    archive, image = ensure_reference_archive()
    with Node(control_plane, archives=[archive]) as node:
        docs = render(REFERENCE_DEPLOY)
        for doc in docs:
            if doc["kind"] == "Deployment":
                pod = doc["spec"]["template"]["spec"]
                pod["nodeName"] = node.name  # other tests' nodes may be up too
                pod["containers"][0].update(image=image.name, imagePullPolicy="Never")
        kube.apply_all(docs)
        try:
            yield node, image
        finally:
            kube.delete_namespace(RECEIVER_NAMESPACE)


def available(kube: Kube) -> bool:
    deployment = client.AppsV1Api(kube.core.api_client).read_namespaced_deployment(
        "notification-controller", RECEIVER_NAMESPACE)
    return (deployment.status.available_replicas or 0) >= 1


def describe_pods(kube: Kube) -> str:
    pods = kube.core.list_namespaced_pod(RECEIVER_NAMESPACE).items
    return "; ".join(f"{p.metadata.name}: {p.status.phase} {p.status.container_statuses}"
                     for p in pods) or "no pods"


def post_pod(name: str, image: str, url: str, headers: dict[str, str], body: bytes
             ) -> client.V1Pod:
    """A busybox pod that POSTs `body` with `headers` to `url` once (retried while the
    Service is being programmed) and leaves the answer in its termination message."""
    args = " ".join(f"--header {shlex.quote(f'{k}: {v}')}" for k, v in headers.items())
    script = (f'for i in $(seq 40); do timeout 5 wget -q -O /dev/termination-log {args} '
              f'--post-data "$BODY" {url} && exit 0; sleep 0.5; done; exit 1')
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            restart_policy="Never", termination_grace_period_seconds=0,
            containers=[client.V1Container(
                name="wget", image=image, command=["sh", "-c", script],
                env=[client.V1EnvVar(name="BODY", value=body.decode())],
                termination_message_policy="FallbackToLogsOnError")],
        ),
    )


def test_a_signed_push_from_a_pod_reaches_the_reference_pod_and_annotates_the_source(
        deployed: tuple[Node, Image], kube: Kube, namespace: str) -> None:
    node, image = deployed
    wait_until(lambda: available(kube), 180, "the reference's Deployment to be available",
               describe=lambda: describe_pods(kube))
    [pod] = kube.core.list_namespaced_pod(RECEIVER_NAMESPACE).items
    assert pod.spec.node_name == node.name
    assert pod.spec.containers[0].image == image.name

    token = generate_token()
    put_token_secret(kube, namespace, "webhook-token", {"token": token})
    kube.apply(source_object("GitRepository", "webapp", namespace))
    kube.apply(receiver_object("webapp", namespace, "github", [
        {"apiVersion": API_VERSIONS["GitRepository"], "kind": "GitRepository",
         "name": "webapp"}], events=["ping", "push"]))
    path = wait_receiver_condition(kube, namespace, "webapp", timeout=60)["status"][
        "webhookPath"]
    assert requested_at(kube, "GitRepository", "webapp", namespace) is None

    svc = kube.core.read_namespaced_service("webhook-receiver", RECEIVER_NAMESPACE)
    push = delivery("github", "valid", token, event="push")
    post = post_pod("github", node.busybox_image, f"http://{svc.spec.cluster_ip}{path}",
                    push.headers, push.body)
    post.spec.node_name = node.name
    kube.core.create_namespaced_pod(namespace, post)
    sent = wait_finished(kube.core, namespace, "github", timeout=240)
    assert sent.status.phase == "Succeeded", sent.status.container_statuses
    wait_until(lambda: requested_at(kube, "GitRepository", "webapp", namespace), 30,
               "the GitRepository to be annotated")
