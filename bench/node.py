"""Benchmark a node: start-to-Ready, a pod's start-to-Running, stop, memory; optionally the
build of kubelet, kube-proxy and kube-scheduler.

    python -m bench.node                    # warm starts only (binaries from the cache)
    python -m bench.node --build            # also rebuild the node binaries into a scratch
                                            # cache, reusing the Go build cache (warm)
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

from kubernetes import client

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.controlplane.binaries import NODE, build_binaries
from receiver_conformance.gobuild import find_go
from receiver_conformance.kube import api_client, wait_until
from receiver_conformance.node import cgroups
from receiver_conformance.node.node import Node, rss_kib


def build_times() -> dict[str, float]:
    """Seconds to build each node binary into an empty k8s cache (Go caches as they are)."""
    scratch = Path(tempfile.mkdtemp(prefix="rc-node-build-"))
    took = {}
    try:
        for name in NODE:
            began = time.monotonic()
            build_binaries(scratch, find_go() or "go", names=(name,), log=lambda _: None)
            took[name] = time.monotonic() - began
        return took
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def one_run(plane: ControlPlane) -> dict[str, float]:
    node = Node(plane, log=lambda _: None).start()
    try:
        core = client.CoreV1Api(api_client(plane.kubeconfig))
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name=f"bench-{node.name}"),
            spec=client.V1PodSpec(termination_grace_period_seconds=0, containers=[
                client.V1Container(name="c", image=node.busybox_image,
                                   command=["sleep", "3600"])]))
        began = time.monotonic()
        core.create_namespaced_pod("default", pod)
        wait_until(lambda: core.read_namespaced_pod(pod.metadata.name, "default")
                   .status.phase == "Running", 60, "the bench pod to run")
        pod_s = time.monotonic() - began
        sizes = rss_kib(sorted(cgroups.pids(node.dir.name)))
        by_name = {name: rss_kib([child.pid]) for name, child in node.children.items()}
        result = {"ready_s": node.started_in or 0.0, "pod_s": pod_s,
                  "rss_total_mib": sum(sizes.values()) / 1024}
        for name, size in by_name.items():
            result[f"rss_{name}_mib"] = sum(size.values()) / 1024
        core.delete_namespaced_pod(pod.metadata.name, "default", grace_period_seconds=0)
    finally:
        began = time.monotonic()
        node.stop()
    result["stop_s"] = time.monotonic() - began
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--build", action="store_true", help="also time the binaries' build")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("error: a node needs root", file=sys.stderr)
        return 2
    if args.build:
        for name, seconds in build_times().items():
            print(f"build {name}: {seconds:.0f} s")
    with ControlPlane(install=False, log=lambda _: None) as plane:
        runs = [one_run(plane) for _ in range(args.runs)]
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"{key}: median {statistics.median(values):.1f} "
              f"(min {min(values):.1f}, max {max(values):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
