"""The node's edge from the host: Traefik (a pod) routes an Ingress and a Gateway API
HTTPRoute by Host to a busybox httpd pod and answers its own 404 to any other Host; MetalLB's
controller gives a LoadBalancer Service an address of the node's pool, which the host reaches
through its route to the node (standing in for the speaker); and once the node stops, that
route is gone.

Runs only with RC_NODE_TESTS=1 (root, Debian packages, Go builds the first time).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.node import edge as edges
from receiver_conformance.node import reaper
from receiver_conformance.node.edge import Edge, deploy_edge, ensure_edge_archives, http_status
from receiver_conformance.node.node import Node
from tests.checkout import REPO_ROOT
from tests.test_node import on_node, server_pod, service, wait_running

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(os.environ.get("RC_NODE_TESTS") != "1",
                       reason="node tests run only with RC_NODE_TESTS=1 (root, Debian packages)"),
]

HOST = "a.example.com"
ROUTED = 60.0  # seconds for Traefik to pick up a new route


@pytest.fixture(scope="module")
def edge_node(control_plane: ControlPlane, kube: Kube) -> Iterator[tuple[Node, Edge]]:
    node = Node(control_plane, archives=ensure_edge_archives()).start()
    try:
        yield node, deploy_edge(kube, node)
    finally:
        edges.remove_edge(kube)
        node.stop()


def body(url: str, host: str) -> str | None:
    """The body of a 200 answer to GET `url` with Host `host`, else None."""
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.read().decode().strip() if response.status == 200 else None
    except OSError:
        return None


def traefiks_404(url: str, host: str) -> bool:
    """GET `url` with Host `host` gets Traefik's own 404 (no router matched)."""
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        urllib.request.urlopen(request, timeout=3).close()
    except urllib.error.HTTPError as err:
        return err.code == 404 and err.read().decode().strip() == "404 page not found"
    except OSError:
        return False
    return False


def serve(kube: Kube, node: Node, namespace: str, name: str) -> None:
    """A busybox httpd pod `name` on `node` and its ClusterIP Service (80 -> 8080)."""
    kube.core.create_namespaced_pod(namespace, on_node(server_pod(name, node.busybox_image),
                                                       node))
    kube.core.create_namespaced_service(namespace, service(name))
    wait_running(kube.core, namespace, name)


def routed(url: str, name: str, timeout: float = ROUTED) -> float:
    """Seconds until GET `url` with Host HOST answers `hello from NAME` from the host."""
    began = time.monotonic()
    wait_until(lambda: body(url, HOST) == f"hello from {name}", timeout,
               f"{url} with Host {HOST} to reach {name}", interval=0.25,
               describe=lambda: f"HTTP {http_status(url, HOST)}")
    return time.monotonic() - began


