"""The edge of a real node: Traefik for Ingress and Gateway API, MetalLB for LoadBalancer
addresses, reached from the host.

    edge = deploy_edge(kube, node)
    urllib.request.urlopen(Request(edge.ingress_url, headers={"Host": "a.example.com"}))

What is real:
- Traefik (`versions.TRAEFIK`, built from its Go module with CGO_ENABLED=0) runs as a pod
  of the node in the namespace `traefik`, with our least-privilege RBAC, its providers
  kubernetesIngress and kubernetesGateway, the entrypoint `web` on :80 (the pod may bind it
  through the safe sysctl `net.ipv4.ip_unprivileged_port_start`; it runs as nobody), a
  default IngressClass `traefik` and the GatewayClass `receiver-conformance`. Being an
  in-cluster proxy, its connections to backends come from a pod, as NetworkPolicies expect.
- MetalLB's controller (`versions.METALLB`, built the same way, its CRDs taken from the
  pinned module at provision time) runs as a pod in `metallb-system` and assigns
  LoadBalancer addresses from the IPAddressPool `receiver-conformance`: a /28 of
  POOL_SUPERNET, one per node (the node's link /24 picks it), used by nothing else here.
  Traefik's own Service is such a LoadBalancer, and the node's kube-proxy carries the
  traffic to any LoadBalancer address.

What is substituted: MetalLB's speaker is not run, so nobody answers ARP for the addresses.
Instead the harness routes the pool's /28 on the host via the node's veth
(`ip route replace POOL via NODE_IP dev VETH`). The route is recorded in the node's reaper
record, so `Node.stop()`, Ctrl-C and the owner's death remove it (and it goes with the veth
anyway).

Images are built here (no registry): a root filesystem holding only the static binary and
a minimal /etc, packed by `images.oci_archive` and imported into the node's containerd.
One edge per control plane: the namespaces and class objects are cluster-wide, and the
edge's pods are bound to the node given last. An Ingress without a class gets `traefik`
from the API server's DefaultIngressClass admission only if it is created after the edge.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance import versions
from receiver_conformance.controlplane.crds import CRDsNotFound, ensure_module_crds
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    build_module,
    cache_root,
    executable,
    find_go,
    go_env,
    locked,
    provision_main,
    stderr_log,
)
from receiver_conformance.kube import Kube, install_crds, wait_until
from receiver_conformance.node import images, reaper
from receiver_conformance.node.configs import NodeDirs
from receiver_conformance.node.netns import LINK_POOL, Link, ip
from receiver_conformance.node.node import Node

PATCHES = Path(__file__).parent / "patches"
TRAEFIK_NAMESPACE = "traefik"
METALLB_NAMESPACE = "metallb-system"
INGRESS_CLASS = "traefik"
INGRESS_CONTROLLER = "traefik.io/ingress-controller"
GATEWAY_CLASS = "receiver-conformance"  # fixtures/exposure/gateway.yaml's
GATEWAY_CONTROLLER = "traefik.io/gateway-controller"
POOL = "receiver-conformance"
# LoadBalancer addresses: 10.251.N.0/28 for the node whose link is 10.250.N.0/24. Apart from
# the links (10.250/16), the pods (10.244/16) and the Services (10.0/16).
POOL_SUPERNET = ipaddress.ip_network("10.251.0.0/16")
WEB_PORT = 80
PING_PORT = 8080
NOBODY = images.NOBODY
READY_TIMEOUT = 120.0
FIELD = "receiver-conformance"  # the label of every object of ours

_stderr = stderr_log("edge")


class EdgeError(Exception):
    """The edge could not be built or deployed."""


@dataclass(frozen=True)
class Program:
    """A static binary built from a pinned Go module, and its one-binary image."""

    name: str
    module: str
    version: str
    package: str
    ldflags: str
    replaces: Mapping[str, str] = field(default_factory=dict)
    patches: tuple[Path, ...] = ()

    @property
    def image(self) -> images.Image:
        return images.Image(f"{images.REGISTRY}/{self.name}:{self.version}",
                            (f"/{self.name}",), (), env=("PATH=/",), user=f"{NOBODY}:{NOBODY}")


TRAEFIK = Program("traefik", *versions.TRAEFIK, "./cmd/traefik",
                  f"-s -w -X {versions.TRAEFIK[0]}/pkg/version.Version={versions.TRAEFIK[1]}",
                  patches=(PATCHES / "traefik.patch",))
METALLB = Program("metallb-controller", *versions.METALLB, "./controller", "-s -w",
                  versions.METALLB_BUILD_REPLACES, (PATCHES / "metallb.patch",))
PROGRAMS = (TRAEFIK, METALLB)


@dataclass(frozen=True)
class Edge:
    """Where the host reaches the edge. Both URLs are Traefik's `web` entrypoint at its
    LoadBalancer address: Ingress and Gateway routes are told apart by Host and path."""

    ingress_url: str
    gateway_url: str
    address: str  # Traefik's LoadBalancer address
    pool: str  # MetalLB's pool (routed on the host via the node)
    node: str
    timings: Mapping[str, float]


# -- building --------------------------------------------------------------------------


def binary_dir(program: Program, env: Mapping[str, str] | None = None) -> Path:
    """One directory per version (and patches: a changed patch builds anew)."""
    name = f"{program.name}-{program.version}"
    if program.patches:
        patched = b"".join(p.read_bytes() for p in program.patches)
        name += "-" + hashlib.sha256(patched).hexdigest()[:12]
    return cache_root(env) / "edge" / name


def ensure_binary(program: Program, env: Mapping[str, str] | None = None,
                  log: Log = _stderr) -> Path:
    """The static binary, built into the cache first when needed (minutes, once)."""
    directory = binary_dir(program, env)
    binary = directory / program.name
    if executable(binary):
        return binary
    go = find_go(env)
    if not go:
        raise EdgeError(f"{binary} is not built and there is no Go toolchain to build it; "
                        "install Go (1.26 or later)")
    with locked(directory, log):
        if not executable(binary):
            began = time.monotonic()
            build_module(go, program.module, program.version, {program.name: program.package},
                         directory, directory / ".work", go_env(env), log,
                         ldflags=program.ldflags, replaces=program.replaces,
                         patches=program.patches)
            shutil.rmtree(directory / ".work", ignore_errors=True)
            log(f"{program.name} {program.version} built in {time.monotonic() - began:.0f} s")
    return binary


def ensure_archive(program: Program, env: Mapping[str, str] | None = None,
                   log: Log = _stderr) -> Path:
    """The program's image archive (one layer: the binary and a minimal /etc), cached by the
    binary's digest."""
    return images.binary_archive(ensure_binary(program, env, log), program.image)


