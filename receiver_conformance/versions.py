"""Every pinned version of an outside component, in one place."""

# Kubernetes server binaries built from their Go modules (see receiver_conformance/binaries.py).
KUBERNETES = "v1.37.2"
# The staging modules (k8s.io/api, ...) carry the same release as v0.<minor>.<patch>.
KUBERNETES_STAGING = "v0" + KUBERNETES[2:]
# The etcd release that Kubernetes KUBERNETES requires.
ETCD = "v3.7.0"
# A node (receiver_conformance/node) builds kubelet, kube-proxy and kube-scheduler at KUBERNETES too; its
# containerd (1.6), runc, CNI plugins and busybox are the host's Debian packages, checked by
# receiver_conformance/node/packages.py (the pods' image is tagged with busybox's version).
# NetworkPolicy on the node: kube-network-policies, built from its module with our patch
# (receiver_conformance/node/patches/); v0.8.0 is the newest the module proxy serves.
KUBE_NETWORK_POLICIES = ("sigs.k8s.io/kube-network-policies", "v0.8.0")
# The node's edge (receiver_conformance/node/edge.py): Traefik for Ingress and Gateway API, MetalLB's
# controller for LoadBalancer addresses, each built from its Go module. Traefik v3.6 is the
# newest line on Gateway API v1.4 (GATEWAY_API); v3.7 watches v1.5's TLSRoute, which the
# control plane does not install, and its nested module dynamic/ext is not served.
TRAEFIK = ("github.com/traefik/traefik/v3", "v3.6.12")
METALLB = ("go.universe.tf/metallb", "v0.16.2")
# MetalLB v0.16.2 requires metallb/frr-k8s v0.0.27 (refused by the module proxy); v0.0.26
# builds its controller with our patch (receiver_conformance/node/patches/metallb.patch: v0.0.26 lacks
# the speaker's AS-path prepend).
METALLB_BUILD_REPLACES = {"github.com/metallb/frr-k8s": "v0.0.26"}
# The reference receiver's image for the node (receiver_conformance/node/reference_image.py): a Debian
# root filesystem of this suite (its python3 is 3.11, as the project's), by debootstrap.
DEBIAN_SUITE = "bookworm"

# --- Flux: one release's set of controllers, as fluxcd/flux2's go.mod at that tag requires
# them (the modules' `config/crd/bases` give the CRDs; the controllers are built from them).
# v2.9.4 is the newest release whose notification-controller the module proxy serves
# (v2.9.5's v1.9.4 is refused).
FLUX_RELEASE = "v2.9.4"
FLUX_MODULES = {
    "source-controller": ("github.com/fluxcd/source-controller", "v1.9.4"),
    "kustomize-controller": ("github.com/fluxcd/kustomize-controller", "v1.9.4"),
    "helm-controller": ("github.com/fluxcd/helm-controller", "v1.6.3"),
    "notification-controller": ("github.com/fluxcd/notification-controller", "v1.9.3"),
    "image-reflector-controller": ("github.com/fluxcd/image-reflector-controller", "v1.2.4"),
    "image-automation-controller": ("github.com/fluxcd/image-automation-controller", "v1.2.4"),
    "source-watcher": ("github.com/fluxcd/source-watcher/v2", "v2.2.3"),
}
# Our build patches: dependency versions the module proxy refuses, replaced by the nearest
# one it serves (controller -> {module: version}).
FLUX_BUILD_REPLACES = {
    # source-controller v1.9.4 requires fluxcd/pkg/artifact v0.18.2 (refused); v0.18.0 builds.
    "source-controller": {"github.com/fluxcd/pkg/artifact": "v0.18.0"},
}
# The notification-controller releases of the release matrix (`make matrix`), each with the
# Flux release that shipped it; the last is FLUX_MODULES'. The module proxy refuses the others
# tried (v1.3.0, v1.4.0, v1.7.0-v1.7.5, v1.8.0-v1.8.4, v1.9.1); v1.9.0 is unknown to the
# checksum database.
NOTIFICATION_RELEASES = {"v1.5.0": "v2.5.0", "v1.6.0": "v2.6.0", "v1.9.2": "v2.9.3",
                         "v1.9.3": FLUX_RELEASE}
# Modules the checksum database does not know; fetched from the proxy unverified.
GONOSUMDB = "github.com/fluxcd/source-watcher"
# Gateway API's standard channel CRDs (Gateway, GatewayClass, HTTPRoute, ...).
GATEWAY_API = ("sigs.k8s.io/gateway-api", "v1.4.0")

# --- the kind target (receiver_conformance/targets/kind.py, fixtures/kind/, ci/github/)
# kind release and the node image it was released with (tag and digest from that release).
KIND = "v0.32.0"
KIND_NODE_IMAGE = (
    "kindest/node:v1.36.1"
    "@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
)
# kind built here (receiver_conformance/kind/): kind itself from its Go module, and what its
# node image holds besides Kubernetes' own binaries, at the versions kubeadm KUBERNETES asks
# for (cmd/kubeadm/app/constants): CoreDNS from its module, pause from the Kubernetes
# module's build/pause. The registry plan above moves to these when the target does.
KIND_MODULE = ("sigs.k8s.io/kind", "v0.33.0")
COREDNS = ("github.com/coredns/coredns", "v1.14.6")
PAUSE = "3.10.2"
# LoadBalancer addresses for kind, run as a container next to the cluster.
CLOUD_PROVIDER_KIND = "v0.11.1"
CLOUD_PROVIDER_KIND_IMAGE = (
    "registry.k8s.io/cloud-provider-kind/cloud-controller-manager:" + CLOUD_PROVIDER_KIND
)
# In-cluster Ingress controller (its kind provider manifest) and Gateway API implementation.
INGRESS_NGINX = "controller-v1.12.1"
ENVOY_GATEWAY = "v1.9.1"
# Flux, when the kind target runs Flux's own notification-controller instead of the reference.
FLUX = FLUX_RELEASE
# Probe pods of the traffic scenarios (receiver_conformance/traffic.py): a curl client and a busybox httpd
# standing in for cert-manager's HTTP-01 solver.
PROBE_IMAGE = "curlimages/curl:8.13.0"
SOLVER_IMAGE = "busybox:1.37.0"

# Suite versions whose conformance reports may be published (`report check` refuses others).
REPORTING_SUITE_VERSIONS = ("0.2.0",)
