"""The programs a kind cluster built here needs: kind itself and CoreDNS, each from its Go
module at the pinned version; pause, compiled from the C source in the Kubernetes module
(build/pause); kubeadm, kubelet and kube-proxy in the Kubernetes cache, built as the control
plane's binaries are. Built into the cache once.

    python -m receiver_conformance.kind.binary   # builds them, prints their paths
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.controlplane import binaries as k8s
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    build_module,
    cache_root,
    download,
    executable,
    find_go,
    go_env,
    locked,
    provision_main,
    stderr_log,
)

_stderr = stderr_log("kind")


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return cache_root(env) / "kind" / "bin"


def _go(env: Mapping[str, str] | None, what: str) -> str:
    go = find_go(env)
    if not go:
        raise BuildFailed(f"{what} is not built and there is no Go toolchain to build it; "
                          "install Go (1.26 or later)")
    return go


def _module_program(module: tuple[str, str], program: str, package: str,
                    env: Mapping[str, str] | None, log: Log) -> Path:
    name, version = module
    directory = cache_dir(env) / f"{program}-{version}"
    binary = directory / program
    if executable(binary):
        return binary
    go = _go(env, program)
    with locked(directory, log):
        if not executable(binary):
            build_module(go, name, version, {program: package}, directory, directory / ".work",
                         go_env(env, CGO_ENABLED="0"), log)
    return binary


def ensure_kind(env: Mapping[str, str] | None = None, log: Log = _stderr) -> Path:
    """kind at versions.KIND_MODULE (under a minute, once)."""
    return _module_program(versions.KIND_MODULE, "kind", ".", env, log)


def ensure_coredns(env: Mapping[str, str] | None = None, log: Log = _stderr) -> Path:
    """CoreDNS at versions.COREDNS (a few minutes, once)."""
    return _module_program(versions.COREDNS, "coredns", ".", env, log)


def ensure_pause(env: Mapping[str, str] | None = None, log: Log = _stderr) -> Path:
    """pause, statically linked from the Kubernetes module's build/pause/linux/pause.c."""
    directory = cache_dir(env) / f"pause-{versions.PAUSE}"
    binary = directory / "pause"
    if executable(binary):
        return binary
    go = _go(env, "pause")
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise BuildFailed("pause is compiled from C: install gcc (apt-get install gcc libc6-dev)")
    with locked(directory, log):
        if not executable(binary):
            info = download(go, "k8s.io/kubernetes", versions.KUBERNETES, go_env(env), log,
                            cwd=directory)
            source = Path(info["Dir"]) / "build" / "pause" / "linux" / "pause.c"
            log(f"compiling pause {versions.PAUSE} from {source.name}")
            proc = subprocess.run(
                [compiler, "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{versions.PAUSE}",
                 "-o", str(binary), str(source)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise BuildFailed(f"compiling pause failed: {proc.stderr.strip()}")
    return binary


def ensure_kubernetes(env: Mapping[str, str] | None = None, log: Log = _stderr) -> Path:
    """The Kubernetes cache with what a kind node needs besides the control plane's own
    binaries: kubelet, kube-proxy (the node's) and kubeadm, built there first when needed."""
    directory = k8s.cache_dir(env)
    wanted = (*k8s.REQUIRED, *k8s.OPTIONAL, *k8s.NODE, *k8s.KIND_NODE)
    missing = tuple(name for name in wanted if not executable(directory / name))
    if missing:
        k8s.build_binaries(directory, _go(env, ", ".join(missing)), env=env, names=missing,
                           log=log)
    return directory


def main() -> int:
    """`python -m receiver_conformance.kind.binary`: make sure they exist; print them."""
    return provision_main(lambda: [ensure_kind(), ensure_coredns(), ensure_pause(),
                                   ensure_kubernetes()], (BuildFailed,))


if __name__ == "__main__":
    sys.exit(main())
