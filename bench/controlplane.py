"""Benchmark the embedded control plane: cold provisioning, warm start-to-ready, memory.

    python -m bench.controlplane            # warm starts only (binaries from the cache)
    python -m bench.controlplane --cold     # also everything .ci/run builds, from empty caches
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from receiver_conformance.controlplane import ControlPlane, binaries
from receiver_conformance.controlplane.crds import ensure_crds
from receiver_conformance.flux.build import ensure_controllers


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_build() -> dict[str, float]:
    """Provision everything `.ci/run` builds into empty caches (module downloads and
    compilation from scratch): seconds per stage."""
    scratch = Path(tempfile.mkdtemp(prefix="rc-cold-build-"))
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(scratch / "xdg"),
        "GOCACHE": str(scratch / "gocache"),
        "GOMODCACHE": str(scratch / "gomodcache"),
        "GOFLAGS": "-modcacherw",
    }
    stages = {
        "kube-apiserver, etcd, kube-controller-manager, kubectl": lambda: binaries.build_binaries(
            binaries.cache_dir(env), shutil.which("go") or "go", env=env),
        "Flux's and Gateway API's CRDs": lambda: ensure_crds(env),
        "notification-, source-, kustomize-controller": lambda: ensure_controllers(env),
    }
    took = {}
    try:
        for stage, provision in stages.items():
            began = time.monotonic()
            provision()
            took[stage] = time.monotonic() - began
        return took
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a cold build")
    parser.add_argument("--starts", type=int, default=5, help="warm starts to time")
    args = parser.parse_args()

    if args.cold:
        took = cold_build()
        for stage, seconds in took.items():
            print(f"cold build, {stage}: {seconds:.0f} s", flush=True)
        print(f"cold build, everything: {sum(took.values()):.0f} s", flush=True)
    found = binaries.ensure_binaries()
    quiet = lambda _: None  # noqa: E731
    ready, with_crds, rss = [], [], []
    for _ in range(args.starts):
        plane = ControlPlane(found, install=False, log=quiet)
        began = time.monotonic()
        plane.start()
        ready.append(time.monotonic() - began)
        plane.stop()
        plane = ControlPlane(found, log=quiet)
        began = time.monotonic()
        plane.start()
        with_crds.append(time.monotonic() - began)
        rss.append((rss_mib(plane.etcd.pid), rss_mib(plane.apiserver.pid),
                    rss_mib(plane.controller_manager.pid)))
        plane.stop()
    etcd_rss = statistics.median(r[0] for r in rss)
    api_rss = statistics.median(r[1] for r in rss)
    kcm_rss = statistics.median(r[2] for r in rss)
    print(f"warm start to /readyz ({args.starts} runs): median {statistics.median(ready):.2f} s, "
          f"max {max(ready):.2f} s")
    print(f"warm start with Flux's CRDs Established: median {statistics.median(with_crds):.2f} s, "
          f"max {max(with_crds):.2f} s")
    print(f"RSS after start: etcd {etcd_rss:.0f} MiB, kube-apiserver {api_rss:.0f} MiB, "
          f"kube-controller-manager {kcm_rss:.0f} MiB, "
          f"together {etcd_rss + api_rss + kcm_rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
