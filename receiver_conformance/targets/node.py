"""The node target: the embedded control plane, one node, and the reference receiver running
as a pod on it, so that NetworkPolicy is enforced on real packets.

What it sets up (`NodeTarget.start()`):

- a :class:`~receiver_conformance.node.node.Node` joined to the session's embedded control plane (its
  kube-controller-manager deletes namespaces and gives them their ServiceAccounts): containerd,
  kubelet, kube-proxy (iptables mode by default) and kube-network-policies in a network
  namespace of their own;
- the receiver: the reference from ``reference/deploy/`` as it is, with three changes: its image is
  the one built here without a registry (``rc.local/reference:<digest>``,
  :func:`~receiver_conformance.node.reference_image.ensure_reference_archive`, imported into the node's
  containerd; ``imagePullPolicy: Never``), its pod is bound to the node (``nodeName``), and it
  trusts the suite's made-up Google ID-token keys (``--google-jwks``, from the ConfigMap
  ``google-jwks``), as the embedded target's receiver does. Or, with
  ``notification_controller=VERSION`` (``run --target node --notification-controller V``),
  Flux's own notification-controller of that release: the binary the flux target builds, in a
  one-binary image ``rc.local/notification-controller:V``, deployed from its module's
  ``config/manager`` and ``config/rbac`` (:func:`receiver_conformance.flux.manifests.receiver_objects`)
  with the same image and node changes, its release's CRDs installed first;
- ``fixtures/exposure/``: Flux's network policies, ``allow-cert-manager-resolver``, the
  LoadBalancer Service ``receiver``, the Ingress, the Gateway and the HTTPRoute (every kind
  the API server serves; the embedded control plane serves them all);
- Flux's source- and kustomize-controller as processes on the host, as on the embedded target.

How the suite reaches the receiver (``Target.receiver_url``). The host has no route to the
node's pod or Service addresses; it reaches the node's own address through the veth pair,
and kube-proxy serves every Service's node port there. So ordinary pushes go to
``http://<node address>:<node port of the guide's LoadBalancer Service "receiver">``, the
port a cloud load balancer would forward to. But Flux's ``allow-webhooks`` admits only pods
(``from: [namespaceSelector: {}]``): a request from the host, which is no pod, is dropped by
kube-network-policies (seen with a real request: the connection times out; that is the finding
of issue 14, part 3, and the policies are not weakened here). The target therefore applies
one policy more, named for what it does: ``allow-webhooks-from-host`` admits the host's end
of the veth pair (an ``ipBlock`` of that one address) to the receiver's pods on TCP 9292 and
nothing else. The report's details say so.

The traffic scenarios (``traffic``) need an Ingress controller, a Gateway controller and
LoadBalancer addresses the host can reach: :func:`~receiver_conformance.node.edge.deploy_edge` provides
them (Traefik and MetalLB's controller as pods). A target started ``with_edge=False`` (the
node's own tests) lacks ``traffic`` and its details say why. Probe and solver pods run the
node's local busybox image (``Target.probe_image``).

``stop()`` (or the ``node_target`` block's end, on Ctrl-C too) deletes what was applied while
the node still runs, then stops the node, which removes every process, namespace, mount,
veth, cgroup and rule it made; if the owner dies, the node's reaper does that.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance import versions
from receiver_conformance.controlplane.crds import CRDsNotFound, ensure_module_crds
from receiver_conformance.flux import manifests
from receiver_conformance.flux.build import FluxNotBuilt, ensure_notification_controller
from receiver_conformance.flux.controllers import FluxControllers
from receiver_conformance.gobuild import Log, stderr_log
from receiver_conformance.kube import (
    Kube,
    Timeout,
    api_client,
    install_crds,
    load_manifests,
    render_kustomization,
    wait_until,
)
from receiver_conformance.node.binaries import NodeBinariesNotFound
from receiver_conformance.node.edge import Edge, deploy_edge, remove_edge
from receiver_conformance.node.images import NOBODY, REGISTRY, Image, ImageError, binary_archive
from receiver_conformance.node.netns import NetnsError
from receiver_conformance.node.node import Node, NodeError
from receiver_conformance.node.packages import PackagesMissing
from receiver_conformance.node.policies import PoliciesNotBuilt
from receiver_conformance.node.reference_image import ReferenceImageError, ensure_reference_archive
from receiver_conformance.paths import FIXTURES, REFERENCE_DEPLOY
from receiver_conformance.targets.base import Target
from receiver_conformance.targets.embedded import flag_capabilities

RECEIVER_NAMESPACE = "flux-system"  # reference/deploy/'s, and fixtures/exposure/'s
RECEIVER_DEPLOYMENT = "notification-controller"
LOAD_BALANCER = "receiver"  # the guide's LoadBalancer Service
EXPOSURE = FIXTURES / "exposure"
HOST = "webhook-receiver.example.com"  # the guide's Ingress and HTTPRoute host
HOST_POLICY = "allow-webhooks-from-host"
WEBHOOK_PORT = 9292
JWKS_CONFIGMAP = "google-jwks"
JWKS_MOUNT = "/etc/receiver-conformance"
DOWNSTREAM = ("source-controller", "kustomize-controller")
READY_TIMEOUT = 180.0  # the reference's pod: image unpacked, Python started, probes passed
REACH_TIMEOUT = 60.0  # the host's first answer through the node port
NO_EDGE = "started without the edge: no Ingress/Gateway controller, no LoadBalancer address"
# What holds of the embedded target's capabilities here, plus what the node adds. Not
# receiver-metrics (the metrics port is reached by pods only) nor oidc-test-issuer (a pod
# cannot reach the suite's issuer on the host's 127.0.0.1).
CAPABILITIES = frozenset({"api", "fresh-namespaces", "exposure-objects", "gcr-test-keys",
                          "deployed-receiver", "source-controller", "kustomize-controller",
                          "receiver-log", "network-policy-enforcement", "replicas",
                          "host-clock"})

_stderr = stderr_log("node-target")


class NodeTargetError(RuntimeError):
    """The node target could not be set up."""


# Why a node target may not start, each with a message that names the way out.
STARTUP_FAILURES: tuple[type[BaseException], ...] = (
    NodeTargetError, PackagesMissing, NodeError, NodeBinariesNotFound, PoliciesNotBuilt,
    ImageError, NetnsError, ReferenceImageError, FluxNotBuilt, CRDsNotFound,
    manifests.ManifestsNotFound)


# -- the objects it applies (pure functions, tested without a node) -----------------------


def reference_objects(node_name: str, image: str,
                      extra_args: Sequence[str] = ()) -> list[dict[str, Any]]:
    """reference/deploy/ with the locally built image, bound to the node, trusting the
    suite's Google keys from the ConfigMap JWKS_CONFIGMAP, with `extra_args` last."""
    docs = render_kustomization(REFERENCE_DEPLOY)
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        pod["nodeName"] = node_name
        container = pod["containers"][0]
        container.update(image=image, imagePullPolicy="Never")
        container["args"] = [*container.get("args", []),
                             f"--google-jwks={JWKS_MOUNT}/google-jwks.json", *extra_args]
        container.setdefault("volumeMounts", []).append(
            {"name": "google-jwks", "mountPath": JWKS_MOUNT, "readOnly": True})
        pod.setdefault("volumes", []).append(
            {"name": "google-jwks", "configMap": {"name": JWKS_CONFIGMAP}})
    return docs


