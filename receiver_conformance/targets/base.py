"""What a target gives the scenarios."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Capabilities a scenario may require (tag `@cap-<name>`); a target lists those it has.
KNOWN_CAPABILITIES = {
    "api": "a Kubernetes API server the suite can create Secrets, Receivers and sources in",
    "kubectl": "a kubectl binary to run the guide's commands as written",
    "fresh-namespaces": "the suite may create and delete a namespace per scenario",
    "exposure-objects": "Ingress, Gateway and HTTPRoute kinds are served by the API server",
    "traffic": "a data plane: requests travel through LoadBalancer, Ingress and HTTPRoute",
    "network-policy-enforcement": "a CNI that enforces NetworkPolicy on real connections",
    "gcr-test-keys": "the receiver trusts the suite's own Google ID-token signing keys",
    "source-controller": "a source controller that handles reconcile requests in status",
    "kustomize-controller": "a kustomize controller that applies a source's new revision",
    "receiver-log": "the suite reads the receiver's own log (it runs the receiver)",
    "deployed-receiver": "the receiver's Deployment (pods labelled app: notification-controller)"
    " and Service webhook-receiver to inspect: live in the target's cluster, or reference/deploy/"
    " when the target is the reference on the embedded control plane",
    "oidc-test-issuer": "the receiver reaches an OIDC issuer the suite serves on 127.0.0.1 "
    "(plain HTTP, which Flux accepts) for generic-oidc Receivers",
    "no-cross-namespace-refs": "the receiver runs with --no-cross-namespace-refs (refuses "
    "resources in other namespaces than the Receiver's)",
    "receiver-metrics": "the suite can scrape the receiver's Prometheus metrics "
    "(Target.metrics_url)",
}
# What the exposure scenarios look for in a live receiver namespace (the guide's names).
RECEIVER_POD_LABELS = {"app": "notification-controller"}
RECEIVER_SERVICE = "webhook-receiver"


class UnknownCapability(ValueError):
    """A declared capability the suite does not know."""


def parse_capabilities(values: Iterable[str]) -> frozenset[str]:
    """Declared capabilities (each value may be comma-separated), checked against
    KNOWN_CAPABILITIES."""
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = sorted(names - set(KNOWN_CAPABILITIES))
    if unknown:
        raise UnknownCapability(
            f"unknown capability {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(sorted(KNOWN_CAPABILITIES))}")
    return frozenset(names)


@dataclass
class Target:
    """A running receiver implementation and the cluster it watches."""

    name: str
    kubeconfig: Path
    receiver_url: str  # base URL; the hook path is appended to it
    capabilities: frozenset[str] = field(default_factory=frozenset)
    namespace: str | None = None  # a fixed namespace to work in, or None for fresh ones
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
