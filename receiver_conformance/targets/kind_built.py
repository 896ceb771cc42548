"""The kind target on a cluster built here, with no registry (`--kind-images built`, the
default; docs/kind.md).

Where it runs: a Docker engine of the suite's own, and a one-node kind cluster made from
the node image built here (`receiver_conformance.kind`), with Flux's and Gateway API's CRDs
from the pinned modules. What runs there is what the node
target runs, deployed the same way (`NodeTarget`): the reference from reference/deploy/, or
Flux's notification-controller from its module's manifests, its image built here and loaded
into the node; the guide's exposure objects and Flux's network policies; Flux's source- and
kustomize-controller as processes on this host, against the kind API server.

This host reaches the node through the engine's veth pair (kind's network is routed there),
and the receiver through the node port of the guide's LoadBalancer Service. Not yet here:
the edge (Traefik, MetalLB: no `traffic`). NetworkPolicy is enforced by the node target's
kube-network-policies as a DaemonSet (`receiver_conformance.kind.policies`), as kindnet is
not served by the Go proxy. The report's details say so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client

from receiver_conformance import versions
from receiver_conformance.controlplane import binaries as k8s
from receiver_conformance.controlplane.crds import ensure_crds
from receiver_conformance.gobuild import BuildFailed, Log, executable, stderr_log
from receiver_conformance.kind.cluster import KindCluster, KindClusterError
from receiver_conformance.kind.engine import Engine, EngineError
from receiver_conformance.kind.node_image import NodeImageError
from receiver_conformance.kind.policies import NAME as POLICIES
from receiver_conformance.kind.policies import enforcer_archive, enforcer_objects
from receiver_conformance.kube import Kube, Timeout, api_client, install_crds, wait_until
from receiver_conformance.node.edge import Edge
from receiver_conformance.node.images import ensure_busybox_archive
from receiver_conformance.targets.base import Target
from receiver_conformance.targets.node import CAPABILITIES as NODE_CAPABILITIES
from receiver_conformance.targets.node import STARTUP_FAILURES as NODE_FAILURES
from receiver_conformance.targets.node import NodeTarget, NodeTargetError

CAPABILITIES = NODE_CAPABILITIES
POLICIES_TIMEOUT = 120.0
NO_EDGE = ("kind built here has no edge yet (Traefik, MetalLB): no Ingress or Gateway "
           "controller, no LoadBalancer address")
POLICY_ENFORCER = (f"kube-network-policies {versions.KUBE_NETWORK_POLICIES[1]} (the node "
                   "target's, patched for NFQUEUE) as a DaemonSet, instead of kindnet, whose "
                   "module is not on the Go proxy")
STARTUP_FAILURES: tuple[type[BaseException], ...] = (
    *NODE_FAILURES, EngineError, KindClusterError, NodeImageError, BuildFailed)

_stderr = stderr_log("kind-target")


class BuiltKindTarget(NodeTarget):
    """The node target's receiver and deployment, on a kind cluster built here."""

    name = "kind"
    capabilities = CAPABILITIES
    no_edge = NO_EDGE

    def __init__(self, log: Log = _stderr, notification_controller: str | None = None,
                 reference_args: Sequence[str] = ()) -> None:
        super().__init__(None, log=log, with_edge=False,
                         notification_controller=notification_controller,
                         reference_args=reference_args)
        self.engine: Engine | None = None
        self.cluster: KindCluster | None = None
        self._node_ip = ""
        self._busybox = ""

    def _open_site(self, archive: Path) -> None:
        self.engine = Engine(log=self.log).start()
        self.cluster = KindCluster(self.engine, log=self.log).create()
        self.timings.update({f"kind {k}": v for k, v in self.cluster.timings.items()})
        self.cluster.reach_from_host()
        self._node_ip = self.cluster.node_ip()
        archive_p, enforcer = enforcer_archive(self.log)
        self.cluster.load(archive_p)
        with api_client(self.kubeconfig) as api:
            kube = Kube(api)
            install_crds(kube, ensure_crds())  # Flux's and Gateway API's, as pinned
            kube.apply_all(enforcer_objects(enforcer.name))
            apps = client.AppsV1Api(api)

            def enforcing() -> bool:
                status = apps.read_namespaced_daemon_set(POLICIES, "kube-system").status
                return (status.number_ready or 0) >= 1

            try:
                wait_until(enforcing, POLICIES_TIMEOUT, f"{POLICIES} to run on the node",
                           interval=0.5)
            except Timeout as err:
                raise NodeTargetError(str(err)) from None
        busybox, images = ensure_busybox_archive()
        self._busybox = images[0].name
        for loaded in (archive, busybox):
            self.cluster.load(loaded)

    def _close_site(self) -> None:
        if self.engine is not None:
            engine, self.engine, self.cluster = self.engine, None, None
            engine.stop()

    def _deploy_edge(self, kube: Kube) -> Edge | None:
        return None

    @property
    def kubeconfig(self) -> Path:
        assert self.cluster is not None and self.cluster.kubeconfig is not None
        return self.cluster.kubeconfig

    @property
    def kubectl(self) -> Path | None:
        binary = k8s.cache_dir() / "kubectl"
        return binary if executable(binary) else None

    @property
    def node_name(self) -> str:
        assert self.cluster is not None
        return self.cluster.node

    @property
    def node_ip(self) -> str:
        return self._node_ip

    @property
    def host_ip(self) -> str:
        assert self.engine is not None and self.engine.netns is not None
        assert self.engine.netns.link is not None
        return self.engine.netns.link.host_ip

    @property
    def probe_image(self) -> str:
        return self._busybox

    def _on_node(self, script: str) -> str:
        if self.engine is None or self.cluster is None:
            return ""
        with contextlib.suppress(EngineError):
            return self.engine.docker("exec", self.cluster.node, "sh", "-c", script,
                                      timeout=30).stdout.decode(errors="replace")
        return ""

    def _site_details(self) -> dict[str, str]:
        return {
            "node": f"{self.node_name} at {self.node_ip}: kind {versions.KIND_MODULE[1]}'s "
                    f"node, its image built here (Kubernetes {versions.KUBERNETES}, Debian's "
                    "containerd), kube-proxy (iptables), a bridge pod network",
            "receiver_url": "the node port of the LoadBalancer Service receiver, from this "
                            "host through the engine's veth pair",
            "network policies": POLICY_ENFORCER,
        }


@contextmanager
def built_kind_target(log: Log = _stderr, notification_controller: str | None = None,
                      reference_args: Sequence[str] = (),
                      on_stop: Callable[[BuiltKindTarget], None] | None = None,
                      ) -> Iterator[Target]:
    """A running kind target built here for the length of the block."""
    target = BuiltKindTarget(log=log, notification_controller=notification_controller,
                             reference_args=reference_args)
    try:
        yield target.start()
    finally:
        if on_stop is not None:
            on_stop(target)
        target.stop()
