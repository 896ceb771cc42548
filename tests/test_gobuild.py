"""`receiver_conformance.gobuild.build_module`: a module built as its authors build it, in a copy of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from receiver_conformance import gobuild, versions
from receiver_conformance.gobuild import BuildFailed, build_module, go_env
from tests.checkout import REPO_ROOT
from tests.fake_go import FakeGo, cache_env


def quiet(_: str) -> None:
    """A log function that drops every line."""


# --- with a fake go: which Go commands run --------------------------------------------------


def replace(old: str, new: str, version: str = "") -> dict[str, dict[str, str]]:
    """One entry of `go mod edit -json`'s Replace list."""
    return {"Old": {"Path": old}, "New": {"Path": new, **({"Version": version} if version else {})}}


def fake_module_dir(tmp_path: Path) -> Path:
    """A downloaded module as the module cache holds it: read-only."""
    directory = tmp_path / "modcache" / "example.com" / "app@v1.0.0"
    (directory / "sub").mkdir(parents=True)
    (directory / "go.mod").write_text("module example.com/app\n")
    (directory / "sub" / "main.go").write_text("package main\n")
    for path in [*directory.rglob("*"), directory]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return directory


@pytest.mark.parametrize(
    ("replaces", "dropped"),
    [
        ([], []),
        ([replace("example.com/app/api", "./api")], ["example.com/app/api"]),
        ([replace("example.com/tools", "../tools")], ["example.com/tools"]),
        ([replace("example.com/app/api", "./api"), replace("example.com/lib", "example.com/fork",
                                                           "v1.2.3")],
         ["example.com/app/api"]),
    ],
    ids=["none", "inside-module", "parent-directory", "fork-kept"],
)
def test_only_replaces_into_the_repository_are_dropped(
    tmp_path: Path, replaces: list, dropped: list[str]
) -> None:
    go = FakeGo(tmp_path / "go-bin", modules={"example.com/app@v1.0.0":
                                              str(fake_module_dir(tmp_path))},
                replaces=replaces)
    build_module(str(go.path), "example.com/app", "v1.0.0", {"app": "."}, tmp_path / "dest",
                 tmp_path / "work", {}, quiet)
    edits = [argv for argv in go.calls() if argv[:2] == ["mod", "edit"] and argv[2] != "-json"]
    assert edits == ([["mod", "edit", *(f"-dropreplace={p}" for p in dropped)]]
                     if dropped else [])


def test_every_program_lands_in_dest_and_the_copy_goes(tmp_path: Path) -> None:
    module_dir = fake_module_dir(tmp_path)
    go = FakeGo(tmp_path / "go-bin", modules={"example.com/app@v1.0.0": str(module_dir)})
    dest, work = tmp_path / "dest", tmp_path / "work"
    build_module(str(go.path), "example.com/app", "v1.0.0", {"app": ".", "helper": "./sub"},
                 dest, work, {}, quiet, ldflags="-X main.VERSION=v1.0.0")
    assert sorted(p.name for p in dest.iterdir()) == ["app", "helper"]
    assert all(gobuild.executable(dest / name) for name in ("app", "helper"))
    builds = [argv for argv in go.calls() if argv[0] == "build"]
    assert [argv[-1] for argv in builds] == [".", "./sub"]
    assert all(argv[argv.index("-ldflags") + 1] == "-X main.VERSION=v1.0.0" for argv in builds)
    assert not (work / "example.com_app").exists()  # the writable copy is removed
    assert (module_dir / "go.mod").stat().st_mode & 0o222 == 0  # the module cache untouched


def test_a_failed_build_says_which_command_and_why(tmp_path: Path) -> None:
    go = FakeGo(tmp_path / "go-bin", modules={"example.com/app@v1.0.0":
                                              str(fake_module_dir(tmp_path))},
                build_error="main.go:3:1: syntax error: unexpected }")
    with pytest.raises(BuildFailed) as failed:
        build_module(str(go.path), "example.com/app", "v1.0.0", {"app": "."}, tmp_path / "dest",
                     tmp_path / "work", {}, quiet)
    assert "go build -trimpath failed (exit 1)" in str(failed.value)
    assert "syntax error: unexpected }" in str(failed.value)
    assert not (tmp_path / "dest" / "app").exists()


def test_a_module_that_cannot_be_downloaded_is_named(tmp_path: Path) -> None:
    go = FakeGo(tmp_path / "go-bin")
    refused = r"cannot download example\.com/gone@v0\.1\.0: .*not found"
    with pytest.raises(BuildFailed, match=refused):
        build_module(str(go.path), "example.com/gone", "v0.1.0", {"gone": "."},
                     tmp_path / "dest", tmp_path / "work", {}, quiet)


# --- with the real go, offline: a file-based module proxy ------------------------------------

GO = shutil.which("go")


