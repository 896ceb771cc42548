"""kubelet, kube-proxy and kube-scheduler: found in the Kubernetes cache, or built into it
from their Go modules the way kube-apiserver is (`receiver_conformance.controlplane.binaries`, one
wrapper module pinned to `versions.KUBERNETES`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.controlplane.binaries import NODE, build_binaries, cache_dir
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    executable,
    find_go,
    provision_main,
    stderr_log,
)


class NodeBinariesNotFound(Exception):
    """The node's binaries are not built and cannot be."""


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    kube_proxy: Path
    kube_scheduler: Path


_stderr = stderr_log("node")


def find_node_binaries(env: Mapping[str, str] | None = None) -> NodeBinaries | None:
    directory = cache_dir(env)
    if not all(executable(directory / name) for name in NODE):
        return None
    return NodeBinaries(*(directory / name for name in NODE))


def ensure_node_binaries(env: Mapping[str, str] | None = None, log: Log = _stderr
                         ) -> NodeBinaries:
    """The binaries, built into the cache first when needed (several minutes, once)."""
    found = find_node_binaries(env)
    if found is not None:
        return found
    go = find_go(env)
    if not go:
        raise NodeBinariesNotFound(
            f"kubelet, kube-proxy and kube-scheduler are not in {cache_dir(env)} and there is "
            "no Go toolchain to build them; install Go (1.26 or later)"
        )
    build_binaries(cache_dir(env), go, env=env, names=NODE, log=log)
    found = find_node_binaries(env)
    assert found is not None
    return found


def main() -> int:
    """`python -m receiver_conformance.node.binaries`: make sure the binaries exist; print them."""

    def paths() -> list[Path]:
        found = ensure_node_binaries()
        return [found.kubelet, found.kube_proxy, found.kube_scheduler]

    return provision_main(paths, (NodeBinariesNotFound, BuildFailed))


if __name__ == "__main__":
    sys.exit(main())