def ensure_edge_archives(log: Log = _stderr) -> list[Path]:
    """Traefik's and MetalLB's image archives, for `Node(..., archives=...)`."""
    return [ensure_archive(program, log=log) for program in PROGRAMS]


def ensure_metallb_crds(log: Log = _stderr) -> Path:
    """MetalLB's CRDs (`config/crd/bases` of the pinned module), cached."""
    return ensure_module_crds(*versions.METALLB, log=log)


def import_missing(node: Node, log: Log = _stderr) -> None:
    """Import the edge's images into the node's containerd unless it has them already."""
    assert node.dir is not None
    ctr = ["ctr", "-a", str(NodeDirs(node.dir).socket)]
    have = subprocess.run([*ctr, "-n", "k8s.io", "images", "ls", "-q"], capture_output=True,
                          text=True).stdout.split()
    for program, archive in zip(PROGRAMS, ensure_edge_archives(log), strict=True):
        if program.image.name not in have:
            images.import_archive(ctr, archive)


# -- addresses -------------------------------------------------------------------------


def pool_for(link: Link) -> ipaddress.IPv4Network:
    """The node's /28 of POOL_SUPERNET, picked by its link's /24 in LINK_POOL."""
    subnet = ipaddress.ip_interface(f"{link.host_ip}/{link.prefix}").network
    index = (int(subnet.network_address) - int(LINK_POOL.network_address)) >> 8
    return ipaddress.ip_network(f"{POOL_SUPERNET.network_address + (index << 8)}/28")


