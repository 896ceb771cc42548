"""`receiver_conformance.flux.build`: Flux's controllers from the cache, or built once with a (fake) go."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver_conformance import versions
from receiver_conformance.flux import build
from receiver_conformance.flux.build import (
    CONTROLLERS,
    FluxNotBuilt,
    ensure_controllers,
    find_controllers,
)
from tests.fake_go import FakeGo, cache_env


def quiet(_: str) -> None:
    """A log function that drops every line."""



def put_binaries(directory: Path, names: tuple[str, ...], mode: int = 0o755) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\n")
        (directory / name).chmod(mode)


def fake_go(tmp_path: Path) -> FakeGo:
    """A fake go that serves the module of every controller."""
    modules = {}
    for name in CONTROLLERS:
        module, version = versions.FLUX_MODULES[name]
        directory = tmp_path / "mods" / name
        directory.mkdir(parents=True)
        (directory / "go.mod").write_text(f"module {module}\n")
        modules[f"{module}@{version}"] = str(directory)
    return FakeGo(tmp_path / "go-bin", modules=modules)


def test_cache_dir_follows_xdg_and_the_flux_release(tmp_path: Path) -> None:
    assert build.cache_dir(cache_env(tmp_path)) == (
        tmp_path / "xdg" / "receiver-conformance" / "flux" / versions.FLUX_RELEASE)


@pytest.mark.parametrize(
    ("present", "mode", "found"),
    [
        (CONTROLLERS, 0o755, True),
        ((*CONTROLLERS, "helm-controller"), 0o755, True),
        (CONTROLLERS[:-1], 0o755, False),
        (CONTROLLERS, 0o644, False),
        ((), 0o755, False),
    ],
    ids=["all", "extra", "one-missing", "not-executable", "none"],
)
def test_lookup(tmp_path: Path, present: tuple[str, ...], mode: int, found: bool) -> None:
    env = cache_env(tmp_path)
    put_binaries(build.cache_dir(env), present, mode)
    expected = {name: build.cache_dir(env) / name for name in CONTROLLERS} if found else None
    assert find_controllers(env) == expected


def test_a_cache_hit_needs_no_go(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    put_binaries(build.cache_dir(env), CONTROLLERS)
    assert ensure_controllers(env, go="/nonexistent/go", log=quiet) == find_controllers(env)


def test_no_go_and_no_cache_is_one_clear_error(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    with pytest.raises(FluxNotBuilt) as missing:
        ensure_controllers(env, log=quiet)
    message = str(missing.value)
    assert str(build.cache_dir(env)) in message
    assert "install Go" in message
    assert "\n" not in message


def test_only_the_missing_controllers_are_built(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    put_binaries(build.cache_dir(env), CONTROLLERS[:1])
    go = fake_go(tmp_path)
    found = ensure_controllers(env, go=str(go.path), log=quiet)
    assert found == {name: build.cache_dir(env) / name for name in CONTROLLERS}
    downloads = [argv[3] for argv in go.calls() if argv[:2] == ["mod", "download"]]
    assert downloads == ["@".join(versions.FLUX_MODULES[n]) for n in CONTROLLERS[1:]]
    builds = [argv for argv in go.calls() if argv[0] == "build"]
    assert [Path(argv[argv.index("-o") + 1]).name for argv in builds] == list(CONTROLLERS[1:])
    ldflags = builds[0][builds[0].index("-ldflags") + 1]
    assert ldflags == "-s -w -X main.VERSION=" + versions.FLUX_MODULES[CONTROLLERS[1]][1]
    assert not (build.cache_dir(env) / ".work").exists()


def test_a_failed_build_names_the_controller(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    go = fake_go(tmp_path)
    go.build_error = "undefined: foo"
    go.save()
    name = CONTROLLERS[0]
    with pytest.raises(FluxNotBuilt,
                       match=f"building {name} {versions.FLUX_MODULES[name][1]} failed"):
        ensure_controllers(env, go=str(go.path), log=quiet)
    assert find_controllers(env) is None


OLD_RELEASE = next(iter(versions.NOTIFICATION_RELEASES))


def test_an_older_notification_controller_is_built_into_its_own_folder(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    module = versions.FLUX_MODULES["notification-controller"][0]
    directory = tmp_path / "mods" / "old"
    directory.mkdir(parents=True)
    (directory / "go.mod").write_text(f"module {module}\n")
    go = FakeGo(tmp_path / "go-bin", modules={f"{module}@{OLD_RELEASE}": str(directory)})
    binary = build.ensure_notification_controller(OLD_RELEASE, env, go=str(go.path), log=quiet)
    assert binary == build.release_cache_dir(OLD_RELEASE, env) / "notification-controller"
    assert binary.parent != build.cache_dir(env)
    ldflags = next(a for a in go.calls() if a[0] == "build")
    assert ldflags[ldflags.index("-ldflags") + 1].endswith(f"main.VERSION={OLD_RELEASE}")
    # Built once: a second call needs no go.
    assert build.ensure_notification_controller(OLD_RELEASE, env, go="/nonexistent",
                                                log=quiet) == binary


def test_the_pinned_notification_controller_is_the_releases_own(tmp_path: Path) -> None:
    env = cache_env(tmp_path)
    put_binaries(build.cache_dir(env), ("notification-controller",))
    pinned = versions.FLUX_MODULES["notification-controller"][1]
    assert build.ensure_notification_controller(pinned, env, go="/nonexistent", log=quiet) == (
        build.cache_dir(env) / "notification-controller")


def test_a_release_outside_the_matrix_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(FluxNotBuilt, match=r"v0\.0\.1 is not one of the releases"):
        build.ensure_notification_controller("v0.0.1", cache_env(tmp_path), log=quiet)
