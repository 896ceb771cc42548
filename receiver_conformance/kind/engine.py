"""The Docker engine the harness owns: Debian's dockerd as its child, apart from any other.

    with Engine() as engine:
        engine.docker("run", ...)

dockerd runs in a network and mount namespace of its own (the node's, `node.netns`: a veth
pair to the host, tmpfs over /run, /var/log and /var/lib), in a cgroup subtree of its own,
with its data root, exec root, socket and configuration file in a temporary directory. So
its bridges, its iptables rules and every mount it makes (overlays, the containers' own
namespaces) live in that namespace and vanish with it, and a system Docker, if there is
one, is neither used nor touched. Containers are put under the engine's cgroup
(`--cgroup-parent`), so `stop()`, Ctrl-C (the caller's `finally`) or the owner's death
(node.reaper) kills them with the engine and removes the cgroups, the veth pair and the
directory. Every container starts through `receiver_conformance.kind.caps`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from receiver_conformance.controlplane.plane import _python_env
from receiver_conformance.controlplane.processes import Child
from receiver_conformance.gobuild import Log, cache_root, stderr_log
from receiver_conformance.node import cgroups, packages, reaper
from receiver_conformance.node.netns import NodeNamespace, ip

READY_TIMEOUT = 60.0
STOP_GRACE = 15.0
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # the client of the same package: its API version matches
PACKAGE = "docker.io"
RUNTIME = "rc-runc"
CONTAINERS_CGROUP = "containers"

_stderr = stderr_log("engine")


class EngineError(Exception):
    """The engine cannot start or answer; the message says why and what to do."""


def check_installed() -> None:
    """EngineError unless we are root and Debian's Docker engine and the node's packages are
    installed (`install_packages` installs them)."""
    try:
        packages.check()
    except packages.PackagesMissing as err:
        raise EngineError(str(err).replace("a node needs", "the engine needs")) from err
    absent = [p for p in (DOCKERD, DOCKER) if not os.access(p, os.X_OK)]
    if absent:
        raise EngineError(f"the engine needs Debian's Docker engine ({', '.join(absent)} is "
                          f"missing); install it with: apt-get install --no-install-recommends "
                          f"{PACKAGE}")


def install_packages() -> list[str]:
    """apt-get install the engine's packages that are missing; the packages installed."""
    installed = packages.install()
    if not os.access(DOCKERD, os.X_OK):
        proc = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.splitlines()[-5:])
            raise EngineError(f"apt-get install {PACKAGE} failed: {tail}")
        installed.append(PACKAGE)
    return installed


def daemon_config(directory: Path, cgroup: str, shim: Path) -> dict[str, object]:
    """dockerd's configuration file: everything under `directory`, the containers under
    the engine's cgroup, the capability shim as the default runtime."""
    return {
        "data-root": str(directory / "data"),
        "exec-root": str(directory / "exec"),
        "pidfile": str(directory / "dockerd.pid"),
        "hosts": [f"unix://{directory / 'docker.sock'}"],
        "cgroup-parent": f"/{cgroup}/{CONTAINERS_CGROUP}",
        "runtimes": {RUNTIME: {"path": str(shim)}},
        "default-runtime": RUNTIME,
        "storage-driver": "overlay2",
        "log-driver": "json-file",
    }


def shim_script() -> str:
    """The runtime executable dockerd is given: this Python running the shim module."""
    python_path = _python_env()["PYTHONPATH"]
    return (f"#!/bin/sh\nPYTHONPATH='{python_path}' exec '{sys.executable}' "
            f"-m receiver_conformance.kind.caps \"$@\"\n")