def route_pool(node: Node, pool: ipaddress.IPv4Network) -> None:
    """Route the pool on the host via the node (instead of MetalLB's speaker), recorded for
    the node's clean-up first."""
    assert node.dir is not None and node.netns is not None and node.netns.link is not None
    link = node.netns.link
    reaper.record(node.dir, route=str(pool))
    ip("route", "replace", str(pool), "via", link.node_ip, "dev", link.host_if)


def unroute_pool(pool: str) -> None:
    ip("route", "del", pool, check=False)


def route_exists(pool: str) -> bool:
    return bool(ip("route", "show", pool, check=False).stdout.strip())


# -- objects ---------------------------------------------------------------------------


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": FIELD},
                            **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


READ = ["get", "list", "watch"]
GATEWAY_GROUP = "gateway.networking.k8s.io"


def traefik_rbac() -> list[dict[str, Any]]:
    """What its two providers read and the statuses they write; nothing else."""
    rules = [
        _rule([""], ["namespaces", "services", "secrets", "configmaps", "nodes"], READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], READ),
        _rule(["networking.k8s.io"], ["ingresses", "ingressclasses"], READ),
        _rule(["networking.k8s.io"], ["ingresses/status"], ["update"]),
        _rule([GATEWAY_GROUP], ["gatewayclasses", "gateways", "httproutes", "grpcroutes",
                                "referencegrants", "backendtlspolicies"], READ),
        _rule([GATEWAY_GROUP], ["gatewayclasses/status", "gateways/status",
                                "httproutes/status", "grpcroutes/status",
                                "backendtlspolicies/status"], ["update"]),
    ]
    return _cluster_rbac("traefik", TRAEFIK_NAMESPACE, rules)


def metallb_rbac() -> list[dict[str, Any]]:
    """The controller's: Services and their status, its own CRs, events; no webhook, no
    memberlist (no speaker), no CRD rights (the harness installs the CRDs)."""
    cluster = [
        _rule([""], ["services", "namespaces"], READ),
        _rule([""], ["nodes"], ["list"]),
        _rule([""], ["services/status"], ["update"]),
        _rule([""], ["events"], ["create", "patch"]),
        # its own state, watched in every namespace
        _rule(["metallb.io"], ["configurationstates"],
              ["get", "list", "watch", "create", "patch", "update"]),
        _rule(["metallb.io"], ["configurationstates/status"], ["get", "patch", "update"]),
    ]
    local = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": _meta("metallb-controller", METALLB_NAMESPACE),
        "rules": [
            _rule([""], ["secrets", "configmaps", "pods"], READ),
            _rule(["metallb.io"], ["ipaddresspools", "bgppeers", "bfdprofiles",
                                   "bgpadvertisements", "l2advertisements", "communities"],
                  READ),
            _rule(["metallb.io"], ["ipaddresspools/status"], ["update"]),
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": _meta("metallb-controller", METALLB_NAMESPACE),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "metallb-controller"},
        "subjects": [{"kind": "ServiceAccount", "name": "controller",
                      "namespace": METALLB_NAMESPACE}],
    }
    return [*_cluster_rbac("controller", METALLB_NAMESPACE, cluster,
                           role="receiver-conformance:metallb-controller"), local, binding]


def _cluster_rbac(account: str, namespace: str, rules: list[dict[str, Any]],
                  role: str | None = None) -> list[dict[str, Any]]:
    role = role or f"receiver-conformance:{account}"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(account, namespace)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(role), "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(role),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]},
    ]


def _deployment(name: str, namespace: str, node: str, account: str, image: str,
                args: list[str], ports: dict[str, int], probe: dict[str, Any],
                pod_security: dict[str, Any] | None = None,
                env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, namespace),
        "spec": {
            "replicas": 1, "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "nodeName": node,  # the edge's node (other nodes may be up too)
                "serviceAccountName": account,
                "terminationGracePeriodSeconds": 2,
                "securityContext": {"runAsUser": int(NOBODY), "runAsGroup": int(NOBODY),
                                    "runAsNonRoot": True, **(pod_security or {})},
                "containers": [{
                    "name": name, "image": image, "imagePullPolicy": "Never", "args": args,
                    "env": env or [],
                    "ports": [{"name": n, "containerPort": p} for n, p in ports.items()],
                    "readinessProbe": {**probe, "periodSeconds": 1},
                    "securityContext": {"allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                }],
            }},
        },
    }


