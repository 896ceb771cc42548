"""A kind cluster on the engine the harness owns, from the node image built here.

    with Engine() as engine, KindCluster(engine) as cluster:
        cluster.kubeconfig  # reaches the API server from this host

One control-plane node. kind publishes the API server on the engine's address (the engine's
end of its veth pair), so this host reaches it and nothing else does. The cluster runs
without kindnet (its module is not on the Go proxy): the node image brings a bridge CNI
configuration. kubelet is told that cgroup v1 is allowed (`failCgroupV1: false`). The
cluster goes with the engine; `delete()` removes it first when the engine stays.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time
from pathlib import Path

import yaml

from receiver_conformance.gobuild import Log, stderr_log
from receiver_conformance.kind import binary
from receiver_conformance.kind.engine import Engine, EngineError
from receiver_conformance.kind.node_image import POD_SUBNET, NodeImage, ensure_node_image

API_PORT = 6443
NETWORK = "kind"  # the Docker network kind puts its nodes on
# Each engine's kind network: 10.251.N.0/24 for the engine whose link is 10.250.N.0/24.
KIND_SUBNETS = ipaddress.ip_network("10.251.0.0/16")
CREATE_TIMEOUT = 600.0
WAIT = "180s"  # kind's own wait for the control plane to be Ready

_stderr = stderr_log("kind")


class KindClusterError(Exception):
    """kind could not create the cluster; the message carries kind's last lines."""


def kind_subnet(engine_address: str) -> ipaddress.IPv4Network:
    """The kind network of the engine at `engine_address` (on its own /24 of LINK_POOL)."""
    third = ipaddress.ip_address(engine_address).packed[2]
    return list(KIND_SUBNETS.subnets(new_prefix=24))[third]


def cluster_config(api_address: str, api_port: int = API_PORT) -> dict[str, object]:
    """kind's cluster configuration for one node on this host."""
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": {"disableDefaultCNI": True, "apiServerAddress": api_address,
                       "apiServerPort": api_port, "podSubnet": POD_SUBNET,
                       "ipFamily": "ipv4"},
        "nodes": [{"role": "control-plane"}],
        "kubeadmConfigPatches": [yaml.safe_dump({
            "kind": "KubeletConfiguration",
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "failCgroupV1": False,
        })],
    }


class KindCluster:
    """`create()`/`delete()` or a `with` block."""

    def __init__(self, engine: Engine, name: str = "rc-kind", log: Log = _stderr) -> None:
        self.engine = engine
        self.name = name
        self._log = log
        self.image: NodeImage | None = None
        self.kubeconfig: Path | None = None
        self.timings: dict[str, float] = {}

    def __enter__(self) -> KindCluster:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.delete()

    def create(self) -> KindCluster:
        assert self.engine.dir is not None
        kind = binary.ensure_kind(log=self._log)
        began = time.monotonic()
        self.image = ensure_node_image(self.engine, self._log)
        self.timings["image"] = time.monotonic() - began
        self._create_network()
        config = self.engine.dir / f"{self.name}.yaml"
        config.write_text(yaml.safe_dump(cluster_config(self.engine.address)))
        kubeconfig = self.engine.dir / f"{self.name}.kubeconfig"
        began = time.monotonic()
        proc = subprocess.run(
            [str(kind), "create", "cluster", "--name", self.name, "--image", self.image.name,
             "--config", str(config), "--kubeconfig", str(kubeconfig), "--wait", WAIT,
             "--retain"],
            env=self.engine.env(), capture_output=True, text=True, timeout=CREATE_TIMEOUT)
        self.timings["create"] = time.monotonic() - began
        if proc.returncode != 0:
            detail = self._node_journal()
            raise KindClusterError(
                "kind create cluster failed: "
                + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
                + (f" | node: {detail}" if detail else ""))
        self.kubeconfig = kubeconfig
        self._log(f"kind cluster {self.name} Ready in {self.timings['create']:.1f} s")
        return self

    def _create_network(self) -> None:
        """kind's network, made before kind would make it, on a subnet no other engine on
        this host uses (kind takes 172.18.0.0/16 in every engine, and this host routes
        each engine's kind network to that engine)."""
        if self.engine.attempt("network", "inspect", NETWORK).returncode == 0:
            return
        subnet = kind_subnet(self.engine.address)
        self.engine.docker("network", "create", "--driver", "bridge", "--subnet", str(subnet),
                           "--gateway", str(next(subnet.hosts())), "--opt",
                           "com.docker.network.bridge.enable_ip_masquerade=true", NETWORK)

    @property
    def node(self) -> str:
        """The node container's name (kind names it after the cluster)."""
        return f"{self.name}-control-plane"

    def node_ip(self) -> str:
        """The node's address on kind's network (reached from this host once
        `reach_from_host()` has routed it)."""
        return self.engine.docker(
            "inspect", "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", self.node,
        ).stdout.decode().strip()

    def reach_from_host(self) -> str:
        """Route kind's network from this host (see `Engine.route_from_host`); its subnet."""
        subnet = self.engine.docker(
            "network", "inspect", NETWORK, "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        ).stdout.decode().split()
        ipv4 = next(s for s in subnet if ":" not in s)
        self.engine.route_from_host(ipv4)
        return ipv4

    def load(self, archive: Path) -> None:
        """Import an image archive (OCI or docker) into the node's containerd, as
        `kind load image-archive` does."""
        with archive.open("rb") as stream:
            self.engine.docker("exec", "-i", self.node, "ctr", "--namespace=k8s.io", "images",
                               "import", "--all-platforms", "--digests", "-", stdin=stream,
                               timeout=600)

    def delete(self) -> None:
        """Remove the cluster's containers and network; safe to call twice."""
        if self.engine.dockerd is None:
            return  # the engine is gone, and the cluster with it
        ids = self.engine.attempt("ps", "-aq", "--filter",
                                  f"label=io.x-k8s.kind.cluster={self.name}").stdout.split()
        if ids:
            self.engine.attempt("rm", "-f", *ids, timeout=120)
        self.engine.attempt("network", "rm", NETWORK)
        self.kubeconfig = None

    def _node_journal(self) -> str:
        """The last kubelet and containerd lines of the node, when kind kept it (--retain)."""
        try:
            proc = self.engine.attempt("exec", self.node, "journalctl", "--no-pager", "-n", "15",
                                       "-u", "kubelet", "-u", "containerd")
        except (EngineError, subprocess.TimeoutExpired):
            return ""
        return " | ".join(proc.stdout.strip().splitlines()[-15:])
