"""What a target gives the scenarios."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiver_conformance.controlplane.processes import file_tail

# What the exposure scenarios look for in a live receiver namespace (the guide's names).
RECEIVER_POD_LABELS = {"app": "notification-controller"}
RECEIVER_SERVICE = "webhook-receiver"


class LogFile:
    """The tail of a log file the receiver writes; read afresh on every call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, lines: int = 50) -> str:
        return file_tail(self.path, lines)


@dataclass
class Target:
    """A running receiver implementation and the cluster it watches."""

    name: str
    kubeconfig: Path
    receiver_url: str  # base URL; the hook path is appended to it
    capabilities: frozenset[str] = field(default_factory=frozenset)
    namespace: str | None = None  # a fixed namespace to work in, or None for fresh ones
    # The cluster goes when the run ends (the embedded control plane): the scenarios' fresh
    # namespaces are left for it to take, not deleted one by one (each deletion makes the
    # controller-manager list every resource type, twice, and the controllers reconcile).
    disposable: bool = False
    details: dict[str, str] = field(default_factory=dict)  # shown in the report
    google_issuer: Any = None  # a receiver_conformance.senders.gcr.TestGoogleIssuer the receiver trusts
    log_tail: Callable[[], str] | None = None  # the receiver's recent log, when we run it
    kubectl: Path | None = None  # a kubectl binary for the guide's commands
    # Where the receiver's Deployment, Service and NetworkPolicies live (deployed-receiver),
    # or None when reference/deploy/ stands in for them (the reference, embedded).
    receiver_namespace: str | None = None
    metrics_url: str | None = None  # the receiver's Prometheus endpoint (receiver-metrics)
    # A busybox image the cluster has locally, for the traffic scenarios' probe and solver
    # pods where no registry is reachable (the node target); None: the pinned images.
    probe_image: str | None = None

    def lacks(self, capability: str) -> bool:
        return capability not in self.capabilities