def traefik_objects(node: str) -> list[dict[str, Any]]:
    """Traefik's namespace, RBAC, classes, Deployment and LoadBalancer Service."""
    service = f"{TRAEFIK_NAMESPACE}/traefik"
    args = [
        f"--entryPoints.web.address=:{WEB_PORT}",
        f"--entryPoints.traefik.address=:{PING_PORT}",
        "--ping=true", "--ping.entryPoint=traefik",
        "--providers.kubernetesingress=true",
        f"--providers.kubernetesingress.ingressEndpoint.publishedService={service}",
        "--providers.kubernetesgateway=true",
        "--providers.kubernetesgateway.statusAddress.service.name=traefik",
        f"--providers.kubernetesgateway.statusAddress.service.namespace={TRAEFIK_NAMESPACE}",
        "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
        "--log.level=INFO", "--log.noColor=true",
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(TRAEFIK_NAMESPACE)},
        *traefik_rbac(),
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
         "metadata": _meta(INGRESS_CLASS, annotations={
             "ingressclass.kubernetes.io/is-default-class": "true"}),
         "spec": {"controller": INGRESS_CONTROLLER}},
        {"apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "GatewayClass",
         "metadata": _meta(GATEWAY_CLASS), "spec": {"controllerName": GATEWAY_CONTROLLER}},
        _deployment("traefik", TRAEFIK_NAMESPACE, node, "traefik", TRAEFIK.image.name, args,
                    {"web": WEB_PORT, "traefik": PING_PORT},
                    {"httpGet": {"path": "/ping", "port": PING_PORT}},
                    # binding :80 as nobody, without a capability
                    {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start",
                                  "value": "0"}]}),
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("traefik", TRAEFIK_NAMESPACE),
         "spec": {"type": "LoadBalancer", "selector": {"app": "traefik"},
                  "ports": [{"name": "web", "port": WEB_PORT, "targetPort": "web",
                             "protocol": "TCP"}]}},
    ]


def metallb_objects(node: str, pool: ipaddress.IPv4Network) -> list[dict[str, Any]]:
    """MetalLB's namespace, RBAC, controller Deployment (no webhook, no metrics) and pool."""
    args = ["--webhook-mode=disabled", "--disable-cert-rotation", "--port=0",
            "--health-probe-port=7472", "--log-level=info"]
    env = [{"name": "METALLB_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
           {"name": "METALLB_POD_NAME",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(METALLB_NAMESPACE)},
        *metallb_rbac(),
        _deployment("controller", METALLB_NAMESPACE, node, "controller", METALLB.image.name,
                    args, {"health": 7472}, {"httpGet": {"path": "/readyz", "port": 7472}},
                    env=env),
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": _meta(POOL, METALLB_NAMESPACE),
         "spec": {"addresses": [str(pool)], "avoidBuggyIPs": True}},  # not .0 nor .15
    ]


# -- deploying -------------------------------------------------------------------------


