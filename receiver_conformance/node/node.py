"""A worker node for the embedded control plane: containerd, kubelet, kube-proxy,
kube-network-policies (NetworkPolicy) and the cluster's kube-scheduler, as plain processes
in a network namespace of their own.

    with ControlPlane() as plane, Node(plane) as node:
        ...  # pods run, Services carry traffic

Every node process is in the node's cgroup subtree and in the namespaces of `netns`;
`stop()`, Ctrl-C (the caller's `finally`) or the owner's death (the reaper) removes the
processes, and with them the namespaces, mounts and rules, then the cgroups, the veth pair
and the temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance.controlplane.pki import ControlPlanePKI
from receiver_conformance.controlplane.plane import _python_env
from receiver_conformance.controlplane.processes import Child, free_port
from receiver_conformance.gobuild import Log, stderr_log
from receiver_conformance.kube import api_client
from receiver_conformance.node import cgroups, images, packages, policies, reaper
from receiver_conformance.node.binaries import NodeBinaries, ensure_node_binaries
from receiver_conformance.node.configs import (
    NodeDirs,
    cni_conflist,
    containerd_toml,
    kube_proxy_config,
    kubelet_config,
    write_kubeconfig,
)
from receiver_conformance.node.netns import NodeNamespace

READY_TIMEOUT = 120.0
API_PORT_INSIDE = 6443
PROXY_MODES = ("iptables", "nftables")

_stderr = stderr_log("node")


class NodeError(Exception):
    """The node could not be started."""


class Plane(Protocol):
    """What a node needs of a control plane (`receiver_conformance.controlplane.ControlPlane` has it)."""

    kubeconfig: Path | None
    server: str | None
    pki: ControlPlanePKI | None


class Node:
    """One node registered with `plane`; `start()`/`stop()` or a `with` block."""

    def __init__(self, plane: Plane, binaries: NodeBinaries | None = None,
                 proxy_mode: str = "iptables", workdir: Path | None = None,
                 network_policies: bool = True, archives: Sequence[Path] = (),
                 log: Log = _stderr) -> None:
        if proxy_mode not in PROXY_MODES:
            raise ValueError(f"proxy_mode must be one of {PROXY_MODES}")
        self._plane = plane
        self._binaries = binaries
        self._workdir = workdir
        self.proxy_mode = proxy_mode
        self.network_policies = network_policies
        self._archives = tuple(archives)
        self._log = log
        self.dir: Path | None = None
        self.name = ""
        self.netns: NodeNamespace | None = None
        self.children: dict[str, Child] = {}
        self._reaper: Child | None = None
        self._join: list[str] = []
        self.images: tuple[images.Image, images.Image] | None = None
        self.started_in: float | None = None

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def plane(self) -> Plane:
        return self._plane

    @property
    def busybox_image(self) -> str:
        assert self.images is not None
        return self.images[0].name

    @property
    def node_ip(self) -> str:
        assert self.netns is not None and self.netns.link is not None
        return self.netns.link.node_ip

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self.children.values()]

    def footprint(self) -> dict[str, object]:
        """What the node has made on the host, for checks that it is all gone later."""
        assert self.dir is not None and self.netns is not None and self.netns.link
        return {
            "name": self.name,
            "dir": str(self.dir),
            "cgroup": self.dir.name,
            "pids": sorted(cgroups.pids(self.dir.name)),
            "veth": self.netns.link.host_if,
            "netns": os.stat(f"/proc/{self.netns.pid}/ns/net").st_ino,
            "mntns": os.stat(f"/proc/{self.netns.pid}/ns/mnt").st_ino,
        }

    def policy_targets(self) -> set[str]:
        """The pod addresses whose connections kube-network-policies checks: those of the
        node's pods that some NetworkPolicy selects, as far as it has seen them."""
        assert self.netns is not None
        return policies.set_ips(self.netns.run(
            "nft", "list", "set", "inet", policies.TABLE, policies.POD_SET))

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Node:
        packages.check()
        plane = self._plane
        if plane.kubeconfig is None or plane.server is None or plane.pki is None:
            raise NodeError("the control plane is not running")
        if not plane.pki.ca_key.exists():
            raise NodeError(f"the control plane keeps no CA key ({plane.pki.ca_key}): it was "
                            "started by an older version; restart it")
        binaries = self._binaries or ensure_node_binaries(log=self._log)
        enforcer = policies.ensure_binary(log=self._log) if self.network_policies else None
        archive, self.images = images.ensure_busybox_archive()
        began = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="rc-node-", dir=self._workdir))
        self.name = self.dir.name.lower().replace("_", "0")
        try:
            self._reaper = Child(
                "reaper",
                [sys.executable, "-m", "receiver_conformance.node.reaper", str(self.dir), str(os.getpid())],
                self.dir / "reaper.log", env=_python_env(), death_signal=signal.SIGTERM,
            )
            reaper.record(self.dir, cgroup=self.dir.name)
            cgroups.create(self.dir.name)
            self._join = cgroups.join_paths(self.dir.name)
            self.netns = NodeNamespace(self.name, self.dir, self._in_cgroup)
            self.netns.start()
            assert self.netns.link is not None
            reaper.record(self.dir, veth=self.netns.link.host_if)
            self._start(binaries, archive, plane)
            if enforcer is not None:
                self._start_policies(enforcer, plane)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        self._log(f"node {self.name} Ready in {self.started_in:.1f} s at {self.node_ip}")
        return self

    def stop(self) -> None:
        """Remove the node and everything it made. Safe to call twice."""
        if self.dir is not None and self.name:
            self._forget()
        for name in reversed(list(self.children)):
            self.children.pop(name).stop(grace=5)
        if self.netns is not None:
            self.netns.stop()
            self.netns = None
        if self.dir is not None:
            left = reaper.clean_up(self.dir)
            if left:
                self._log(f"could not remove {', '.join(left)}")
            self.dir = None
        if self._reaper is not None:
            self._reaper.stop(grace=5)
            self._reaper = None

    # -- internals -----------------------------------------------------------------------

    def _in_cgroup(self) -> None:
        cgroups.join(self._join)

    def _child(self, name: str, argv: list[str], inside: bool = True,
               env: dict[str, str] | None = None) -> Child:
        assert self.dir is not None and self.netns is not None
        if inside:
            argv = self.netns.enter(*argv)
        child = Child(name, argv, self.dir / f"{name}.log", env=env,
                      before_exec=self._in_cgroup)
        self.children[name] = child
        return child

    def _start(self, binaries: NodeBinaries, archive: Path, plane: Plane) -> None:
        assert self.dir is not None and self.netns is not None and self.images is not None
        assert plane.server is not None and plane.pki is not None and plane.kubeconfig
        dirs = NodeDirs(self.dir)
        api_port = int(plane.server.rsplit(":", 1)[1])
        inside_server = f"https://127.0.0.1:{API_PORT_INSIDE}"
        self._child("apiproxy", [sys.executable, "-m", "receiver_conformance.node.apiproxy",
                                 f"/proc/{self.netns.pid}/ns/net", str(API_PORT_INSIDE),
                                 str(api_port)], inside=False, env=_python_env())

        dirs.containerd.mkdir(parents=True)
        config = dirs.containerd / "config.toml"
        config.write_text(containerd_toml(dirs, self.images[1].name))
        containerd = self._child("containerd", ["containerd", "--config", str(config)])
        ctr = ["ctr", "-a", str(dirs.socket)]
        self._wait("containerd", containerd, lambda: subprocess.run(
            [*ctr, "version"], capture_output=True).returncode == 0)
        for each in (archive, *self._archives):
            images.import_archive(ctr, each)
        dirs.cni_conf.mkdir(parents=True, exist_ok=True)
        (dirs.cni_conf / "10-rc-node.conflist").write_text(cni_conflist(dirs))

        self._authorize(plane)
        self._serve_api_to_pods(plane)
        kubelet_kc = write_kubeconfig(dirs.pki / "kubelet.kubeconfig", inside_server, plane.pki,
                                      f"system:node:{self.name}", "system:nodes")
        proxy_kc = write_kubeconfig(dirs.pki / "kube-proxy.kubeconfig", inside_server,
                                    plane.pki, "system:kube-proxy")
        scheduler_kc = write_kubeconfig(dirs.pki / "kube-scheduler.kubeconfig", plane.server,
                                        plane.pki, "system:kube-scheduler")
        dirs.kubelet.mkdir()
        kubelet_yaml = dirs.kubelet / "config.yaml"
        kubelet_yaml.write_text(kubelet_config(dirs, self.node_ip, f"/{self.dir.name}",
                                               plane.pki.ca_cert))
        self._child("kubelet", [
            str(binaries.kubelet), f"--config={kubelet_yaml}", f"--kubeconfig={kubelet_kc}",
            f"--root-dir={dirs.kubelet}", f"--cert-dir={dirs.kubelet / 'pki'}",
            f"--hostname-override={self.name}", f"--node-ip={self.node_ip}", "--v=1",
        ])
        proxy_yaml = self.dir / "kube-proxy.yaml"
        proxy_yaml.write_text(kube_proxy_config(proxy_kc, self.name, self.proxy_mode))
        self._child("kube-proxy", [str(binaries.kube_proxy), f"--config={proxy_yaml}", "--v=1"])
        self._child("kube-scheduler", [
            str(binaries.kube_scheduler), f"--kubeconfig={scheduler_kc}",
            "--leader-elect=true", "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
            f"--cert-dir={self.dir / 'scheduler-certs'}", "--v=1",
        ], inside=False)
        api = client.CoreV1Api(api_client(plane.kubeconfig))
        self._wait("kubelet", self.children["kubelet"], lambda: self._ready(api),
                   READY_TIMEOUT)
        self._wait("kube-proxy", self.children["kube-proxy"], self._proxy_healthy)

    def _start_policies(self, binary: Path, plane: Plane) -> None:
        """kube-network-policies inside the node; ready once its nfqueue is bound."""
        assert self.dir is not None and self.netns is not None
        assert plane.kubeconfig is not None and plane.pki is not None
        rbac = client.RbacAuthorizationV1Api(api_client(plane.kubeconfig))
        rbac.create_cluster_role(policies.cluster_role(self.name))
        rbac.create_cluster_role_binding(policies.cluster_role_binding(self.name))
        kubeconfig = write_kubeconfig(
            NodeDirs(self.dir).pki / "kube-network-policies.kubeconfig",
            f"https://127.0.0.1:{API_PORT_INSIDE}", plane.pki, policies.rbac_name(self.name))
        child = self._child(policies.PROGRAM, policies.argv(binary, self.name),
                            env={**os.environ, "KUBECONFIG": str(kubeconfig)})
        netns, began = self.netns, time.monotonic()
        self._wait(policies.PROGRAM, child, lambda: policies.queue_bound(
            netns.run("cat", "/proc/net/netfilter/nfnetlink_queue")))
        self._log(f"{policies.PROGRAM} enforcing in {time.monotonic() - began:.1f} s")

    def _ready(self, api: client.CoreV1Api) -> bool:
        try:
            node = api.read_node(self.name)
        except ApiException:
            return False
        return any(c.type == "Ready" and c.status == "True"
                   for c in node.status.conditions or [])

    def _proxy_healthy(self) -> bool:
        assert self.netns is not None
        proc = subprocess.run(self.netns.enter(
            "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:10256/healthz"),
            capture_output=True, text=True)
        return proc.returncode == 0 and "lastUpdated" in proc.stdout

    def _wait(self, name: str, child: Child, ready, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for other in self.children.values():
                if not other.running():
                    raise NodeError(f"{other.name} exited with code "
                                    f"{other.popen.returncode}; its last log lines:\n"
                                    f"{other.log_tail(40)}")
            if time.monotonic() > deadline:
                raise NodeError(f"{name} was not ready after {timeout:g} s; its last log "
                                f"lines:\n{child.log_tail(40)}")
            time.sleep(0.2)

    def _authorize(self, plane: Plane) -> None:
        """Bind the system:nodes group to the system:node role (the API server authorizes
        by RBAC alone, without the Node authorizer)."""
        assert plane.kubeconfig is not None
        rbac = client.RbacAuthorizationV1Api(api_client(plane.kubeconfig))
        body = client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=f"receiver-conformance:{self.name}"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io",
                                      kind="ClusterRole", name="system:node"),
            subjects=[client.RbacV1Subject(kind="User", name=f"system:node:{self.name}",
                                           api_group="rbac.authorization.k8s.io")],
        )
        rbac.create_cluster_role_binding(body)

    def _serve_api_to_pods(self, plane: Plane) -> None:
        """An EndpointSlice of the `kubernetes` Service at the node's API forwarder, so that
        pods reach the API server with their in-cluster configuration."""
        assert plane.kubeconfig is not None
        body = client.V1EndpointSlice(
            metadata=client.V1ObjectMeta(name=f"kubernetes-{self.name}", labels={
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "receiver-conformance"}),
            address_type="IPv4",
            endpoints=[client.V1Endpoint(addresses=[self.node_ip],
                                         conditions=client.V1EndpointConditions(ready=True))],
            ports=[client.DiscoveryV1EndpointPort(name="https", port=API_PORT_INSIDE,
                                                  protocol="TCP")],
        )
        client.DiscoveryV1Api(api_client(plane.kubeconfig)).create_namespaced_endpoint_slice(
            "default", body)

    def _forget(self) -> None:
        """Delete the Node object and its RBAC objects (best effort: the plane may be gone)."""
        kubeconfig = self._plane.kubeconfig
        if kubeconfig is None or not Path(kubeconfig).exists():
            return
        api = api_client(kubeconfig)
        api.configuration.retries = 0
        with contextlib.suppress(Exception):
            client.CoreV1Api(api).delete_node(self.name, _request_timeout=5)
        with contextlib.suppress(Exception):
            client.DiscoveryV1Api(api).delete_namespaced_endpoint_slice(
                f"kubernetes-{self.name}", "default", _request_timeout=5)
        rbac = client.RbacAuthorizationV1Api(api)
        enforcer = policies.rbac_name(self.name)
        node_binding = f"receiver-conformance:{self.name}"
        for delete, name in ((rbac.delete_cluster_role_binding, node_binding),
                             (rbac.delete_cluster_role_binding, enforcer),
                             (rbac.delete_cluster_role, enforcer)):
            with contextlib.suppress(Exception):
                delete(name, _request_timeout=5)


def rss_kib(pids: list[int]) -> dict[int, int]:
    """Resident set size of each pid in KiB (for measurements)."""
    sizes = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1])
    return sizes