def ingress(name: str) -> dict[str, Any]:
    """An Ingress without a class (the default IngressClass, Traefik's, is filled in)."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"rules": [{"host": HOST, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}}


def gateway(name: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name},
            "spec": {"gatewayClassName": edges.GATEWAY_CLASS, "listeners": [
                {"name": "http", "protocol": "HTTP", "port": 80,
                 "allowedRoutes": {"namespaces": {"from": "Same"}}}]}}


def http_route(name: str, gateway_name: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": gateway_name}], "hostnames": [HOST],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                "backendRefs": [{"name": name, "port": 80}]}]}}


def condition(obj: dict[str, Any] | None, kind: str) -> bool:
    """A condition `kind` is True on the object or on any of its route parents."""
    status = (obj or {}).get("status") or {}
    conditions = list(status.get("conditions") or [])
    for parent in status.get("parents") or []:
        conditions += parent.get("conditions") or []
    return any(c["type"] == kind and c["status"] == "True" for c in conditions)


def test_the_edge_is_traefik_and_metallb_on_the_node(edge_node: tuple[Node, Edge],
                                                       kube: Kube) -> None:
    node, edge = edge_node
    assert ipaddress.ip_address(edge.address) in ipaddress.ip_network(edge.pool)
    assert edges.route_exists(edge.pool)
    for namespace in (edges.TRAEFIK_NAMESPACE, edges.METALLB_NAMESPACE):
        pods = kube.core.list_namespaced_pod(namespace).items
        assert [p.spec.node_name for p in pods] == [node.name]
    ingress_class = client.NetworkingV1Api(kube.api).read_ingress_class(edges.INGRESS_CLASS)
    assert ingress_class.metadata.annotations[
        "ingressclass.kubernetes.io/is-default-class"] == "true"
    wait_until(lambda: condition(kube.get("gateway.networking.k8s.io/v1", "GatewayClass",
                                          edges.GATEWAY_CLASS), "Accepted"), 30,
               "Traefik to accept the GatewayClass")
    # a second call finds it all in place
    again = deploy_edge(kube, node)
    assert (again.ingress_url, again.address) == (edge.ingress_url, edge.address)
    print(f"\nedge timings: {dict(edge.timings)}")


def test_an_ingress_and_an_httproute_route_by_host_through_traefik(
        edge_node: tuple[Node, Edge], kube: Kube, namespace: str) -> None:
    node, edge = edge_node
    serve(kube, node, namespace, "web")
    assert traefiks_404(edge.ingress_url + "/", HOST)  # nothing routes it yet

    kube.apply(ingress("web"), namespace)
    seconds = routed(edge.ingress_url + "/", "web")
    ing = client.NetworkingV1Api(kube.api).read_namespaced_ingress("web", namespace)
    assert ing.spec.ingress_class_name == edges.INGRESS_CLASS
    assert traefiks_404(edge.ingress_url + "/", "b.example.com")
    print(f"\nIngress served {seconds:.1f} s after it was created")

    client.NetworkingV1Api(kube.api).delete_namespaced_ingress("web", namespace)
    wait_until(lambda: traefiks_404(edge.ingress_url + "/", HOST), ROUTED,
               "Traefik to drop the Ingress's route")

    kube.apply(gateway("edge"), namespace)
    kube.apply(http_route("web", "edge"), namespace)
    seconds = routed(edge.gateway_url + "/", "web")
    assert traefiks_404(edge.gateway_url + "/", "b.example.com")
    route = kube.get("gateway.networking.k8s.io/v1", "HTTPRoute", "web", namespace)
    assert condition(route, "Accepted") and condition(route, "ResolvedRefs"), route
    wait_until(lambda: condition(kube.get("gateway.networking.k8s.io/v1", "Gateway", "edge",
                                          namespace), "Programmed"), 30,
               "Traefik to program the Gateway")
    print(f"HTTPRoute served {seconds:.1f} s after it was created")


def test_a_loadbalancer_address_from_metallb_reaches_the_pod(
        edge_node: tuple[Node, Edge], kube: Kube, namespace: str) -> None:
    node, edge = edge_node
    serve(kube, node, namespace, "lb")
    svc = service("lb-public", selector={"app": "lb"})
    svc.spec.type = "LoadBalancer"
    began = time.monotonic()
    kube.core.create_namespaced_service(namespace, svc)

    def address() -> str | None:
        status = kube.core.read_namespaced_service("lb-public", namespace).status
        return status.load_balancer.ingress[0].ip if status.load_balancer.ingress else None
    ip = wait_until(address, 60, "MetalLB to assign an address")
    assigned = time.monotonic() - began
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(edge.pool)
    assert ip != edge.address
    wait_until(lambda: body(f"http://{ip}/", "any") == "hello from lb", 30,
               f"the host to reach the pod at {ip}", interval=0.25)
    print(f"\nLoadBalancer address {ip} in {assigned:.1f} s, "
          f"answering {time.monotonic() - began:.1f} s after the Service was created")


def test_stopping_the_node_removes_the_host_route(edge_node: tuple[Node, Edge]) -> None:
    """Last: stops the module's node (the fixture's stop is then a no-op)."""
    node, edge = edge_node
    assert node.dir is not None
    assert reaper.read(node.dir)["route"] == edge.pool
    assert edges.route_exists(edge.pool)
    node.stop()
    assert not edges.route_exists(edge.pool)  # (and no request goes there any more)


OWNER = """
import sys
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.node import edge
from receiver_conformance.node.node import Node
with ControlPlane(install=False) as plane, Node(plane) as node:
    pool = edge.pool_for(node.netns.link)
    edge.route_pool(node, pool)
    print(pool, flush=True)
    sys.stdin.read()
"""


def test_the_host_route_does_not_survive_a_killed_owner() -> None:
    """SIGKILL of the process that routed the pool: the node's reaper removes the route."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], cwd=REPO_ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        pool = owner.stdout.readline().strip()
        assert pool, "the owner did not start a node"
        assert edges.route_exists(pool)
        owner.kill()
        owner.wait(60)
    finally:
        if owner.poll() is None:
            owner.kill()
    wait_until(lambda: not edges.route_exists(pool), 30, f"the route of {pool} to go")
