"""What a run's target needs built before its scenarios start, built in the foreground.

The control-plane binaries, Flux's CRDs and Flux's controllers are built from their Go
modules once, into the cache. `run` builds them here, before pytest starts, so that a first
run says on the terminal what it builds and how long each part took, instead of sitting
silent while the build writes to the run's log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from receiver_conformance import versions
from receiver_conformance.config import RunConfig
from receiver_conformance.controlplane.binaries import (
    BinariesNotFound,
    BuildFailed,
    ensure_binaries,
    find_binaries,
)
from receiver_conformance.controlplane.crds import COMPLETE, CRDsNotFound, ensure_crds
from receiver_conformance.controlplane.crds import cache_dir as crds_dir
from receiver_conformance.flux.build import (
    CONTROLLERS,
    FluxNotBuilt,
    ensure_controllers,
    ensure_notification_controller,
    find_controllers,
    release_cache_dir,
)
from receiver_conformance.gobuild import Log, executable
from receiver_conformance.report import model
from receiver_conformance.targets import registry

# What a failed build raises; `run` turns each into one line and exit 2.
FAILURES: tuple[type[BaseException], ...] = (BinariesNotFound, BuildFailed, CRDsNotFound,
                                             FluxNotBuilt)


@dataclass(frozen=True)
class Part:
    """One thing to build: what it is, whether it is there, how to build it."""

    what: str
    ready: Callable[[], bool]
    build: Callable[[Log], object]


def parts(config: RunConfig) -> list[Part]:
    """What the run's placement and receiver need from the cache."""
    if not registry.placement(config).needs_control_plane:
        return []
    needed = [
        Part("the control plane (kube-apiserver, etcd, kube-controller-manager, kubectl)",
             lambda: find_binaries() is not None, lambda log: ensure_binaries(log=log)),
        Part("Flux's CRDs", lambda: (crds_dir() / COMPLETE).exists(),
             lambda log: ensure_crds(log=log)),
        Part("Flux's controllers (" + ", ".join(CONTROLLERS) + ")",
             lambda: find_controllers() is not None, lambda log: ensure_controllers(log=log)),
    ]
    release = config.notification_controller
    if config.runs_flux and release:
        needed.append(Part(
            f"notification-controller {release}",
            lambda: release == versions.FLUX_MODULES["notification-controller"][1]
            or executable(release_cache_dir(release) / "notification-controller"),
            lambda log: ensure_notification_controller(release, log=log)))
    return needed


def provision(config: RunConfig, say: Callable[[str], None],
              needed: list[Part] | None = None) -> None:
    """Build every missing part (of `parts(config)`, or `needed`), saying what and, when
    done, how long it took."""
    for part in parts(config) if needed is None else needed:
        if part.ready():
            continue
        say(f"building {part.what} (once; later runs reuse it)")
        started = time.monotonic()
        part.build(lambda message: say(f"  {message}"))
        say(f"built {part.what} in {model.elapsed(time.monotonic() - started)}")
