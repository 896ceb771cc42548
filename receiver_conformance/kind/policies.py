"""NetworkPolicy on kind built here: the node target's kube-network-policies (its pinned module
with our NFQUEUE patch, `receiver_conformance.node.policies`) as a DaemonSet on the node.

kindnet enforces NetworkPolicy with the same library, but its module is not served by the Go
proxy, and its nftables `queue` expression is what this kernel lacks. So the cluster runs
without kindnet, and this program, in a one-binary image built here, watches the policies
from a pod in the node's network namespace (`hostNetwork`), with a ServiceAccount allowed
only what it reads and the Events it records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client

from receiver_conformance import versions
from receiver_conformance.gobuild import Log, stderr_log
from receiver_conformance.node import policies
from receiver_conformance.node.images import REGISTRY, Image, binary_archive

NAME = policies.PROGRAM
NAMESPACE = "kube-system"
LABELS = {"app": NAME}

_stderr = stderr_log("kind")


def enforcer_archive(log: Log = _stderr) -> tuple[Path, Image]:
    """The patched binary (built once) in a one-binary image archive."""
    binary = policies.ensure_binary(log=log)
    image = Image(f"{REGISTRY}/{NAME}:{versions.KUBE_NETWORK_POLICIES[1]}",
                  (f"/{binary.name}",), ())
    return binary_archive(binary, image), image


def enforcer_objects(image: str) -> list[dict[str, Any]]:
    """Its ServiceAccount, ClusterRole, ClusterRoleBinding and DaemonSet."""
    role = client.ApiClient().sanitize_for_serialization(policies.cluster_role(NAME))
    role["metadata"] = {"name": NAME}
    flags = policies.argv(Path(NAME), "$(NODE_NAME)")[1:]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": NAME, "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", **role},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": NAME},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
         "spec": {
             "selector": {"matchLabels": LABELS},
             "template": {
                 "metadata": {"labels": LABELS},
                 "spec": {
                     "hostNetwork": True,
                     "serviceAccountName": NAME,
                     "tolerations": [{"operator": "Exists"}],
                     "containers": [{
                         "name": NAME, "image": image, "imagePullPolicy": "Never",
                         "args": flags,
                         "env": [{"name": "NODE_NAME", "valueFrom": {
                             "fieldRef": {"fieldPath": "spec.nodeName"}}}],
                         # nftables rules and a netlink queue in the node's namespace
                         "securityContext": {"privileged": True},
                     }],
                 },
             },
         }},
    ]
