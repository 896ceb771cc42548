"""Flux's own install objects for the receiver, from the pinned modules.

For the `flux` target, notification-controller's Deployment and Services (its module's
`config/manager`) and Flux's default NetworkPolicies (fluxcd/flux2's `manifests/policies`)
are applied to `flux-system`, so the exposure and network-policy scenarios inspect what Flux
really installs. The controller itself runs as a process (`receiver_conformance.flux.controllers`); the
Deployment's pods stay Pending, as no node runs them there. On the `node` target,
`receiver_objects` gives the same Deployment and Services with what fluxcd/flux2 adds to run
them: the ServiceAccount `notification-controller` (`manifests/bases/notification-controller`,
whose patch names it in the Deployment) and the ClusterRole `crd-controller` with its binding
(`manifests/rbac/controller.yaml`), so that the pod runs as `flux install` deploys it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from receiver_conformance import versions
from receiver_conformance.gobuild import BuildFailed, download, find_go, go_env, stderr_log
from receiver_conformance.kube import CLUSTER_SCOPED, Kube, load_manifests

FLUX_DISTRIBUTION = ("github.com/fluxcd/flux2/v2", versions.FLUX_RELEASE)
POLICIES = (FLUX_DISTRIBUTION, "manifests/policies",
            ("allow-egress.yaml", "allow-scraping.yaml", "allow-webhooks.yaml"))
SOURCES = (
    (versions.FLUX_MODULES["notification-controller"], "config/manager",
     ("deployment.yaml", "service.yaml")),
    POLICIES,
)


RECEIVER_MODULE = versions.FLUX_MODULES["notification-controller"][0]
RECEIVER_ACCOUNT = "notification-controller"
# What the distribution adds to the controller's own objects: its ServiceAccount, and the
# ClusterRole every Flux controller is bound to (the toolkit's groups, leases, events, ...).
RECEIVER_INSTALL = (
    (FLUX_DISTRIBUTION, "manifests/bases/notification-controller", ("account.yaml",)),
    (FLUX_DISTRIBUTION, "manifests/rbac", ("controller.yaml",)),
)


class ManifestsNotFound(Exception):
    """A module holding Flux's install objects cannot be downloaded."""


def manifest_files(sources: tuple = SOURCES) -> list[Path]:
    """The files, in the Go module cache (downloaded when needed)."""
    go = find_go()
    if go is None:
        raise ManifestsNotFound("no Go toolchain to download Flux's install manifests")
    files = []
    for (module, version), directory, names in sources:
        try:
            info = download(go, module, version, go_env(), stderr_log("flux"), cwd=Path.cwd())
        except BuildFailed as err:
            raise ManifestsNotFound(str(err)) from None
        files += [Path(info["Dir"]) / directory / name for name in names]
    return files


def policy_files() -> list[Path]:
    """Flux's default NetworkPolicies (allow-egress, allow-scraping, allow-webhooks)."""
    return manifest_files((POLICIES,))


def install(kube: Kube, namespace: str) -> list[str]:
    """Apply the objects to `namespace`; return 'Kind/name' of each."""
    applied = []
    for path in manifest_files():
        for doc in load_manifests(path):
            kube.apply(doc, namespace)
            applied.append(f"{doc['kind']}/{doc['metadata']['name']}")
    return applied


def receiver_objects(version: str, namespace: str) -> list[dict[str, Any]]:
    """notification-controller `version`'s Deployment and Services (its module's
    `config/manager`) with the pinned Flux release's ServiceAccount and RBAC for it, in
    `namespace`, the Deployment running as that ServiceAccount (flux2's patch)."""
    module = (RECEIVER_MODULE, version)
    files = manifest_files(((module, "config/manager", ("deployment.yaml", "service.yaml")),
                            *RECEIVER_INSTALL))
    docs = [doc for path in files for doc in load_manifests(path)]
    for doc in docs:
        if doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["serviceAccountName"] = RECEIVER_ACCOUNT
        for subject in doc.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = namespace
    return docs
