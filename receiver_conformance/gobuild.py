"""Build Go programs from pinned modules into the project's cache, once.

Shared by the control plane (`receiver_conformance.controlplane.binaries`) and Flux
(`receiver_conformance.flux.build`). Every build holds an flock on its cache directory, so a second
process waits instead of building twice, and a killed build leaves no stale lock (the
kernel drops it). Each binary is moved into place only once it is complete, so an
interrupted build simply resumes.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

Log = Callable[[str], None]


class BuildFailed(Exception):
    """A Go command of a build failed; the message ends with its output."""


def stderr_log(prefix: str) -> Log:
    """A log function that writes `[prefix] message` lines to stderr."""
    return lambda message: print(f"[{prefix}] {message}", file=sys.stderr, flush=True)


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/receiver-conformance`."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "receiver-conformance"


def executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_go(env: Mapping[str, str] | None = None) -> str | None:
    """The `go` on the PATH of `env` (default: this process's), or None."""
    return shutil.which("go", path=(os.environ if env is None else env).get("PATH"))


def go_env(env: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of every Go command here: static binaries, this machine's Go."""
    base = dict(os.environ if env is None else env)
    return {**base, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", **extra}


@contextmanager
def locked(directory: Path, log: Log) -> Iterator[None]:
    """Hold the build lock of `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another process is building into {directory}; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(argv: list[str], cwd: Path, env: Mapping[str, str], log: Log) -> str:
    """Run a Go command; its stdout, or BuildFailed with the last 50 lines of output."""
    log("$ " + " ".join(argv[:4]) + (" ..." if len(argv) > 4 else ""))
    proc = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-50:])
        raise BuildFailed(f"{' '.join(argv[:3])} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def download(go: str, module: str, version: str, env: Mapping[str, str], log: Log,
             cwd: Path) -> dict[str, str]:
    """`go mod download -json module@version`: its Dir, GoMod, ... (BuildFailed on Error)."""
    proc = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"], cwd=cwd,
                          env=dict(env), capture_output=True, text=True)
    log(f"$ go mod download {module}@{version}")
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {"Error": (proc.stdout + proc.stderr).strip()}
    if proc.returncode != 0 or info.get("Error"):
        raise BuildFailed(f"cannot download {module}@{version}: {info.get('Error')}")
    return info


def install(built: Path, dest: Path) -> None:
    """Move a finished binary into the cache in one step."""
    os.replace(built, dest)


def apply_patch(patch: Path, src: Path, log: Log) -> None:
    """`git apply` one of our patches to a module copy (never to an enclosing repository)."""
    log(f"applying {patch.name}")
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(src.parent)}
    proc = subprocess.run(["git", "apply", "--verbose", str(patch)], cwd=src, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildFailed(f"{patch.name} does not apply to {src.name}:\n{proc.stderr.strip()}")


def build_module(
    go: str, module: str, version: str, programs: Mapping[str, str], dest: Path,
    work: Path, env: Mapping[str, str], log: Log, ldflags: str = "-s -w",
    replaces: Mapping[str, str] | None = None, patches: Sequence[Path] = (),
) -> None:
    """Build `programs` (binary name -> package inside the module, "." for its root) of
    `module@version` as its authors do: in a copy of the module with its own go.mod and
    go.sum. Replace directives that point inside the module's repository (`=> ./api`),
    whose targets the module zip leaves out, fall back to the required version;
    `replaces` (dependency -> version) pins dependencies the proxy does not serve;
    `patches` (unified diffs of ours, paths relative to the module root) are applied to
    the copy first."""
    dest.mkdir(parents=True, exist_ok=True)
    info = download(go, module, version, env, log, cwd=dest)
    src = work / module.replace("/", "_")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(info["Dir"], src, symlinks=True)
    for path in [src, *src.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    for patch in patches:
        apply_patch(patch, src, log)
    edits = json.loads(run([go, "mod", "edit", "-json"], src, env, lambda _: None))
    local = [r["Old"]["Path"] for r in edits.get("Replace") or []
             if r["New"]["Path"].startswith(("./", "../"))]
    edits_args = [f"-dropreplace={p}" for p in local]
    edits_args += [f"-replace={dep}={dep}@{ver}" for dep, ver in (replaces or {}).items()]
    if edits_args:
        run([go, "mod", "edit", *edits_args], src, env, log)
    for name, package in programs.items():
        log(f"compiling {name} ({module}@{version})")
        target = work / "bin" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        run([go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(target), package],
            src, env, log)
        install(target, dest / name)
    shutil.rmtree(src, ignore_errors=True)


def provision_main(ensure: Callable[[], Iterable[Path | None]],
                   errors: tuple[type[Exception], ...]) -> int:
    """The `python -m` entry of a provisioning module: make sure what `ensure` provides is
    there and print each path; one line on stderr and exit 2 when it cannot be."""
    try:
        paths = list(ensure())
    except errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        if path is not None:
            print(path)
    return 0
