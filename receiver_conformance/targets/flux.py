"""The `flux` target: Flux's own notification-controller is the receiver under test.

Flux's notification-, source- and kustomize-controller, built from their pinned modules,
run as processes against the embedded control plane, as `flux install` would run them in
a cluster. The suite talks to the API server and to the notification-controller's receiver
port, exactly as it does with the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from receiver_conformance import versions
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.controlplane.crds import ensure_module_crds
from receiver_conformance.flux import manifests
from receiver_conformance.flux.build import CONTROLLERS, ensure_notification_controller
from receiver_conformance.flux.controllers import NAMESPACE, FluxControllers
from receiver_conformance.kube import Kube, api_client, install_crds
from receiver_conformance.targets.base import LogFile, Target

# What Flux's controllers give the scenarios beside the API server. Flux cannot trust the
# suite's own Google signing keys, so gcr's accepted-token scenarios are skipped.
CAPABILITIES = frozenset({"api", "fresh-namespaces", "exposure-objects", "source-controller",
                          "kustomize-controller", "deployed-receiver", "receiver-log",
                          "oidc-test-issuer", "receiver-metrics", "host-clock"})
RECEIVER = "notification-controller"


@contextmanager
def flux_target(plane: ControlPlane, receiver_version: str | None = None) -> Iterator[Target]:
    """Run Flux's controllers against `plane` for as long as the target is in use; with
    `receiver_version`, notification-controller is that release (with its own CRDs) beside
    the pinned release's source- and kustomize-controller."""
    module, pinned = versions.FLUX_MODULES[RECEIVER]
    version = receiver_version or pinned
    binaries = {}
    if version != pinned:
        binaries[RECEIVER] = ensure_notification_controller(version)
        with api_client(plane.kubeconfig) as api:
            install_crds(Kube(api), ensure_module_crds(module, version))
    with FluxControllers(plane.kubeconfig, CONTROLLERS, binaries=binaries) as flux:
        with api_client(plane.kubeconfig) as api:
            installed = manifests.install(Kube(api), NAMESPACE)
        capabilities = set(CAPABILITIES)
        if plane.kubectl is not None:
            capabilities.add("kubectl")
        release = versions.NOTIFICATION_RELEASES.get(version, versions.FLUX_RELEASE)
        yield Target(
            name="flux",
            disposable=True,
            kubeconfig=plane.kubeconfig,
            receiver_url=flux[RECEIVER].url("receiver"),
            capabilities=frozenset(capabilities),
            details={
                "implementation": f"{module} {version} (Flux {release})",
                "controllers": ", ".join(
                    f"{name} {version if name == RECEIVER else versions.FLUX_MODULES[name][1]}"
                    for name in CONTROLLERS),
                "control plane": plane.binaries.describe(),
                "install objects": ", ".join(installed),
            },
            receiver_namespace=NAMESPACE,
            log_tail=LogFile(flux[RECEIVER].child.log_path),
            kubectl=plane.kubectl,
            metrics_url=flux[RECEIVER].metrics_url,
        )
