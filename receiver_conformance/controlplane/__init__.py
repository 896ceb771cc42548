"""The embedded control plane: etcd, kube-apiserver and kube-controller-manager on 127.0.0.1,
built from their Go modules (`binaries`), with Flux's and Gateway API's CRDs taken from the
pinned Go modules (`crds`), and children that never outlive their owner (`processes`,
`reaper`). `cluster` keeps one running in the background for manual use.

`ControlPlane` and `ControlPlaneError` are imported on first use, so that
`python -m receiver_conformance.controlplane.binaries` (or `.crds`) does not import itself twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from receiver_conformance.controlplane.plane import ControlPlane, ControlPlaneError

__all__ = ["ControlPlane", "ControlPlaneError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from receiver_conformance.controlplane import plane

        return getattr(plane, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
