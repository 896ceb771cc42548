"""The root filesystem kind's node image starts from, built here: Debian with systemd,
containerd, runc and the CNI plugins from Debian's packages (kind's own base image builds
those from source on a newer Debian), debootstrapped once into the cache."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from receiver_conformance.gobuild import Log, stderr_log
from receiver_conformance.kind.engine import Engine, EngineError
from receiver_conformance.node.images import REGISTRY
from receiver_conformance.node.reference_image import debian_rootfs

# What a kind node runs on (kind's base image lists the same tools), from Debian.
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "containerd", "runc", "containernetworking-plugins",
    "conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount",
    "kmod", "libseccomp2", "pigz", "ca-certificates", "procps", "bash", "jq", "curl",
)
MARKER = "lib/systemd/systemd"

_stderr = stderr_log("kind")


def digest() -> str:
    return hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]


def image_name() -> str:
    return f"{REGISTRY}/kind-base:{digest()}"


def ensure_rootfs(log: Log = _stderr) -> Path:
    """The cached root filesystem (debootstrap, minutes, once per package list)."""
    return debian_rootfs(f"kind-base-{digest()}", PACKAGES, log, marker=MARKER)


def import_image(engine: Engine, rootfs: Path, name: str, log: Log = _stderr) -> float:
    """`docker import` the root filesystem as one layer named `name`; the seconds it took."""
    began = time.monotonic()
    if engine.docker("images", "-q", name).stdout.strip():
        return 0.0
    log(f"importing {rootfs.name} as {name}")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        engine.docker("import", "-", name, stdin=tar.stdout)
    finally:
        tar.stdout.close()
        tar.wait()
    if tar.returncode != 0:
        raise EngineError(f"tar of {rootfs} failed ({tar.returncode})")
    return time.monotonic() - began