def publish(proxy: Path, module: str, version: str, files: dict[str, str]) -> None:
    """Lay out `module@version` in a GOPROXY=file:// directory (list, info, mod, zip)."""
    versions = proxy / module / "@v"
    versions.mkdir(parents=True)
    (versions / "list").write_text(version + "\n")
    (versions / f"{version}.info").write_text(
        json.dumps({"Version": version, "Time": "2026-01-01T00:00:00Z"}))
    (versions / f"{version}.mod").write_text(files["go.mod"])
    with zipfile.ZipFile(versions / f"{version}.zip", "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{module}@{version}/{name}", text)


APP_GO_MOD = """module example.com/app

go 1.22

require example.com/greeting v1.0.0

replace example.com/greeting => ./greeting
"""

APP_MAIN = """package main

import (
\t"fmt"

\t"example.com/greeting"
)

var VERSION = "dev"

func main() { fmt.Println(greeting.Hello(), VERSION) }
"""


@pytest.mark.skipif(GO is None, reason="needs a Go toolchain")
def test_real_build_of_a_module_whose_replace_points_inside_its_repository(
    tmp_path: Path,
) -> None:
    """The zip of example.com/app leaves out ./greeting, as the proxy does: the build
    works only because the replace is dropped and the required version is used."""
    assert GO is not None
    proxy = tmp_path / "proxy"
    publish(proxy, "example.com/greeting", "v1.0.0", {
        "go.mod": "module example.com/greeting\n\ngo 1.22\n",
        "greeting.go": 'package greeting\n\nfunc Hello() string { return "hello from v1.0.0" }\n',
    })
    publish(proxy, "example.com/app", "v1.0.0", {"go.mod": APP_GO_MOD, "main.go": APP_MAIN})
    modcache = tmp_path / "modcache"
    env = go_env(GOPROXY=f"file://{proxy}", GOSUMDB="off", GOMODCACHE=str(modcache))
    dest = tmp_path / "dest"
    dest.mkdir()
    try:
        build_module(GO, "example.com/app", "v1.0.0", {"app": "."}, dest, tmp_path / "work",
                     env, quiet, ldflags="-s -w -X main.VERSION=v1.0.0")
        ran = subprocess.run([str(dest / "app")], capture_output=True, text=True, timeout=30)
        assert ran.stdout == "hello from v1.0.0 v1.0.0\n"
    finally:
        subprocess.run([GO, "clean", "-modcache"], env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize(("command", "error"), [
    ("receiver_conformance.controlplane.crds", "error: Flux's CRDs are not cached"),
    ("receiver_conformance.flux.build", "error: notification-controller "
     f"{versions.FLUX_MODULES['notification-controller'][1]} is not built"),
])
def test_a_provisioning_command_without_go_or_cache_exits_2_with_one_line(
    tmp_path: Path, command: str, error: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", command],
        cwd=REPO_ROOT, env={**cache_env(tmp_path), "LANG": "C"},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(error)
    assert proc.stderr.count("\n") == 1


def test_our_patches_are_applied_to_the_copy_before_the_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module_dir = fake_module_dir(tmp_path)
    go = FakeGo(tmp_path / "go-bin", modules={"example.com/app@v1.0.0": str(module_dir)})
    patch = tmp_path / "ours.patch"
    patch.write_text("--- a/sub/main.go\n+++ b/sub/main.go\n@@ -1 +1,2 @@\n package main\n"
                     "+// patched\n")
    seen: list[str] = []
    real_run = gobuild.run

    def spy(argv: list[str], cwd: Path, env, log) -> str:
        if argv[1] == "build":
            seen.append((cwd / "sub" / "main.go").read_text())
        return real_run(argv, cwd, env, log)

    monkeypatch.setattr(gobuild, "run", spy)
    build_module(str(go.path), "example.com/app", "v1.0.0", {"app": "./sub"}, tmp_path / "dest",
                 tmp_path / "work", {}, quiet, patches=[patch])
    assert seen == ["package main\n// patched\n"]
    assert (module_dir / "sub" / "main.go").read_text() == "package main\n"


def test_a_patch_that_does_not_apply_is_named(tmp_path: Path) -> None:
    go = FakeGo(tmp_path / "go-bin", modules={"example.com/app@v1.0.0":
                                              str(fake_module_dir(tmp_path))})
    patch = tmp_path / "stale.patch"
    patch.write_text("--- a/sub/main.go\n+++ b/sub/main.go\n@@ -1 +1 @@\n-package other\n"
                     "+package patched\n")
    with pytest.raises(BuildFailed, match=r"stale\.patch does not apply"):
        build_module(str(go.path), "example.com/app", "v1.0.0", {"app": "."}, tmp_path / "dest",
                     tmp_path / "work", {}, quiet, patches=[patch])
    assert not (tmp_path / "dest" / "app").exists()
