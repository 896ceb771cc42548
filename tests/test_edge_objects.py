"""The node edge's objects and addresses, without a node (receiver_conformance/node/edge.py)."""

from __future__ import annotations

import ipaddress

import pytest

from receiver_conformance import versions
from receiver_conformance.node import edge
from receiver_conformance.node.netns import Link


@pytest.mark.parametrize(("host_ip", "pool"), [("10.250.0.1", "10.251.0.0/28"),
                                               ("10.250.7.1", "10.251.7.0/28")])
def test_each_node_link_has_its_own_pool_apart_from_the_cluster_ranges(host_ip: str,
                                                                       pool: str) -> None:
    link = Link("rcn1", host_ip, host_ip[:-1] + "2", 24)
    network = edge.pool_for(link)
    assert str(network) == pool
    for used in ("10.250.0.0/16", "10.244.0.0/16", "10.0.0.0/16"):
        assert not network.overlaps(ipaddress.ip_network(used))


def rules(docs: list[dict]) -> list[dict]:
    return [r for d in docs if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]


@pytest.mark.parametrize("docs", [edge.traefik_rbac(), edge.metallb_rbac()],
                         ids=["traefik", "metallb"])
def test_rbac_is_least_privilege(docs: list[dict]) -> None:
    for rule in rules(docs):
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        writes = set(rule["verbs"]) - {"get", "list", "watch"}
        if "secrets" in rule["resources"]:
            assert not writes
        if writes and rule["apiGroups"] != ["metallb.io"]:
            assert all(r.endswith("/status") or r == "events" for r in rule["resources"])


def test_traefik_serves_the_guides_classes_on_port_80_as_nobody() -> None:
    docs = {d["kind"]: d for d in edge.traefik_objects("node-1")}
    assert docs["GatewayClass"]["metadata"]["name"] == "receiver-conformance"
    assert docs["GatewayClass"]["spec"]["controllerName"] == "traefik.io/gateway-controller"
    assert docs["IngressClass"]["metadata"]["annotations"] == {
        "ingressclass.kubernetes.io/is-default-class": "true"}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["nodeName"] == "node-1"
    assert pod["securityContext"]["runAsUser"] == 65534
    container = pod["containers"][0]
    assert container["image"] == f"rc.local/traefik:{versions.TRAEFIK[1]}"
    assert container["imagePullPolicy"] == "Never"
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "--entryPoints.web.address=:80" in container["args"]
    assert docs["Service"]["spec"]["type"] == "LoadBalancer"


def test_metallb_pool_is_the_nodes_range() -> None:
    docs = edge.metallb_objects("node-1", ipaddress.ip_network("10.251.3.0/28"))
    pool = [d for d in docs if d["kind"] == "IPAddressPool"]
    assert pool[0]["spec"] == {"addresses": ["10.251.3.0/28"], "avoidBuggyIPs": True}
    assert docs[-1] is pool[0]  # applied last, once MetalLB's CRDs serve