class Engine:
    """One dockerd of our own; `start()`/`stop()` or a `with` block."""

    def __init__(self, workdir: Path | None = None, log: Log = _stderr) -> None:
        self._workdir = workdir
        self._log = log
        self.dir: Path | None = None
        self.name = ""
        self.netns: NodeNamespace | None = None
        self.dockerd: Child | None = None
        self._reaper: Child | None = None
        self._join: list[str] = []
        self.started_in: float | None = None

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """DOCKER_HOST for a client of this engine."""
        assert self.dir is not None
        return f"unix://{self.dir / 'docker.sock'}"

    @property
    def address(self) -> str:
        """The engine's address on its veth pair: where a port it publishes is reached."""
        assert self.netns is not None and self.netns.link is not None
        return self.netns.link.node_ip

    def env(self) -> dict[str, str]:
        """An environment for docker (and kind) that talks to this engine only, with this
        engine's own client first on PATH (a newer one elsewhere may not speak its API)."""
        assert self.dir is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        path = os.pathsep.join((str(self.dir / "bin"), env.get("PATH", packages.PATH)))
        return {**env, "DOCKER_HOST": self.host, "PATH": path}

    def docker(self, *args: str, timeout: float = 300.0,
               stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run `docker ARGS` against this engine (`stdin`: a stream to read from);
        EngineError with its stderr on failure."""
        proc = subprocess.run([DOCKER, *args], env=self.env(), capture_output=True,
                              stdin=stdin if stdin is not None else subprocess.DEVNULL,
                              timeout=timeout)
        if proc.returncode != 0:
            raise EngineError(f"docker {' '.join(args[:2])}: "
                              f"{proc.stderr.decode(errors='replace').strip()}")
        return proc

    def attempt(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS` against this engine and return what it did, failed or not."""
        return subprocess.run([DOCKER, *args], env=self.env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def route_from_host(self, subnet: str) -> None:
        """Let this host open connections to `subnet` (a network of the engine's, such as
        kind's): a host route through the engine's end of the veth pair (recorded for the
        reaper) and, inside the engine's namespace, a rule ahead of Docker's isolation that
        forwards what comes in on that link. One subnet per engine."""
        assert self.dir is not None and self.netns is not None and self.netns.link
        link = self.netns.link
        reaper.record(self.dir, route=subnet)
        ip("route", "replace", subnet, "via", link.node_ip, "dev", link.host_if)
        self.netns.run("iptables", "-I", "DOCKER-USER", "-i", "eth0", "-d", subnet,
                       "-j", "ACCEPT")

    def footprint(self) -> dict[str, object]:
        """What the engine has made on the host, for checks that it is all gone later."""
        assert self.dir is not None and self.netns is not None and self.netns.link
        return {
            "name": self.name,
            "dir": str(self.dir),
            "cgroup": self.dir.name,
            "pids": sorted(cgroups.pids(self.dir.name)),
            "veth": self.netns.link.host_if,
            "netns": os.stat(f"/proc/{self.netns.pid}/ns/net").st_ino,
            "mntns": os.stat(f"/proc/{self.netns.pid}/ns/mnt").st_ino,
        }

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Engine:
        check_installed()
        began = time.monotonic()
        parent = self._workdir or cache_root() / "kind"
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="rc-engine-", dir=parent))
        self.name = self.dir.name.lower().replace("_", "0")
        try:
            self._reaper = Child(
                "reaper",
                [sys.executable, "-m", "receiver_conformance.node.reaper", str(self.dir),
                 str(os.getpid())],
                self.dir / "reaper.log", env=_python_env(), death_signal=signal.SIGTERM,
            )
            reaper.record(self.dir, cgroup=self.dir.name)
            cgroups.create(self.dir.name)
            self._join = cgroups.join_paths(self.dir.name)
            self.netns = NodeNamespace(self.name, self.dir, self._in_cgroup).start()
            assert self.netns.link is not None
            reaper.record(self.dir, veth=self.netns.link.host_if)
            self._start_dockerd()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        self._log(f"engine {self.name} answering in {self.started_in:.1f} s")
        return self

    def stop(self) -> None:
        """Remove the engine, its containers and everything they made. Safe to call twice."""
        if self.dockerd is not None:
            if self.dockerd.running():
                self._remove_containers()
            self.dockerd.stop(grace=STOP_GRACE)
            self.dockerd = None
        if self.netns is not None:
            self.netns.stop()
            self.netns = None
        if self.dir is not None:
            left = reaper.clean_up(self.dir)
            if left:
                self._log(f"could not remove {', '.join(left)}")
            self.dir = None
        if self._reaper is not None:
            self._reaper.stop(grace=5)
            self._reaper = None

    # -- internals -----------------------------------------------------------------------

    def _in_cgroup(self) -> None:
        cgroups.join(self._join)

    def _start_dockerd(self) -> None:
        assert self.dir is not None and self.netns is not None
        (self.dir / "bin").mkdir()
        (self.dir / "bin" / "docker").symlink_to(DOCKER)
        shim = self.dir / RUNTIME
        shim.write_text(shim_script())
        shim.chmod(0o755)
        config = self.dir / "daemon.json"
        config.write_text(json.dumps(daemon_config(self.dir, self.dir.name, shim), indent=2))
        self.dockerd = Child(
            "dockerd", self.netns.enter(DOCKERD, "--config-file", str(config)),
            self.dir / "dockerd.log", env={**os.environ, "PATH": packages.PATH},
            before_exec=self._in_cgroup,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if not self.dockerd.running():
                raise EngineError(f"dockerd exited: {self._last_words()}")
            probe = subprocess.run([DOCKER, "version", "--format", "{{.Server.Version}}"],
                                   env=self.env(), capture_output=True, timeout=10)
            if probe.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise EngineError(f"dockerd did not answer within {READY_TIMEOUT:.0f} s: "
                                  f"{self._last_words()}")
            time.sleep(0.2)

    def _last_words(self) -> str:
        """dockerd's last log lines, on one line (an error is one line)."""
        assert self.dockerd is not None
        return " | ".join(self.dockerd.log_tail(5).splitlines())

    def _remove_containers(self) -> None:
        """Remove every container (kind's nodes too) while dockerd still runs, so that it
        takes their mounts and networks down itself; what fails is left to the cgroup's
        removal."""
        try:
            ids = self.docker("ps", "-aq", timeout=30).stdout.decode().split()
            if ids:
                self.docker("rm", "-f", *ids, timeout=120)
        except (EngineError, subprocess.TimeoutExpired) as err:
            self._log(f"containers left to the cgroup's removal: {err}")
