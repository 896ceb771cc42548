"""Flux's controllers built from their pinned Go modules into the project's cache, once.

Each controller of `CONTROLLERS` is built from `versions.FLUX_MODULES` as its authors build
it, in a copy of its module (`receiver_conformance.gobuild.build_module`), into
`${XDG_CACHE_HOME:-~/.cache}/receiver-conformance/flux/<release>/`.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.gobuild import (
    BuildFailed,
    Log,
    build_module,
    cache_root,
    executable,
    find_go,
    go_env,
    locked,
    provision_main,
    stderr_log,
)

# The controllers the flux target runs: the receiver under test, and the two that carry a
# push on to the cluster (fetch the new revision, apply it).
CONTROLLERS = ("notification-controller", "source-controller", "kustomize-controller")


class FluxNotBuilt(Exception):
    """Flux's controllers are not cached and cannot be built."""


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return cache_root(env) / "flux" / versions.FLUX_RELEASE


def find_controllers(
    env: Mapping[str, str] | None = None, names: Sequence[str] = CONTROLLERS
) -> dict[str, Path] | None:
    """The cached controller binaries, or None when one is missing."""
    found = {name: cache_dir(env) / name for name in names}
    return found if all(executable(p) for p in found.values()) else None


def ensure_controllers(
    env: Mapping[str, str] | None = None, names: Sequence[str] = CONTROLLERS,
    go: str | None = None, log: Log | None = None,
) -> dict[str, Path]:
    """The controller binaries, built into the cache when needed."""
    found = find_controllers(env, names)
    if found is not None:
        return found
    for name in names:
        _ensure(name, *versions.FLUX_MODULES[name], cache_dir(env), env, go, log)
    found = find_controllers(env, names)
    assert found is not None
    return found


def release_cache_dir(version: str, env: Mapping[str, str] | None = None) -> Path:
    return cache_root(env) / "flux" / f"notification-controller-{version}"


def ensure_notification_controller(
    version: str, env: Mapping[str, str] | None = None, go: str | None = None,
    log: Log | None = None,
) -> Path:
    """notification-controller at `version` (one of `versions.NOTIFICATION_RELEASES`),
    built into its own cache folder when needed; the pinned one is the release's."""
    name = "notification-controller"
    module, pinned = versions.FLUX_MODULES[name]
    if version == pinned:
        return ensure_controllers(env, [name], go, log)[name]
    if version not in versions.NOTIFICATION_RELEASES:
        known = ", ".join(versions.NOTIFICATION_RELEASES)
        raise FluxNotBuilt(f"notification-controller {version} is not one of the releases "
                           f"this suite builds ({known})")
    return _ensure(name, module, version, release_cache_dir(version, env), env, go, log)


def _ensure(name: str, module: str, version: str, dest: Path,
            env: Mapping[str, str] | None, go: str | None, log: Log | None) -> Path:
    """`dest/name`, built from `module@version` unless it is there already."""
    log = log or stderr_log("flux")
    binary = dest / name
    if executable(binary):
        return binary
    go_path = go or find_go(env)
    if not go_path:
        raise FluxNotBuilt(f"{name} {version} is not built in {dest} and there is no Go "
                           "toolchain to build it; install Go (1.26 or later)")
    with locked(dest, log):
        if executable(binary):
            return binary
        work = dest / ".work"
        started = time.monotonic()
        try:
            build_module(go_path, module, version, {name: "."}, dest, work,
                         go_env(env, GONOSUMDB=versions.GONOSUMDB), log,
                         ldflags=f"-s -w -X main.VERSION={version}",
                         replaces=versions.FLUX_BUILD_REPLACES.get(name))
        except BuildFailed as err:
            raise FluxNotBuilt(f"building {name} {version} failed: {err}") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log(f"built {name} {version} in {time.monotonic() - started:.0f} s")
    return binary


def main() -> int:
    """`python -m receiver_conformance.flux.build`: make sure the controllers are built; print them."""
    return provision_main(lambda: ensure_controllers().values(), (FluxNotBuilt,))


if __name__ == "__main__":
    sys.exit(main())
