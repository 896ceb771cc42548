"""Find kube-apiserver, etcd, kube-controller-manager and kubectl, or build them from their
Go modules.

Lookup order:
1. `KUBEBUILDER_ASSETS` (the envtest convention): a directory holding prebuilt binaries
   (kube-controller-manager included: envtest's own set lacks it).
2. The cache `${XDG_CACHE_HOME:-~/.cache}/receiver-conformance/k8s/<version>/`.
3. A build with the local Go toolchain into that cache, through a throwaway wrapper module
   that pins k8s.io/kubernetes, its staging modules and etcd to one release each
   (`receiver_conformance.gobuild` holds the lock and moves each finished binary into place).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    cache_root,
    executable,
    find_go,
    go_env,
    install,
    locked,
    provision_main,
    run,
    stderr_log,
)

REQUIRED = ("kube-apiserver", "etcd", "kube-controller-manager")
OPTIONAL = ("kubectl",)
# The node's binaries (receiver_conformance.node), built on demand only: `build_binaries(names=NODE)`.
NODE = ("kubelet", "kube-proxy", "kube-scheduler")
# What kind's node image needs besides (receiver_conformance.kind), built on demand only.
KIND_NODE = ("kubeadm",)

# Go packages of each binary, built inside the wrapper module.
PACKAGES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    "kubelet": "k8s.io/kubernetes/cmd/kubelet",
    "kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kubeadm": "k8s.io/kubernetes/cmd/kubeadm",
}

WAYS_OUT = (
    "set KUBEBUILDER_ASSETS to a directory holding kube-apiserver, etcd and "
    "kube-controller-manager, "
    "install Go (1.26 or later) so they can be built, "
    "or use another target (--target kind --kind-images pulled, or --target external)"
)



class BinariesNotFound(Exception):
    """No usable control-plane binaries, and no way to build them."""


@dataclass(frozen=True)
class Binaries:
    """Paths of the control-plane binaries."""

    kube_apiserver: Path
    etcd: Path
    kube_controller_manager: Path
    kubectl: Path | None
    source: str  # "KUBEBUILDER_ASSETS", "cache" or "build"

    def describe(self) -> str:
        """Where the binaries come from, without a path of this machine (reports show it)."""
        if self.source == "KUBEBUILDER_ASSETS":
            return "kube-apiserver and etcd from KUBEBUILDER_ASSETS"
        return (f"kube-apiserver {versions.KUBERNETES} and etcd {versions.ETCD}, "
                "built from their Go modules")


_stderr = stderr_log("control-plane")


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The cache directory for the pinned Kubernetes release."""
    return cache_root(env) / "k8s" / versions.KUBERNETES


def _from_dir(directory: Path, source: str) -> Binaries | None:
    if not all(executable(directory / name) for name in REQUIRED):
        return None
    kubectl = directory / "kubectl"
    return Binaries(
        kube_apiserver=directory / "kube-apiserver",
        etcd=directory / "etcd",
        kube_controller_manager=directory / "kube-controller-manager",
        kubectl=kubectl if executable(kubectl) else None,
        source=source,
    )


def find_binaries(env: Mapping[str, str] | None = None) -> Binaries | None:
    """Return prebuilt binaries from KUBEBUILDER_ASSETS or the cache, or None.

    A KUBEBUILDER_ASSETS that is set but lacks a binary is an error, not a fallback:
    the user asked for those binaries.
    """
    env = os.environ if env is None else env
    assets = env.get("KUBEBUILDER_ASSETS")
    if assets:
        found = _from_dir(Path(assets), "KUBEBUILDER_ASSETS")
        if found is None:
            missing = [n for n in REQUIRED if not executable(Path(assets) / n)]
            raise BinariesNotFound(
                f"KUBEBUILDER_ASSETS={assets} has no executable {', '.join(missing)}; "
                f"{WAYS_OUT}"
            )
        return found
    return _from_dir(cache_dir(env), "cache")


