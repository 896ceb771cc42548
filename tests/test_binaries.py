"""Finding and building the control-plane binaries."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from receiver_conformance import gobuild, versions
from receiver_conformance.controlplane import binaries
from receiver_conformance.controlplane.binaries import (
    BinariesNotFound,
    find_binaries,
    wrapper_go_mod,
)
from tests.checkout import REPO_ROOT


def make_fake(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return directory


SERVER = ("kube-apiserver", "etcd", "kube-controller-manager")


@pytest.mark.parametrize(
    ("assets", "cache", "expected"),
    [
        ((*SERVER, "kubectl"), SERVER, "KUBEBUILDER_ASSETS"),
        (None, SERVER, "cache"),
        (None, (*SERVER, "kubectl"), "cache"),
        (None, ("kube-apiserver", "etcd"), None),
        (None, ("kube-apiserver",), None),
        (None, (), None),
    ],
    ids=["assets-first", "cache", "cache-with-kubectl", "no-controller-manager",
         "cache-incomplete", "nothing"],
)
def test_lookup_order(tmp_path: Path, assets, cache, expected) -> None:
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    make_fake(binaries.cache_dir(env), *cache)
    if assets is not None:
        env["KUBEBUILDER_ASSETS"] = str(make_fake(tmp_path / "assets", *assets))
    found = find_binaries(env)
    assert (found.source if found else None) == expected


def test_cache_dir_follows_xdg_and_version(tmp_path: Path) -> None:
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": str(tmp_path)}
    assert binaries.cache_dir(env) == tmp_path / "receiver-conformance/k8s" / versions.KUBERNETES
    assert binaries.cache_dir({"HOME": "/home/u"}) == Path(
        "/home/u/.cache/receiver-conformance/k8s", versions.KUBERNETES
    )


def test_incomplete_kubebuilder_assets_is_an_error(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KUBEBUILDER_ASSETS": str(make_fake(tmp_path / "a", "etcd"))}
    with pytest.raises(BinariesNotFound, match="no executable kube-apiserver"):
        find_binaries(env)


def test_no_binaries_and_no_go_names_the_ways_out(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": str(tmp_path / "empty-bin"), "LANG": "C"}
    proc = subprocess.run(
        [sys.executable, "-m", "receiver_conformance.controlplane.binaries"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "KUBEBUILDER_ASSETS" in proc.stderr
    assert "install Go" in proc.stderr
    assert "--target kind" in proc.stderr
    assert proc.stderr.count("\n") == 1  # one clear line


def test_wrapper_go_mod_pins_every_staging_module() -> None:
    upstream = "\n".join([
        "module k8s.io/kubernetes",
        "go 1.26.0",
        "replace (",
        "\tk8s.io/api => ./staging/src/k8s.io/api",
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go",
        ")",
        "replace example.com/other => ../other",
    ])
    go_mod = wrapper_go_mod(upstream)
    assert f"k8s.io/kubernetes {versions.KUBERNETES}" in go_mod
    assert f"go.etcd.io/etcd/server/v3 {versions.ETCD}" in go_mod
    assert f"replace k8s.io/api => k8s.io/api {versions.KUBERNETES_STAGING}" in go_mod
    assert f"replace k8s.io/client-go => k8s.io/client-go {versions.KUBERNETES_STAGING}" in go_mod
    assert "example.com/other" not in go_mod
    assert "\ngo 1.26.0\n" in go_mod


def test_staging_version_matches_the_release() -> None:
    assert "v0." + versions.KUBERNETES.split(".", 1)[1] == versions.KUBERNETES_STAGING


def test_a_second_builder_waits_for_the_first(tmp_path: Path) -> None:
    """The build lock serialises builders; the waiter finds the finished binaries."""
    dest = tmp_path / "cache"
    held, release, second_waits = threading.Event(), threading.Event(), threading.Event()
    results: list[str] = []

    def first() -> None:
        with gobuild.locked(dest, log=lambda _: None):
            held.set()
            assert release.wait(10)
            make_fake(dest, "kube-apiserver", "etcd", "kube-controller-manager", "kubectl")

    def second_log(line: str) -> None:
        if "waiting" in line:
            second_waits.set()

    def second() -> None:
        results.append(binaries.build_binaries(dest, go="/nonexistent/go", log=second_log).source)

    builders = [threading.Thread(target=first), threading.Thread(target=second)]
    builders[0].start()
    assert held.wait(10)
    builders[1].start()
    assert second_waits.wait(10), "the second builder did not wait for the lock"
    assert not results
    release.set()
    for thread in builders:
        thread.join(10)
    assert results == ["cache"]  # no build ran: the go binary does not even exist


def test_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, receiver_conformance.gobuild as b\n"
         f"with b.locked(__import__('pathlib').Path({str(dest)!r}), print):\n"
         "    print('locked', flush=True); time.sleep(60)\n"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    make_fake(dest, "kube-apiserver", "etcd", "kube-controller-manager", "kubectl")
    # Would block forever if the dead holder's lock were stale.
    result: list[str] = []
    worker = threading.Thread(
        target=lambda: result.append(binaries.build_binaries(dest, go="/none", log=print).source)
    )
    worker.start()
    worker.join(10)
    assert result == ["cache"]
