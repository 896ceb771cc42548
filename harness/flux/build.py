"""Flux's controllers built from their pinned Go modules into the project's cache, once.

Each controller of `CONTROLLERS` is built from `versions.FLUX_MODULES` as its authors build
it, in a copy of its module (`harness.gobuild.build_module`), into
`${XDG_CACHE_HOME:-~/.cache}/receiver-conformance/flux/<release>/`.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness import versions
from harness.gobuild import (
    BuildFailed,
    Log,
    build_module,
    cache_root,
    executable,
    find_go,
    go_env,
    locked,
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
    log = log or stderr_log("flux")
    found = find_controllers(env, names)
    if found is not None:
        return found
    go_path = go or find_go(env)
    if not go_path:
        raise FluxNotBuilt(f"Flux's controllers are not built in {cache_dir(env)} and there "
                           "is no Go toolchain to build them; install Go (1.26 or later)")
    dest = cache_dir(env)
    with locked(dest, log):
        work = dest / ".work"
        for name in names:
            if executable(dest / name):
                continue
            module, version = versions.FLUX_MODULES[name]
            started = time.monotonic()
            try:
                build_module(go_path, module, version, {name: "."}, dest, work,
                             go_env(env, GONOSUMDB=versions.GONOSUMDB), log,
                             ldflags=f"-s -w -X main.VERSION={version}",
                             replaces=versions.FLUX_BUILD_REPLACES.get(name))
            except BuildFailed as err:
                raise FluxNotBuilt(f"building {name} {version} failed: {err}") from None
            log(f"built {name} {version} in {time.monotonic() - started:.0f} s")
        shutil.rmtree(work, ignore_errors=True)
    found = find_controllers(env, names)
    assert found is not None
    return found


def main() -> int:
    """`python -m harness.flux.build`: make sure the controllers are built; print them."""
    try:
        for path in ensure_controllers().values():
            print(path)
    except FluxNotBuilt as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