def deploy_edge(kube: Kube, node: Node, log: Log = _stderr,
                timeout: float = READY_TIMEOUT) -> Edge:
    """Traefik and MetalLB on `node`, Traefik's LoadBalancer address routed from the host
    and answering; idempotent (a second call re-applies and waits again)."""
    if node.dir is None or node.netns is None:
        raise EdgeError("the node is not running")
    timings: dict[str, float] = {}
    import_missing(node, log)
    install_crds(kube, ensure_metallb_crds(log))
    assert node.netns.link is not None
    pool = pool_for(node.netns.link)
    route_pool(node, pool)
    began = time.monotonic()
    metallb = metallb_objects(node.name, pool)
    kube.apply_all(metallb[:-1])  # the pool once its CRD serves
    kube.apply(metallb[-1])
    kube.apply_all(traefik_objects(node.name))
    apps = client.AppsV1Api(kube.api)
    for namespace, name in ((METALLB_NAMESPACE, "controller"), (TRAEFIK_NAMESPACE, "traefik")):
        wait_until(lambda ns=namespace, n=name: _available(apps, ns, n), timeout,
                   f"deployment {namespace}/{name} to be available",
                   describe=lambda ns=namespace: _describe_pods(kube, ns))
        timings[f"{name} available"] = time.monotonic() - began
    address = wait_until(lambda: _lb_address(kube, TRAEFIK_NAMESPACE, "traefik"), timeout,
                         "MetalLB to give Traefik's Service an address",
                         describe=lambda: _describe_pods(kube, METALLB_NAMESPACE))
    timings["LoadBalancer address"] = time.monotonic() - began
    url = f"http://{address}"
    wait_until(lambda: http_status(url + "/", "edge.invalid") == 404, timeout,
               f"Traefik to answer at {url} from the host",
               describe=lambda: _describe_pods(kube, TRAEFIK_NAMESPACE))
    timings["Traefik answering"] = time.monotonic() - began
    log("edge on " + node.name + ": " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return Edge(ingress_url=url, gateway_url=url, address=address, pool=str(pool),
                node=node.name, timings=timings)


def remove_edge(kube: Kube, pool: str | None = None) -> None:
    """Delete the edge's objects (best effort) and, given, the host route of `pool`."""
    for namespace in (TRAEFIK_NAMESPACE, METALLB_NAMESPACE):
        kube.delete_namespace(namespace)
    rbac = client.RbacAuthorizationV1Api(kube.api)
    for name in ("receiver-conformance:traefik", "receiver-conformance:metallb-controller"):
        with contextlib.suppress(ApiException):
            rbac.delete_cluster_role_binding(name)
        with contextlib.suppress(ApiException):
            rbac.delete_cluster_role(name)
    with contextlib.suppress(ApiException):
        client.NetworkingV1Api(kube.api).delete_ingress_class(INGRESS_CLASS)
    with contextlib.suppress(ApiException):
        kube.custom.delete_cluster_custom_object(GATEWAY_GROUP, "v1", "gatewayclasses",
                                                 GATEWAY_CLASS)
    if pool:
        unroute_pool(pool)


def http_status(url: str, host: str, timeout: float = 3.0) -> int | None:
    """The HTTP status of GET `url` with Host `host` from the host, None if unanswered."""
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def _available(apps: client.AppsV1Api, namespace: str, name: str) -> bool:
    status = apps.read_namespaced_deployment_status(name, namespace).status
    return (status.available_replicas or 0) >= 1 and (status.updated_replicas or 0) >= 1


def _lb_address(kube: Kube, namespace: str, name: str) -> str | None:
    ingress = kube.core.read_namespaced_service(name, namespace).status.load_balancer.ingress
    return ingress[0].ip if ingress else None


def _describe_pods(kube: Kube, namespace: str) -> str:
    """Each pod's phase, restarts and last log lines (of the previous run if it restarted)."""
    seen = []
    for pod in kube.core.list_namespaced_pod(namespace).items:
        statuses = pod.status.container_statuses or []
        restarts = sum(c.restart_count for c in statuses)
        try:
            log = kube.core.read_namespaced_pod_log(pod.metadata.name, namespace,
                                                    previous=restarts > 0, tail_lines=15)
        except ApiException as err:
            log = f"(no log: {err.reason})"
        seen.append(f"{pod.metadata.name}: {pod.status.phase}, {restarts} restarts, "
                    f"last log lines:\n{log}")
    return "\n".join(seen) or "no pods"


def main() -> int:
    """`python -m receiver_conformance.node.edge`: build the images (and fetch MetalLB's CRDs); print
    the archives."""
    def ensure() -> list[Path]:
        return [*ensure_edge_archives(), ensure_metallb_crds()]

    return provision_main(ensure, (EdgeError, BuildFailed, CRDsNotFound,
                                    images.ImageError))


if __name__ == "__main__":
    sys.exit(main())