def flux_receiver_objects(node_name: str, image: str, version: str) -> list[dict[str, Any]]:
    """Flux's notification-controller `version` as Flux deploys it (its module's objects in
    RECEIVER_NAMESPACE), with the locally built image and bound to the node."""
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": RECEIVER_NAMESPACE}}
    docs = [namespace, *manifests.receiver_objects(version, RECEIVER_NAMESPACE)]
    for doc in docs:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            pod["nodeName"] = node_name
            pod["containers"][0].update(image=image, imagePullPolicy="Never")
    return docs


def flux_receiver_archive(version: str, log: Log = _stderr) -> tuple[Path, Image]:
    """notification-controller `version` (built as the flux target builds it) as a one-binary
    image, and its archive."""
    binary = ensure_notification_controller(version, log=log)
    image = Image(f"{REGISTRY}/{RECEIVER_DEPLOYMENT}:{version}", (f"/{binary.name}",), (),
                  env=("PATH=/",), user=f"{NOBODY}:{NOBODY}")
    return binary_archive(binary, image), image


def jwks_configmap(jwks: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": JWKS_CONFIGMAP, "namespace": RECEIVER_NAMESPACE},
            "data": {"google-jwks.json": json.dumps(jwks)}}


def exposure_objects() -> list[dict[str, Any]]:
    """fixtures/exposure/'s objects, namespaces first."""
    docs = [d for path in sorted(EXPOSURE.glob("*.yaml")) for d in load_manifests(path)]
    return sorted(docs, key=lambda d: d["kind"] != "Namespace")


