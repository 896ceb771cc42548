"""The embedded control plane: etcd, kube-apiserver and kube-controller-manager on 127.0.0.1,
built from their Go modules (`binaries`), with Flux's and Gateway API's CRDs taken from the
pinned Go modules (`crds`), and children that never outlive their owner (`processes`,
`reaper`). `cluster` keeps one running in the background for manual use.
"""

from harness.controlplane.plane import ControlPlane, ControlPlaneError

__all__ = ["ControlPlane", "ControlPlaneError"]
