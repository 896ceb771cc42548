"""The node's configuration files: containerd, CNI, kubelet, kube-proxy, and kubeconfigs
with identities issued by the control plane's CA."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from receiver_conformance.controlplane.pki import ControlPlanePKI, issue, load_ca
from receiver_conformance.node.packages import CNI_BIN_DIR

POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
CNI_NETWORK = "rc-node"


@dataclass(frozen=True)
class NodeDirs:
    """Where a node keeps its state, all under one temporary directory."""

    root: Path

    @property
    def containerd(self) -> Path:
        return self.root / "containerd"

    @property
    def socket(self) -> Path:
        return self.containerd / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet(self) -> Path:
        return self.root / "kubelet"

    @property
    def pki(self) -> Path:
        return self.root / "pki"


def containerd_toml(dirs: NodeDirs, sandbox_image: str) -> str:
    """containerd 1.6 (config version 2): own root, state and socket; CRI on runc, cgroupfs."""
    c = dirs.containerd
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{c / 'root'}"
state = "{c / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{dirs.socket}"

[ttrpc]
  address = "{c / 'containerd.ttrpc.sock'}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{c / 'opt'}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{c / 'runc'}"

[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{dirs.cni_conf}"
  max_conf_num = 1
"""


def cni_conflist(dirs: NodeDirs) -> str:
    """A bridge `cni0` with host-local addresses from POD_CIDR, the node as gateway."""
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [{
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": POD_CIDR}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(dirs.root / "cni" / "ipam"),
            },
        }],
    }, indent=2)


def kubelet_config(dirs: NodeDirs, node_ip: str, cgroup_root: str, ca_cert: Path) -> str:
    """KubeletConfiguration: cgroup v1 with cgroupfs under `cgroup_root`, no eviction or image
    GC (the host's disk is not the node's business), anonymous read of its API."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "containerRuntimeEndpoint": f"unix://{dirs.socket}",
        "address": node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_cert)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "podCIDR": POD_CIDR,
        "failSwapOn": False,
        "resolvConf": "",
        "clusterDomain": "cluster.local",
        "maxPods": 50,
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "0%",
                         "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": True,
        "localStorageCapacityIsolation": False,
        "registerNode": True,
        "volumeStatsAggPeriod": "0s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def kube_proxy_config(kubeconfig: Path, node_name: str, mode: str) -> str:
    """KubeProxyConfiguration: `mode` (iptables or nftables), conntrack sysctls left alone
    (the global ones cannot be set from a network namespace)."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": node_name,
        "mode": mode,
        "clusterCIDR": CLUSTER_CIDR,
        "nodePortAddresses": ["primary"],  # the node's address on the veth
        "bindAddress": "0.0.0.0",
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
    }
    return yaml.safe_dump(config, sort_keys=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(path: Path, server: str, pki: ControlPlanePKI, user: str,
                     group: str | None = None) -> Path:
    """A kubeconfig for `user` (in `group`), its client certificate issued by the CA."""
    ca, ca_key = load_ca(pki)
    pair = issue(ca, ca_key, user, organization=group, client=True)
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "embedded",
                      "cluster": {"server": server, "certificate-authority-data": _b64(ca.cert)}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(pair.cert),
                                          "client-key-data": _b64(pair.key)}}],
        "contexts": [{"name": "embedded", "context": {"cluster": "embedded", "user": user}}],
        "current-context": "embedded",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path
