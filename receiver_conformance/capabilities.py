"""What a scenario may need of a target, and the conformance profiles: the suite's
vocabulary, shared by the targets, the runner and the reports."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Profile(StrEnum):
    """A conformance profile: every scenario carries one tag of these."""

    CORE = "core"
    EXTENDED = "extended"


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
    "host-clock": "the receiver's clock is this host's (it runs here, or in a pod on this "
    "host's kernel): its requestedAt times compare with the suite's",
    "replicas": "the suite may scale the receiver's Deployment, kill its pods and reach each "
    "pod's own address from a pod; the receiver runs with leader election",
}
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
