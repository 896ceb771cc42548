"""Every pinned version of an outside component, in one place."""

# Kubernetes server binaries built from their Go modules (see harness/binaries.py).
KUBERNETES = "v1.37.2"
# The staging modules (k8s.io/api, ...) carry the same release as v0.<minor>.<patch>.
KUBERNETES_STAGING = "v0" + KUBERNETES[2:]
# The etcd release that Kubernetes KUBERNETES requires.
ETCD = "v3.7.0"
