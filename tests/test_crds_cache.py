"""`receiver_conformance.controlplane.crds`: the CRDs come from the pinned modules once, then the cache.

A fake `go` (tests/fake_go.py) stands in for the module proxy: no network here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver_conformance import versions
from receiver_conformance.controlplane import crds
from receiver_conformance.controlplane.crds import CRDsNotFound, ensure_crds
from tests.fake_go import FakeGo, cache_env

CRD = """---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {name}
"""


def quiet(_: str) -> None:
    """A log function that drops every line."""



def fake_module(root: Path, module: str, crd_dir: str | None) -> str:
    """A downloaded module's directory, with one CRD (and a kustomization) in `crd_dir`."""
    directory = root / module.replace("/", "_")
    directory.mkdir(parents=True)
    if crd_dir is not None:
        crd_path = directory / crd_dir
        crd_path.mkdir(parents=True)
        stem = module.rsplit("/", 1)[-1]
        (crd_path / f"{stem}.example_things.yaml").write_text(CRD.format(name=stem))
        (crd_path / "kustomization.yaml").write_text("resources: []\n")
    return str(directory)


def fake_go_for_every_module(tmp_path: Path, without_crds: str = "") -> FakeGo:
    """A fake go that serves every pinned module; `without_crds` has none."""
    modules = {}
    for module, version in crds.modules():
        crd_dir = None if module == without_crds else crds.CRD_DIRS.get(module,
                                                                      crds.DEFAULT_CRD_DIR)
        modules[f"{module}@{version}"] = fake_module(tmp_path / "mods", module, crd_dir)
    return FakeGo(tmp_path / "go-bin", modules=modules)


def test_cache_dir_names_both_releases(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    expected = (f"receiver-conformance/crds/flux-{versions.FLUX_RELEASE}"
                f"-gateway-api-{versions.GATEWAY_API[1]}")
    assert crds.cache_dir(env) == tmp_path / "xdg" / expected


def test_every_flux_module_and_gateway_api_are_sources() -> None:
    assert crds.modules() == [*versions.FLUX_MODULES.values(), versions.GATEWAY_API]


def test_first_run_copies_each_modules_crds_then_the_cache_needs_no_go(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    go = fake_go_for_every_module(tmp_path)
    dest = ensure_crds(env, go=str(go.path), log=quiet)
    assert dest == crds.cache_dir(env)
    downloads = [argv[3] for argv in go.calls() if argv[:2] == ["mod", "download"]]
    assert downloads == [f"{m}@{v}" for m, v in crds.modules()]
    copied = {p.name for p in crds.crd_files(dest)}
    assert copied == {f"{m.rsplit('/', 1)[-1]}.example_things.yaml" for m, _ in crds.modules()}
    assert "gateway-api.example_things.yaml" in copied  # from config/crd/standard
    assert "kustomization.yaml" not in copied
    assert (dest / crds.COMPLETE).read_text().splitlines() == [
        f"{m} {v}" for m, v in crds.modules()
    ]
    calls = len(go.calls())
    assert ensure_crds(env, go="/nonexistent/go", log=quiet) == dest
    assert len(go.calls()) == calls


def test_a_complete_cache_is_used_without_go(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    dest = crds.cache_dir(env)
    dest.mkdir(parents=True)
    (dest / crds.COMPLETE).write_text("")
    assert ensure_crds(env, log=quiet) == dest  # no go on env's PATH, and none needed


@pytest.mark.parametrize("partial", [False, True], ids=["empty", "interrupted-download"])
def test_no_go_and_no_complete_cache_is_one_clear_error(tmp_path: Path, partial: bool) -> None:
    env = cache_env(tmp_path)
    if partial:  # an earlier download stopped half-way: files but no completion mark
        crds.cache_dir(env).mkdir(parents=True)
        (crds.cache_dir(env) / "a.yaml").write_text(CRD.format(name="a"))
    with pytest.raises(CRDsNotFound) as missing:
        ensure_crds(env, log=quiet)
    message = str(missing.value)
    assert str(crds.cache_dir(env)) in message
    assert "install Go" in message
    assert "\n" not in message


def test_a_module_without_crds_is_an_error_and_nothing_is_marked_complete(
    tmp_path: Path,
) -> None:
    env = cache_env(tmp_path)
    module, version = versions.FLUX_MODULES["notification-controller"]
    go = fake_go_for_every_module(tmp_path, without_crds=module)
    with pytest.raises(CRDsNotFound, match=f"{module}@{version} has no CRDs in .*config/crd/bases"):
        ensure_crds(env, go=str(go.path), log=quiet)
    assert not (crds.cache_dir(env) / crds.COMPLETE).exists()


def test_a_module_the_proxy_refuses_is_an_error(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    go = fake_go_for_every_module(tmp_path)
    module, version = versions.GATEWAY_API
    del go.modules[f"{module}@{version}"]
    go.save()
    with pytest.raises(CRDsNotFound, match=f"cannot download {module}@{version}: .*not found"):
        ensure_crds(env, go=str(go.path), log=quiet)
    assert not (crds.cache_dir(env) / crds.COMPLETE).exists()


def test_one_modules_crds_at_another_version_have_their_own_folder(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    module, version = versions.FLUX_MODULES["notification-controller"][0], "v1.5.0"
    go = FakeGo(tmp_path / "go-bin", modules={
        f"{module}@{version}": fake_module(tmp_path / "mods", module, crds.DEFAULT_CRD_DIR)})
    found = crds.ensure_module_crds(module, version, env, go=str(go.path), log=quiet)
    assert found.name == f"notification-controller-{version}"
    assert [p.name for p in crds.crd_files(found)] == [
        "notification-controller.example_things.yaml"]
    assert found != crds.cache_dir(env)
    # Cached: no go needed the second time.
    assert crds.ensure_module_crds(module, version, env, go="/nonexistent", log=quiet) == found


def test_one_modules_crds_without_go_or_cache_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CRDsNotFound, match="install Go"):
        crds.ensure_module_crds("example.com/m", "v1.0.0", cache_env(tmp_path), log=quiet)
