"""The default target: the embedded control plane and the reference receiver beside it.

The receiver is started as its own process, exactly as a user starts it
(`python -m receiver_conformance.reference --kubeconfig ...`), and trusts a Google ID-token issuer the suite
makes up, so gcr scenarios can run without Google. Flux's real source-controller and
kustomize-controller run beside it, so the sources the receiver annotates really reconcile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.flux.controllers import FluxControllers
from receiver_conformance.reference_process import ReferenceReceiver
from receiver_conformance.targets.base import LogFile, Target

# deployed-receiver: the reference runs as a process here; its reference/deploy/ manifests,
# applied to the API server, stand in for the Deployment and Service it would run as.
CAPABILITIES = frozenset({"api", "fresh-namespaces", "exposure-objects", "gcr-test-keys",
                          "deployed-receiver", "source-controller", "kustomize-controller",
                          "receiver-log", "oidc-test-issuer", "receiver-metrics",
                          "host-clock"})
DOWNSTREAM = ("source-controller", "kustomize-controller")
# Receiver flags (given with --reference-arg) that make the target have a capability.
FLAG_CAPABILITIES = {"--no-cross-namespace-refs": "no-cross-namespace-refs"}


def flag_capabilities(args: Sequence[str]) -> set[str]:
    """Capabilities the reference's flags give: `--flag` or `--flag=true`."""
    found = set()
    for arg in args:
        flag, _, value = arg.partition("=")
        if flag in FLAG_CAPABILITIES and value.lower() in ("", "true", "1"):
            found.add(FLAG_CAPABILITIES[flag])
    return found


@contextmanager
def embedded_target(plane: ControlPlane, reference_args: Sequence[str] = ()) -> Iterator[Target]:
    """Run the reference receiver against `plane` for as long as the target is in use,
    with `reference_args` added to its command line."""
    from receiver_conformance.senders.gcr import TestGoogleIssuer

    issuer = TestGoogleIssuer()
    with tempfile.TemporaryDirectory(prefix="rc-embedded-") as scratch:
        jwks = Path(scratch) / "google-jwks.json"
        issuer.write_jwks(jwks)
        receiver = ReferenceReceiver(plane.kubeconfig,
                                     ["--google-jwks", str(jwks), *reference_args])
        with receiver, FluxControllers(plane.kubeconfig, DOWNSTREAM):
            capabilities = set(CAPABILITIES) | flag_capabilities(reference_args)
            if plane.kubectl is not None:
                capabilities.add("kubectl")
            yield Target(
                name="embedded",
                kubeconfig=plane.kubeconfig,
                receiver_url=receiver.url,
                capabilities=frozenset(capabilities),
                details={
                    "implementation": "reference receiver (python -m receiver_conformance.reference)",
                    "controllers": ", ".join(
                        f"{name} {versions.FLUX_MODULES[name][1]}" for name in DOWNSTREAM),
                    "control plane": plane.binaries.describe(),
                },
                google_issuer=issuer,
                log_tail=LogFile(receiver.log_path) if receiver.log_path else None,
                kubectl=plane.kubectl,
                metrics_url=receiver.metrics_url,
                disposable=True,
            )