def ensure_binaries(
    env: Mapping[str, str] | None = None, go: str | None = None, log: Log = _stderr
) -> Binaries:
    """Return the binaries, building them into the cache when needed."""
    env = os.environ if env is None else env
    found = find_binaries(env)
    if found is not None:
        return found
    go_path = go or find_go(env)
    if not go_path:
        raise BinariesNotFound(f"no kube-apiserver/etcd found and no Go toolchain; {WAYS_OUT}")
    return build_binaries(cache_dir(env), go_path, env=env, log=log)


def wrapper_go_mod(kubernetes_go_mod: str) -> str:
    """The wrapper module's go.mod: Kubernetes, its staging modules and etcd, pinned."""
    staging = sorted(
        line.split()[0]
        for line in kubernetes_go_mod.splitlines()
        if "=> ./staging/src/" in line and line.split()[0].startswith("k8s.io/")
    )
    lines = [
        "module receiver-conformance.local/k8s-binaries",
        "",
        f"go {_go_directive(kubernetes_go_mod)}",
        "",
        "require (",
        f"\tk8s.io/kubernetes {versions.KUBERNETES}",
        f"\tgo.etcd.io/etcd/server/v3 {versions.ETCD}",
        ")",
        "",
    ]
    lines += [f"replace {m} => {m} {versions.KUBERNETES_STAGING}" for m in staging]
    return "\n".join(lines) + "\n"


def _go_directive(go_mod: str) -> str:
    for line in go_mod.splitlines():
        if line.startswith("go "):
            return line.split()[1]
    return "1.26.0"


TOOLS_GO = """//go:build tools

// Package tools pins the control-plane binaries this module builds.
package tools

import (
{imports})
"""


def _ldflags() -> str:
    major, minor = versions.KUBERNETES.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={versions.KUBERNETES}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def build_binaries(
    dest: Path,
    go: str,
    env: Mapping[str, str] | None = None,
    names: tuple[str, ...] = REQUIRED + OPTIONAL,
    log: Log = _stderr,
) -> Binaries:
    """Build the binaries into `dest`, resuming whatever an earlier run left."""
    env_ = go_env(env)
    with locked(dest, log):
        done = _from_dir(dest, "cache")
        missing = [n for n in names if not executable(dest / n)]
        if done is not None and not missing:
            return done
        started = time.monotonic()
        log(f"building {', '.join(missing)} (Kubernetes {versions.KUBERNETES}, "
            f"etcd {versions.ETCD}) into {dest}; this takes several minutes, once")
        work = dest / ".work"
        work.mkdir(exist_ok=True)
        info = json.loads(run(
            [go, "mod", "download", "-json", f"k8s.io/kubernetes@{versions.KUBERNETES}"],
            work, env_, log,
        ))
        go_mod = Path(info["GoMod"]).read_text()
        (work / "go.mod").write_text(wrapper_go_mod(go_mod))
        imports = "".join(f'\t_ "{PACKAGES[n]}"\n' for n in missing)
        (work / "tools.go").write_text(TOOLS_GO.format(imports=imports))
        run([go, "mod", "tidy"], work, env_, log)
        out = work / "bin"
        out.mkdir(exist_ok=True)
        for name in missing:
            log(f"compiling {name}")
            target = out / name
            run(
                [go, "build", "-trimpath", "-ldflags", _ldflags(), "-o", str(target),
                 PACKAGES[name]],
                work, env_, log,
            )
            install(target, dest / name)
        (dest / "BUILD-INFO").write_text(
            f"kubernetes {versions.KUBERNETES}\netcd {versions.ETCD}\n"
            f"go {run([go, 'env', 'GOVERSION'], work, env_, lambda _: None).strip()}\n"
        )
        shutil.rmtree(work, ignore_errors=True)
        log(f"built in {time.monotonic() - started:.0f} s")
        built = _from_dir(dest, "build")
        assert built is not None
        return built


def main() -> int:
    """`python -m receiver_conformance.controlplane.binaries`: make sure the binaries exist; print them."""

    def paths() -> list[Path | None]:
        found = ensure_binaries()
        return [found.kube_apiserver, found.etcd, found.kube_controller_manager, found.kubectl]

    return provision_main(paths, (BinariesNotFound, BuildFailed))


if __name__ == "__main__":
    sys.exit(main())
