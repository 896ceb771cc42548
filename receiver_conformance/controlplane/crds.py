"""Flux's and Gateway API's real CRDs, taken from their pinned Go modules at provision time.

Nothing is written by hand or committed: each module of `versions.FLUX_MODULES` and
`versions.GATEWAY_API` is downloaded with `go mod download` (the module proxy), and its
`config/crd/bases` (Gateway API: `config/crd/standard`) is copied into the cache
`${XDG_CACHE_HOME:-~/.cache}/receiver-conformance/crds/<flux>-gateway-api-<version>/`, so a
later run needs neither Go nor the network.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    cache_root,
    download,
    find_go,
    go_env,
    locked,
    provision_main,
    stderr_log,
)

# Where each module keeps its CRDs.
CRD_DIRS = {"sigs.k8s.io/gateway-api": "config/crd/standard"}
DEFAULT_CRD_DIR = "config/crd/bases"
COMPLETE = ".complete"


class CRDsNotFound(Exception):
    """The CRDs are not cached and cannot be downloaded."""


def modules() -> list[tuple[str, str]]:
    """Every (module, version) whose CRDs the control plane installs."""
    return [*versions.FLUX_MODULES.values(), versions.GATEWAY_API]


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    gateway = versions.GATEWAY_API[1]
    return cache_root(env) / "crds" / f"flux-{versions.FLUX_RELEASE}-gateway-api-{gateway}"


def ensure_crds(env: Mapping[str, str] | None = None, go: str | None = None,
                log: Log | None = None) -> Path:
    """The directory holding every CRD file, downloading the modules the first time."""
    log = log or stderr_log("crds")
    dest = cache_dir(env)
    if (dest / COMPLETE).exists():
        return dest
    go_path = go or find_go(env)
    if not go_path:
        raise CRDsNotFound(
            f"Flux's CRDs are not cached in {dest} and there is no Go toolchain to download "
            "their modules; install Go (1.26 or later)")
    with locked(dest, log):
        if (dest / COMPLETE).exists():
            return dest
        for module, version in modules():
            _copy_module_crds(go_path, module, version, dest, env, log)
        (dest / COMPLETE).write_text("\n".join(f"{m} {v}" for m, v in modules()) + "\n")
    return dest


def ensure_module_crds(module: str, version: str, env: Mapping[str, str] | None = None,
                       go: str | None = None, log: Log | None = None) -> Path:
    """The CRDs of one module at `version` (another release than the pinned set's, e.g. for
    the release matrix), in their own cache folder."""
    log = log or stderr_log("crds")
    dest = cache_root(env) / "crds" / f"{module.rsplit('/', 1)[-1]}-{version}"
    if (dest / COMPLETE).exists():
        return dest
    go_path = go or find_go(env)
    if not go_path:
        raise CRDsNotFound(f"the CRDs of {module}@{version} are not cached in {dest} and there "
                           "is no Go toolchain to download them; install Go (1.26 or later)")
    with locked(dest, log):
        if not (dest / COMPLETE).exists():
            _copy_module_crds(go_path, module, version, dest, env, log)
            (dest / COMPLETE).write_text(f"{module} {version}\n")
    return dest


def _copy_module_crds(go: str, module: str, version: str, dest: Path,
                      env: Mapping[str, str] | None, log: Log) -> None:
    try:
        info = download(go, module, version, go_env(env, GONOSUMDB=versions.GONOSUMDB), log,
                        cwd=dest)
    except BuildFailed as err:
        raise CRDsNotFound(str(err)) from None
    source = Path(info["Dir"]) / CRD_DIRS.get(module, DEFAULT_CRD_DIR)
    files = sorted(p for p in source.glob("*.yaml") if p.name != "kustomization.yaml")
    if not files:
        raise CRDsNotFound(f"{module}@{version} has no CRDs in {source}")
    for path in files:
        shutil.copyfile(path, dest / path.name)


def crd_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def main() -> int:
    """`python -m receiver_conformance.controlplane.crds`: make sure the CRDs are cached; print where."""
    return provision_main(lambda: [ensure_crds()], (CRDsNotFound,))


if __name__ == "__main__":
    sys.exit(main())
