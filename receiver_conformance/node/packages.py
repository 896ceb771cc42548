"""The Debian packages a node needs, checked by the commands they provide."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# command (or file) -> the Debian package that provides it
REQUIRED = {
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
    "/usr/lib/cni/host-local": "containernetworking-plugins",
    "/usr/lib/cni/loopback": "containernetworking-plugins",
    "iptables": "iptables",
    "nft": "nftables",
    "conntrack": "conntrack",
    "ip": "iproute2",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "/bin/busybox": "busybox-static",
}
CNI_BIN_DIR = Path("/usr/lib/cni")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class PackagesMissing(Exception):
    """Some packages are not installed; the message says which and how to install them."""


def _present(thing: str) -> bool:
    if thing.startswith("/"):
        return os.access(thing, os.X_OK)
    return shutil.which(thing, path=PATH) is not None


def missing() -> list[str]:
    """The packages (sorted, once each) whose commands are absent."""
    return sorted({pkg for thing, pkg in REQUIRED.items() if not _present(thing)})


def check() -> None:
    """PackagesMissing unless every package is there and we are root."""
    if os.geteuid() != 0:
        raise PackagesMissing("a node needs root (network namespaces, cgroups, mounts)")
    absent = missing()
    if absent:
        raise PackagesMissing(
            f"a node needs the Debian packages {', '.join(absent)}; install them with: "
            f"apt-get install --no-install-recommends {' '.join(absent)}"
        )


def install() -> list[str]:
    """apt-get install whatever is missing; the packages installed."""
    absent = missing()
    if absent:
        proc = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *absent],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.splitlines()[-10:])
            raise PackagesMissing(f"apt-get install {' '.join(absent)} failed:\n{tail}")
    return absent
