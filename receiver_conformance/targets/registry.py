"""The registry of targets: where the scenarios run, apart from what runs there.

A placement is where: the embedded control plane on this machine, a real node joined to it,
a kind cluster, or an external cluster. A receiver is what: the reference receiver, or Flux's
notification-controller at a release, both built and started by the suite; on an external
placement it is the user's own receiver, already running. Each placement is one provider
behind one interface: `start(config, plane)` is a context manager that yields a running
`Target` and removes everything it made when the block ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from receiver_conformance import versions
from receiver_conformance.config import BY_NAME, ConfigError, RunConfig
from receiver_conformance.controlplane import ControlPlane, ControlPlaneError
from receiver_conformance.controlplane.crds import CRDsNotFound
from receiver_conformance.flux.build import FluxNotBuilt
from receiver_conformance.flux.controllers import ControllerFailed
from receiver_conformance.flux.manifests import ManifestsNotFound
from receiver_conformance.reference_process import ReferenceReceiverError
from receiver_conformance.targets.base import Target

Start = Callable[[RunConfig, ControlPlane | None], AbstractContextManager[Target]]
# What a placement on the embedded control plane may raise while it starts.
_EMBEDDED_FAILURES: tuple[type[BaseException], ...] = (
    ReferenceReceiverError, ControllerFailed, FluxNotBuilt, ManifestsNotFound, CRDsNotFound,
    ControlPlaneError)


@dataclass(frozen=True)
class Placement:
    """Where the scenarios run, and how a target is started there."""

    name: str
    summary: str
    receivers: tuple[str, ...]  # what may run there; empty: the user's own receiver
    needs_control_plane: bool  # the session's embedded control plane is passed to start()
    start: Start
    failures: Callable[[], tuple[type[BaseException], ...]]  # start()'s errors for the user
    parallel: bool = False  # scenarios may run in several processes at once (--workers)


def _start_embedded(config: RunConfig, plane: ControlPlane | None) -> AbstractContextManager[Target]:
    assert plane is not None
    if config.runs_flux:
        from receiver_conformance.targets.flux import flux_target

        return flux_target(plane, config.notification_controller)
    from receiver_conformance.targets.embedded import embedded_target

    return embedded_target(plane, config.reference_args)


def _start_node(config: RunConfig, plane: ControlPlane | None) -> AbstractContextManager[Target]:
    from receiver_conformance.targets.node import node_target

    release = None
    if config.runs_flux:
        release = config.notification_controller or pinned_notification_controller()
    return node_target(plane, notification_controller=release,
                       flux_deployment=config.flux_deployment,
                       reference_args=config.reference_args)


def _node_failures() -> tuple[type[BaseException], ...]:
    from receiver_conformance.targets.node import STARTUP_FAILURES

    return _EMBEDDED_FAILURES + STARTUP_FAILURES


def _start_kind(config: RunConfig, _: ControlPlane | None) -> AbstractContextManager[Target]:
    if config.kind_images == "pulled":
        from receiver_conformance.targets.kind import kind_target

        return kind_target(implementation=config.receiver)
    from receiver_conformance.targets.kind_built import built_kind_target

    release = None
    if config.runs_flux:
        release = config.notification_controller or pinned_notification_controller()
    return built_kind_target(notification_controller=release,
                             reference_args=config.reference_args)


def _kind_failures() -> tuple[type[BaseException], ...]:
    from receiver_conformance.targets.kind import KindError
    from receiver_conformance.targets.kind_built import STARTUP_FAILURES

    return (KindError, *STARTUP_FAILURES)


def _start_external(config: RunConfig, _: ControlPlane | None) -> AbstractContextManager[Target]:
    from contextlib import nullcontext

    from receiver_conformance.targets.external import external_target

    return nullcontext(external_target(
        str(config.kubeconfig) if config.kubeconfig else None, config.receiver_url,
        config.namespace, config.capabilities, config.receiver_namespace,
        probe=not config.no_probe,
        receiver_log=str(config.receiver_log) if config.receiver_log else None,
        metrics_url=config.metrics_url, gcr_keys=config.gcr_keys,
        disposable=config.disposable_cluster))


def _external_failures() -> tuple[type[BaseException], ...]:
    from receiver_conformance.targets.preflight import Unreachable

    return (Unreachable,)


PLACEMENTS: dict[str, Placement] = {p.name: p for p in (
    Placement("embedded", "a real kube-apiserver, etcd and kube-controller-manager on this "
              "machine, with Flux's source- and kustomize-controller", ("reference", "flux"),
              True, _start_embedded, lambda: _EMBEDDED_FAILURES, parallel=True),
    Placement("node", "the embedded control plane with a real node (kubelet, containerd, "
              "kube-proxy, NetworkPolicy) and its edge (Traefik, MetalLB); root",
              ("reference", "flux"), True, _start_node, _node_failures),
    Placement("kind", "a kind cluster: built here without a registry (a Docker engine of the "
              "suite's own; root), or from kind's released images", ("reference", "flux"),
              False, _start_kind, _kind_failures),
    Placement("external", "any cluster and receiver: a kubeconfig and the receiver's URL",
              (), False, _start_external, _external_failures, parallel=True),
)}


# Capabilities an external receiver has only with what the suite is told: declaring one
# without its setting would give false failures, so it is refused with the reason.
UNSERVABLE_WITHOUT: tuple[tuple[str, str, str], ...] = (
    ("receiver-log", "receiver_log", "the file the receiver logs to"),
    ("receiver-metrics", "metrics_url", "where the receiver serves its metrics"),
    ("gcr-test-keys", "gcr_keys", "the keys are the suite's: export them with "
     "'receiver-conformance gcr-keys DIR' and start the receiver trusting DIR/google-jwks.json"),
)


def pinned_notification_controller() -> str:
    return versions.FLUX_MODULES["notification-controller"][1]


def placement(config: RunConfig) -> Placement:
    return PLACEMENTS[config.target]


def validate(config: RunConfig) -> RunConfig:
    """Check that the settings fit together for the chosen placement and receiver; raise
    ConfigError with one line naming the flag or variable at fault."""
    where = placement(config)
    external = where.name == "external"
    if config.receiver is not None and config.receiver not in where.receivers:
        raise ConfigError(f"{config.origin('receiver')} {config.receiver}: --target "
                          f"{where.name} tests the receiver you run; the suite runs one only "
                          "on " + ", ".join(n for n, p in PLACEMENTS.items() if p.receivers))
    if config.capabilities and not external:
        raise ConfigError(f"{config.origin('capabilities')} is for --target external; the "
                          "embedded, node and kind targets know their own capabilities")
    for name in ("no_probe", "receiver_log", "receiver_url", "namespace", "metrics_url",
                 "gcr_keys", "disposable_cluster"):
        if config.given(name) and not external:
            raise ConfigError(f"{config.origin(name)} is for --target external")
    if config.receiver_log is not None and not config.receiver_log.is_file():
        raise ConfigError(f"{config.origin('receiver_log')} {config.receiver_log}: no such file")
    for capability, name, why in UNSERVABLE_WITHOUT:
        if capability in config.capabilities and not config.given(name):
            raise ConfigError(f"{config.origin('capabilities')} {capability}: the suite cannot "
                              f"serve it without {BY_NAME[name].flag} ({why})")
    if config.gcr_keys is not None and not (config.gcr_keys / "signing-key.pem").is_file():
        raise ConfigError(f"{config.origin('gcr_keys')} {config.gcr_keys}: no signing key "
                          "there; write one with 'receiver-conformance gcr-keys DIR'")
    if config.given("kind_images") and where.name != "kind":
        raise ConfigError(f"{config.origin('kind_images')} is for --target kind")
    if config.notification_controller and not (
            where.name in ("embedded", "node")
            or (where.name == "kind" and config.kind_images == "built")):
        raise ConfigError(f"{config.origin('notification_controller')} is for --target flux, "
                          "node or kind (Flux's notification-controller as the receiver)")
    if config.flux_deployment and not (where.name == "node" and config.receiver == "reference"):
        raise ConfigError(f"{config.origin('flux_deployment')} is for the reference receiver "
                          "on --target node (Flux's own receiver always runs in its Deployment)")
    if config.reference_args and not (
            config.receiver == "reference"
            and (where.name in ("embedded", "node")
                 or (where.name == "kind" and config.kind_images == "built"))):
        raise ConfigError(f"{config.origin('reference_args')} is for the reference receiver "
                          "on --target embedded, node or kind")
    if config.workers > 1 and not where.parallel:
        raise ConfigError(f"{config.origin('workers')} {config.workers}: the {where.name} "
                          "target runs one scenario at a time")
    if config.workers > 1 and config.namespace:
        raise ConfigError(f"{config.origin('workers')} {config.workers}: scenarios at once "
                          f"need a namespace each; {config.origin('namespace')} gives one")
    return config
