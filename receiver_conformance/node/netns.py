"""The node's network namespace, its private mount namespace, and a veth pair to the host.

Neither namespace gets a name or a bind mount: a small holder process (`unshare --net
--mount`) keeps both alive, and every node process joins them through
`/proc/<holder>/ns/*`. When the last of those processes is gone the kernel removes the
namespaces and with them the veth pair, the node's iptables/nft rules, the pods' network
namespaces and every mount made inside (containerd's overlays, kubelet's volumes).

Inside, tmpfs covers `/run`, `/var/log` and `/var/lib`, so the fixed paths the node's
programs use (`/run/containerd/s`, `/run/netns`, `/var/log/pods`, `/var/lib/cni`) stay
private and leave nothing behind on the host.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.controlplane.processes import Child

READY_TIMEOUT = 10.0
# /24s handed out to nodes' host links, one per running node.
LINK_POOL = ipaddress.ip_network("10.250.0.0/16")

HOLDER_SCRIPT = """set -e
ip link set lo up
for dir in /run /var/log /var/lib; do mount -t tmpfs -o mode=0755 rc-node "$dir"; done
mkdir -p /run/netns /run/containerd /var/log/pods /var/log/containers /var/lib/cni
touch "$1"
exec sleep 2147483647
"""


class NetnsError(Exception):
    """The namespace or its link could not be set up."""


@dataclass(frozen=True)
class Link:
    """The veth pair: `host_if` with `host_ip` on the host, `eth0` with `node_ip` inside."""

    host_if: str
    host_ip: str
    node_ip: str
    prefix: int


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS` on the host; NetnsError with its stderr on failure."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of LINK_POOL that no address on the host uses."""
    used = set()
    for line in ip("-4", "-o", "addr", "show").stdout.splitlines():
        address = ipaddress.ip_interface(line.split()[3])
        used.add(address.network.supernet(new_prefix=24) if address.network.prefixlen > 24
                 else address.network)
    for subnet in LINK_POOL.subnets(new_prefix=24):
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise NetnsError(f"no free /24 left in {LINK_POOL}")


class NodeNamespace:
    """The holder process and the veth pair; `enter()` prefixes a command to run inside."""

    def __init__(self, name: str, directory: Path, before_exec: Callable[[], None]) -> None:
        self.name = name
        self.dir = directory
        self.holder: Child | None = None
        self.link: Link | None = None
        self._before_exec = before_exec

    def start(self) -> NodeNamespace:
        ready = self.dir / "netns.ready"
        self.holder = Child("netns-holder", [
            "unshare", "--net", "--mount", "--propagation", "private", "--",
            "sh", "-c", HOLDER_SCRIPT, "holder", str(ready),
        ], self.dir / "netns-holder.log", before_exec=self._before_exec)
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.exists():
            if not self.holder.running() or time.monotonic() > deadline:
                raise NetnsError(f"the namespace holder did not start:\n{self.holder.log_tail()}")
            time.sleep(0.02)
        self.link = self._add_link()
        return self

    @property
    def pid(self) -> int:
        assert self.holder is not None
        return self.holder.pid

    def enter(self, *argv: str) -> list[str]:
        """`argv`, run inside the node's network and mount namespaces."""
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", f"--mount=/proc/{self.pid}/ns/mnt",
                "--", *argv]

    def run(self, *argv: str) -> str:
        """Run a short command inside; its stdout, NetnsError on failure."""
        proc = subprocess.run(self.enter(*argv), capture_output=True, text=True)
        if proc.returncode != 0:
            raise NetnsError(f"{' '.join(argv)} (in the node): {proc.stderr.strip()}")
        return proc.stdout

    def _add_link(self) -> Link:
        subnet = free_subnet()
        hosts = list(subnet.hosts())
        link = Link(host_if=f"rcn{self.pid}", host_ip=str(hosts[0]), node_ip=str(hosts[1]),
                    prefix=subnet.prefixlen)
        ip("link", "add", link.host_if, "type", "veth", "peer", "name", "eth0",
           "netns", str(self.pid))
        ip("addr", "add", f"{link.host_ip}/{link.prefix}", "dev", link.host_if)
        ip("link", "set", link.host_if, "up")
        self.run("ip", "addr", "add", f"{link.node_ip}/{link.prefix}", "dev", "eth0")
        self.run("ip", "link", "set", "eth0", "up")
        self.run("ip", "route", "add", "default", "via", link.host_ip)
        return link

    def stop(self) -> None:
        """Remove the veth pair and stop the holder (the namespaces go with the last process)."""
        if self.link is not None:
            ip("link", "del", self.link.host_if, check=False)
            self.link = None
        if self.holder is not None:
            self.holder.stop(grace=2)
            self.holder = None


def link_exists(name: str) -> bool:
    return ip("link", "show", name, check=False).returncode == 0
