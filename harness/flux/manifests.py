"""Flux's own install objects for the receiver, from the pinned modules, for the `flux` target.

notification-controller's Deployment and Services (its module's `config/manager`) and Flux's
default NetworkPolicies (fluxcd/flux2's `manifests/policies`) are applied to `flux-system`,
so the exposure and network-policy scenarios inspect what Flux really installs. The
controller itself runs as a process (`harness.flux.controllers`); the Deployment's pods stay
Pending, as no node runs them here.
"""

from __future__ import annotations

from pathlib import Path

from harness import versions
from harness.gobuild import BuildFailed, download, find_go, go_env, stderr_log
from harness.kube import Kube, load_manifests

FLUX_DISTRIBUTION = ("github.com/fluxcd/flux2/v2", versions.FLUX_RELEASE)
POLICIES = (FLUX_DISTRIBUTION, "manifests/policies",
            ("allow-egress.yaml", "allow-scraping.yaml", "allow-webhooks.yaml"))
SOURCES = (
    (versions.FLUX_MODULES["notification-controller"], "config/manager",
     ("deployment.yaml", "service.yaml")),
    POLICIES,
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
