"""NetworkPolicy on the node: kube-network-policies, built from its pinned Go module with our
patch (`patches/kube-network-policies.patch`), its RBAC and its command line.

The patch makes two changes: packets go to userspace through iptables' NFQUEUE target
(xt_NFQUEUE, through nft_compat) instead of nftables' own `queue` expression, which this
kernel lacks; and the program reads `$KUBECONFIG` (it only knew the in-cluster config).
Its rules live in the nft table `inet kube-network-policies` of the node's network
namespace, and go with it.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path

from kubernetes import client

from receiver_conformance import versions
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    build_module,
    cache_root,
    executable,
    find_go,
    go_env,
    locked,
    stderr_log,
)

PATCH = Path(__file__).parent / "patches" / "kube-network-policies.patch"
PROGRAM = "kube-network-policies"
TABLE = "kube-network-policies"  # nft table (family inet) the program owns
POD_SET = "podips-v4"  # the set of local pod addresses some policy selects
QUEUE = 100  # its NFQUEUE number

_stderr = stderr_log("node")


class PoliciesNotBuilt(Exception):
    """kube-network-policies is not built and cannot be."""


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """One directory per pinned version and patch: a changed patch builds anew."""
    _, version = versions.KUBE_NETWORK_POLICIES
    digest = hashlib.sha256(PATCH.read_bytes()).hexdigest()[:12]
    return cache_root(env) / PROGRAM / f"{version}-{digest}"


def ensure_binary(env: Mapping[str, str] | None = None, log: Log = _stderr) -> Path:
    """The patched binary, built into the cache first when needed (minutes, once)."""
    directory = cache_dir(env)
    binary = directory / PROGRAM
    if executable(binary):
        return binary
    go = find_go(env)
    if not go:
        raise PoliciesNotBuilt(f"{binary} is not built and there is no Go toolchain to build "
                               "it; install Go (1.26 or later)")
    module, version = versions.KUBE_NETWORK_POLICIES
    with locked(directory, log):
        if not executable(binary):
            build_module(go, module, version, {PROGRAM: "./cmd"}, directory,
                         directory / ".work", go_env(env), log, patches=[PATCH])
    return binary


def argv(binary: Path, node_name: str) -> list[str]:
    """Its command line on a node (kernel 6.12+: no DNS conntrack workaround needed)."""
    return [str(binary), f"--hostname-override={node_name}", f"--nfqueue-id={QUEUE}",
            "--metrics-bind-address=127.0.0.1:9080", "--netfilter-bug-1766-fix=false",
            "--v=1"]


def rbac_name(node_name: str) -> str:
    """Its user, ClusterRole and ClusterRoleBinding on node `node_name`."""
    return f"receiver-conformance:{node_name}:{PROGRAM}"


def cluster_role(node_name: str) -> client.V1ClusterRole:
    """What it reads (policies, pods, namespaces, nodes) and the Events it records."""
    read = ["get", "list", "watch"]
    return client.V1ClusterRole(
        metadata=client.V1ObjectMeta(name=rbac_name(node_name)),
        rules=[
            client.V1PolicyRule(api_groups=[""], resources=["pods", "namespaces", "nodes"],
                                verbs=read),
            client.V1PolicyRule(api_groups=["networking.k8s.io"],
                                resources=["networkpolicies"], verbs=read),
            client.V1PolicyRule(api_groups=["", "events.k8s.io"], resources=["events"],
                                verbs=["create", "patch", "update"]),
        ],
    )


def cluster_role_binding(node_name: str) -> client.V1ClusterRoleBinding:
    name = rbac_name(node_name)
    return client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=name),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                  name=name),
        subjects=[client.RbacV1Subject(kind="User", name=name,
                                       api_group="rbac.authorization.k8s.io")],
    )


def queue_bound(proc_net_queue: str) -> bool:
    """Whether /proc/net/netfilter/nfnetlink_queue (read inside the node) shows QUEUE bound."""
    return any(line.split()[:1] == [str(QUEUE)] for line in proc_net_queue.splitlines())


def set_ips(nft_set: str) -> set[str]:
    """The addresses in the `elements = { ... }` of `nft list set` output."""
    _, found, rest = nft_set.partition("elements = {")
    if not found:
        return set()
    return {e.strip() for e in rest.split("}", 1)[0].replace("\n", " ").split(",") if e.strip()}


def main() -> int:
    """`python -m receiver_conformance.node.policies`: make sure the binary exists; print it."""
    try:
        print(ensure_binary())
    except (PoliciesNotBuilt, BuildFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
