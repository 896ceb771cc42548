"""Start an implementation for one side, watching only that side's namespace.

Two receivers on one control plane must not both reconcile the same Receivers (each would
overwrite the other's status). Flux's notification-controller, with
`--watch-all-namespaces=false`, watches only `RUNTIME_NAMESPACE` (main.go: the manager's
cache is restricted to that namespace); the reference takes the same flag and reads the
namespace from `--namespace` or `RUNTIME_NAMESPACE`. Each side runs with its own namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from receiver_conformance.diff.world import Side

IMPLEMENTATIONS = ("reference", "flux")
WATCH_ONE = "--watch-all-namespaces=false"


@contextmanager
def running(side: Side, kubeconfig: Path, log_dir: Path) -> Iterator[str]:
    """Run `side.implementation` for `side`; yields the receiver's base URL."""
    log_dir.mkdir(parents=True, exist_ok=True)
    if side.implementation == "reference":
        from receiver_conformance.reference_process import ReferenceReceiver

        with ReferenceReceiver(kubeconfig, [WATCH_ONE, "--namespace", side.namespace],
                               log_dir=log_dir) as receiver:
            yield receiver.url
    elif side.implementation == "flux":
        from receiver_conformance.flux.controllers import FluxControllers

        name = "notification-controller"
        with FluxControllers(kubeconfig, [name], extra_args={name: [WATCH_ONE]},
                             log_dir=log_dir, runtime_namespace=side.namespace) as flux:
            yield flux[name].url("receiver")
    else:
        raise ValueError(f"unknown implementation {side.implementation!r}; "
                         f"known: {', '.join(IMPLEMENTATIONS)}")
