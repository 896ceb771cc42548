"""The node's cgroup v1 subtree: one directory per hierarchy, every node process inside.

The node's own processes (containerd and its shims, kubelet, kube-proxy, ...) live in
`<root>/system`; kubelet puts the pods under `<root>/kubepods` (its `cgroupRoot`). Removing
the node kills whatever is left in the subtree and removes its directories.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

MOUNTS = Path("/proc/mounts")
SYSTEM = "system"


def hierarchies(v2: bool = False) -> list[Path]:
    """The mount points of the cgroup v1 hierarchies, and of cgroup2 if `v2` (on a hybrid
    host kubelet makes its tree there too)."""
    types = ("cgroup", "cgroup2") if v2 else ("cgroup",)
    found = []
    for line in MOUNTS.read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] in types:
            found.append(Path(fields[1]))
    return found


def create(name: str) -> list[Path]:
    """Create `/<name>` and `/<name>/system` in every hierarchy; their directories."""
    made = []
    for mount in hierarchies():
        for path in (mount / name, mount / name / SYSTEM):
            path.mkdir(exist_ok=True)
            if (path / "cpuset.cpus").exists():  # an empty cpuset takes no task
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    (path / knob).write_text((path.parent / knob).read_text())
        made.append(mount / name)
    return made


def join_paths(name: str) -> list[str]:
    """The `cgroup.procs` files that put a process into the node's system cgroup."""
    return [str(m / name / SYSTEM / "cgroup.procs") for m in hierarchies()]


def join(procs_files: list[str]) -> None:
    """Put the calling process into the given cgroups (safe to call between fork and exec)."""
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def pids(name: str) -> set[int]:
    """Every process in the subtree of `/<name>`, in any hierarchy."""
    found: set[int] = set()
    for mount in hierarchies(v2=True):
        root = mount / name
        if not root.is_dir():
            continue
        for procs in root.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in procs.read_text().split())
    return found


def remove(name: str, timeout: float = 20.0) -> list[str]:
    """Kill every process in the subtree, then remove its directories, deepest first.

    Returns what could not be removed (empty on success)."""
    deadline = time.monotonic() + timeout
    while (left := pids(name)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    failed: list[str] = []
    for mount in hierarchies(v2=True):
        root = mount / name
        if not root.is_dir():
            continue
        dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for path in [*dirs, root]:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # a task is still exiting
                    time.sleep(0.1)
            else:
                failed.append(str(path))
    return failed
