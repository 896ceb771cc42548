"""Benchmark the embedded control plane: cold build, warm start-to-ready, memory.

    python bench/controlplane.py            # warm starts only (binaries from the cache)
    python bench/controlplane.py --cold     # also a cold build with empty Go caches (minutes)
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

from harness.controlplane import ControlPlane, binaries


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_build() -> float:
    """Build into empty caches: module download and compilation from scratch."""
    scratch = Path(tempfile.mkdtemp(prefix="rc-cold-build-"))
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(scratch / "xdg"),
        "GOCACHE": str(scratch / "gocache"),
        "GOMODCACHE": str(scratch / "gomodcache"),
        "GOFLAGS": "-modcacherw",
    }
    began = time.monotonic()
    try:
        binaries.build_binaries(binaries.cache_dir(env), shutil.which("go") or "go", env=env)
        return time.monotonic() - began
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a cold build")
    parser.add_argument("--starts", type=int, default=5, help="warm starts to time")
    args = parser.parse_args()

    if args.cold:
        print(f"cold build (empty Go caches, 3 binaries): {cold_build():.0f} s", flush=True)
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
        rss.append((rss_mib(plane.etcd.pid), rss_mib(plane.apiserver.pid)))
        plane.stop()
    etcd_rss = statistics.median(r[0] for r in rss)
    api_rss = statistics.median(r[1] for r in rss)
    print(f"warm start to /readyz ({args.starts} runs): median {statistics.median(ready):.2f} s, "
          f"max {max(ready):.2f} s")
    print(f"warm start with our CRDs Established: median {statistics.median(with_crds):.2f} s, "
          f"max {max(with_crds):.2f} s")
    print(f"RSS after start: etcd {etcd_rss:.0f} MiB, kube-apiserver {api_rss:.0f} MiB, "
          f"together {etcd_rss + api_rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