def host_policy(host_ip: str) -> dict[str, Any]:
    """The one policy the target adds: the host's address may reach the receiver's webhook
    port (Flux's allow-webhooks admits pods only; the suite sends from the host)."""
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": HOST_POLICY, "namespace": RECEIVER_NAMESPACE, "labels": {
            "app.kubernetes.io/part-of": "receiver-conformance"}, "annotations": {
            "receiver-conformance/why": "the suite sends its ordinary webhooks from the host "
            "(not a pod) through the node port; Flux's allow-webhooks admits pods only"}},
        "spec": {
            "podSelector": {"matchLabels": {"app": "notification-controller"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": f"{host_ip}/32"}}],
                         "ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}],
        },
    }


# -- running it ---------------------------------------------------------------------------


class NodeTarget:
    """Start a node with the receiver (the reference, or Flux's) on it, hand out the Target,
    take it all down."""

    def __init__(self, plane: Any, proxy_mode: str = "iptables", log: Log = _stderr,
                 with_edge: bool = True, admit_host: bool = True,
                 notification_controller: str | None = None,
                 flux_deployment: bool = False, reference_args: Sequence[str] = ()) -> None:
        self.plane = plane
        # None: the reference; a release: Flux's notification-controller of that release
        self.notification_controller = notification_controller
        # The reference in Flux's own Deployment (the pinned release's), only the image changed.
        self.flux_deployment = flux_deployment and notification_controller is None
        self.reference_args = tuple(reference_args)  # added to reference/deploy/'s arguments
        self.admit_host = admit_host  # False: no HOST_POLICY (to see the host dropped)
        self.proxy_mode = proxy_mode
        self.log = log
        self.with_edge = with_edge
        self.node: Node | None = None
        self.kube: Kube | None = None
        self.edge: Edge | None = None
        self.controllers: FluxControllers | None = None
        self.started_in: float | None = None
        self.timings: dict[str, float] = {}
        self._namespaces: list[str] = []
        self._cluster_objects: list[tuple[str, str, str]] = []  # apiVersion, kind, name

    def start(self) -> Target:
        from receiver_conformance.senders.gcr import TestGoogleIssuer

        began = time.monotonic()
        try:
            flux = self.notification_controller
            if flux is None:
                archive, image = ensure_reference_archive(self.log)
            else:
                archive, image = flux_receiver_archive(flux, self.log)
            self.timings["image"] = time.monotonic() - began
            self._open_site(archive)
            self.timings[self.name] = time.monotonic() - began - self.timings["image"]
            self.kube = Kube(api_client(self.kubeconfig))
            # The edge first: its default IngressClass must exist when the guide's Ingress,
            # which names no class, is created.
            self.edge = self._deploy_edge(self.kube)
            # Flux's Deployment takes no JWKS: only the suite's own deploy trusts its keys.
            fluxs = flux is not None or self.flux_deployment
            issuer = None if fluxs else TestGoogleIssuer()
            if flux and flux != versions.FLUX_MODULES[RECEIVER_DEPLOYMENT][1]:
                install_crds(self.kube, ensure_module_crds(manifests.RECEIVER_MODULE, flux))
            self._deploy(image.name, issuer.jwks() if issuer else None)
            details = self._details()
            capabilities = set(self.capabilities) | flag_capabilities(self.reference_args)
            if fluxs:  # Flux's Deployment cannot trust the suite's own Google signing keys
                capabilities.discard("gcr-test-keys")
            if self.kubectl is not None:
                capabilities.add("kubectl")
            if self.edge is None:
                details["traffic"] = self.no_edge
            else:
                capabilities.add("traffic")
                details.update(ingress_url=self.edge.ingress_url,
                               gateway_url=self.edge.gateway_url, host=HOST)
            receiver_url = self._reach()
            self.controllers = FluxControllers(self.kubeconfig, DOWNSTREAM).start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        self.log(f"{self.name} target ready in {self.started_in:.1f} s ({self._timings()})")
        return Target(
            name=self.name,
            kubeconfig=self.kubeconfig,
            receiver_url=receiver_url,
            capabilities=frozenset(capabilities),
            details=details,
            google_issuer=issuer,
            log_tail=self.log_tail,
            kubectl=self.kubectl,
            receiver_namespace=RECEIVER_NAMESPACE,
            probe_image=self.probe_image,
        )

    def stop(self) -> None:
        """Delete what was applied (while the node still runs its pods), stop the node. Each
        part runs even if an earlier one failed (after Ctrl-C the API server may be gone)."""
        try:
            if self.controllers is not None:
                controllers, self.controllers = self.controllers, None
                with contextlib.suppress(Exception):
                    controllers.stop()
            if self.edge is not None and self.kube is not None:
                edge, self.edge = self.edge, None
                with contextlib.suppress(Exception):
                    remove_edge(self.kube, edge.pool)
            if self.kube is not None:
                kube, self.kube = self.kube, None
                self._undeploy(kube)
                kube.api.close()
        finally:
            self._close_site()

    def log_tail(self, lines: int = 50) -> str:
        """The receiver pod's log (its container's log files, read on the node)."""
        pattern = f"/var/log/pods/{RECEIVER_NAMESPACE}_{RECEIVER_DEPLOYMENT}-*/manager/*.log"
        with contextlib.suppress(Exception):
            return self._on_node(f"cat {pattern} 2>/dev/null | tail -n {lines}")
        return ""

    # -- where it runs: a node joined to the embedded control plane ----------------------
    # (targets/kind_built.py's BuiltKindTarget overrides these: the same receiver on kind)

    name = "node"
    capabilities = CAPABILITIES
    no_edge = NO_EDGE

    def _open_site(self, archive: Path) -> None:
        """Start the node with the receiver's image archive."""
        self.node = Node(self.plane, proxy_mode=self.proxy_mode, archives=[archive],
                         log=self.log).start()

    def _close_site(self) -> None:
        if self.node is not None:
            node, self.node = self.node, None
            node.stop()

    def _deploy_edge(self, kube: Kube) -> Edge | None:
        assert self.node is not None
        return deploy_edge(kube, self.node, self.log) if self.with_edge else None

    @property
    def kubeconfig(self) -> Path:
        assert self.plane.kubeconfig is not None
        return self.plane.kubeconfig

    @property
    def kubectl(self) -> Path | None:
        return getattr(self.plane, "kubectl", None)

    @property
    def node_name(self) -> str:
        assert self.node is not None
        return self.node.name

    @property
    def node_ip(self) -> str:
        """The node's address, reached from this host."""
        assert self.node is not None
        return self.node.node_ip

    @property
    def host_ip(self) -> str:
        """This host's address as the node sees its requests."""
        assert self.node is not None and self.node.netns is not None
        assert self.node.netns.link is not None
        return self.node.netns.link.host_ip

    @property
    def probe_image(self) -> str:
        assert self.node is not None
        return self.node.busybox_image

    def _on_node(self, script: str) -> str:
        """Run a shell script on the node; its output."""
        if self.node is None or self.node.netns is None:
            return ""
        return self.node.netns.run("sh", "-c", script)

    def _site_details(self) -> dict[str, str]:
        assert self.node is not None
        node = self.node
        return {
            "node": f"{node.name} at {node.node_ip}: kubelet, containerd, kube-proxy "
                    f"({node.proxy_mode}), kube-network-policies "
                    f"{versions.KUBE_NETWORK_POLICIES[1]}",
            "receiver_url": "the node port of the LoadBalancer Service receiver, from the "
                            "host's end of the veth pair",
        }

    # -- internals -----------------------------------------------------------------------

    def _deploy(self, image: str, jwks: dict[str, Any] | None) -> None:
        """The receiver's objects (with `jwks`: the reference's, trusting those keys; else
        Flux's notification-controller's), the exposure, the host's policy; wait until the
        receiver's Deployment is available."""
        kube = self.kube
        assert kube is not None
        step = time.monotonic()
        if jwks is None:
            release = (self.notification_controller
                       or versions.FLUX_MODULES[RECEIVER_DEPLOYMENT][1])
            docs = flux_receiver_objects(self.node_name, image, release)
        else:
            docs = reference_objects(self.node_name, image, self.reference_args)
        for doc in sorted(docs, key=lambda d: d["kind"] != "Namespace"):
            self._remember(kube, doc)
            kube.apply(doc)
            if doc["kind"] == "Namespace" and jwks is not None:
                kube.apply(jwks_configmap(jwks))
        skipped = []
        for doc in exposure_objects():
            try:
                kube.resource(doc["apiVersion"], doc["kind"])
            except Exception:  # the dynamic client's ResourceNotFoundError
                skipped.append(f"{doc['kind']}/{doc['metadata']['name']}")
                continue
            self._remember(kube, doc)
            kube.apply(doc)
        if skipped:
            self.log(f"not served by the API server, not applied: {', '.join(skipped)}")
        if self.admit_host:
            kube.apply(host_policy(self.host_ip))
        apps = client.AppsV1Api(kube.api)
        try:
            wait_until(lambda: (apps.read_namespaced_deployment(
                RECEIVER_DEPLOYMENT, RECEIVER_NAMESPACE).status.available_replicas or 0) >= 1,
                READY_TIMEOUT, "the reference's Deployment to be available", interval=0.5,
                describe=lambda: self._pods(kube))
        except Timeout as err:
            raise NodeTargetError(f"{err}\nthe receiver's log:\n{self.log_tail(30)}") from None
        self.timings["deploy"] = time.monotonic() - step

    def _reach(self) -> str:
        """The node port of the LoadBalancer Service, once the host gets an answer there."""
        kube = self.kube
        assert kube is not None
        service = kube.core.read_namespaced_service(LOAD_BALANCER, RECEIVER_NAMESPACE)
        node_port = service.spec.ports[0].node_port
        if not node_port:
            raise NodeTargetError(f"the Service {RECEIVER_NAMESPACE}/{LOAD_BALANCER} has no "
                                  "node port")
        url = f"http://{self.node_ip}:{node_port}"
        step = time.monotonic()

        def answers() -> bool:
            try:
                requests.get(url + "/", timeout=3)
            except requests.RequestException:
                return False
            return True

        try:
            wait_until(answers, REACH_TIMEOUT, f"the receiver to answer the host at {url}",
                       interval=0.5, describe=lambda: self._pods(kube))
        except Timeout as err:
            raise NodeTargetError(str(err)) from None
        self.timings["reach"] = time.monotonic() - step
        return url

    def _details(self) -> dict[str, str]:
        return {
            "implementation": (
                "reference receiver in Flux's own notification-controller Deployment ("
                f"{manifests.RECEIVER_MODULE} {versions.FLUX_MODULES[RECEIVER_DEPLOYMENT][1]}'s "
                "config/manager, flux2's RBAC), only the image changed, as a pod on the node"
                if self.flux_deployment else
                "reference receiver, reference/deploy/ as a pod on the node"
                if self.notification_controller is None else
                f"{manifests.RECEIVER_MODULE} {self.notification_controller} (Flux "
                f"{versions.NOTIFICATION_RELEASES.get(self.notification_controller, '?')}), "
                "its module's config/manager and config/rbac as a pod on the node"),
            **self._site_details(),
            "extra policy": f"{HOST_POLICY}: admits the host ({self.host_ip}/32) "
                            f"to the receiver's pods on TCP {WEBHOOK_PORT}, because Flux's "
                            "allow-webhooks admits pods only and drops the host's requests",
            "controllers": ", ".join(
                f"{name} {versions.FLUX_MODULES[name][1]} (host processes)"
                for name in DOWNSTREAM),
            "not here": "receiver-metrics (pods only reach the metrics port), "
                        "oidc-test-issuer (a pod cannot reach the host's 127.0.0.1)",
        }

    def _remember(self, kube: Kube, doc: dict[str, Any]) -> None:
        """Note what to delete at stop(): namespaces, and cluster-scoped objects."""
        name = doc["metadata"]["name"]
        if doc["kind"] == "Namespace":
            if name not in self._namespaces:
                self._namespaces.append(name)
        elif not kube.resource(doc["apiVersion"], doc["kind"]).namespaced:
            self._cluster_objects.append((doc["apiVersion"], doc["kind"], name))

    def _undeploy(self, kube: Kube) -> None:
        """Best effort, without retries: the API server may be gone already."""
        kube.api.configuration.retries = 0
        for api_version, kind, name in self._cluster_objects:
            with contextlib.suppress(Exception):
                kube.resource(api_version, kind).delete(name=name, _request_timeout=5)
        for name in self._namespaces:
            with contextlib.suppress(Exception):
                kube.core.delete_namespace(name, propagation_policy="Background",
                                           _request_timeout=5)
        self._cluster_objects.clear()
        self._namespaces.clear()

    def _pods(self, kube: Kube) -> str:
        try:
            pods = kube.core.list_namespaced_pod(RECEIVER_NAMESPACE).items
        except ApiException as err:
            return f"pods unreadable: HTTP {err.status}"
        return "; ".join(f"{p.metadata.name}: {p.status.phase} {p.status.container_statuses}"
                         for p in pods) or "no pods"

    def _timings(self) -> str:
        return ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())


@contextmanager
def node_target(plane: Any, proxy_mode: str = "iptables", log: Log = _stderr,
                on_stop: Callable[[NodeTarget], None] | None = None,
                notification_controller: str | None = None,
                flux_deployment: bool = False,
                reference_args: Sequence[str] = ()) -> Iterator[Target]:
    """A running node target for the length of the block; its receiver is the reference
    (in its own Deployment, or with `flux_deployment` in Flux's), or Flux's
    notification-controller of the release `notification_controller`."""
    target = NodeTarget(plane, proxy_mode=proxy_mode, log=log,
                        notification_controller=notification_controller,
                        flux_deployment=flux_deployment, reference_args=reference_args)
    try:
        yield target.start()
    finally:
        if on_stop is not None:
            on_stop(target)
        target.stop()

