"""Scenarios in several processes at once, on one control plane and one receiver.

With `--workers N` (pytest-xdist underneath), the controlling process starts the target once
(`Provisioner`) and hands it to every worker as plain data (`to_wire` / `from_wire`); each
worker runs its share of the scenarios, each scenario in namespaces of its own, against that
one receiver. A scenario tagged `@serial` changes what the others share (the receiver's
pods, the cluster's network policies): it takes its turn alone (`Turns`), while the others
wait. Setup and teardown stay apart from the scenarios: the workers never start or stop
the target, and the controller stops it after the last worker is done.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from receiver_conformance.config import RunConfig
from receiver_conformance.controlplane import ControlPlane, ControlPlaneError
from receiver_conformance.controlplane.binaries import BinariesNotFound, BuildFailed
from receiver_conformance.senders.gcr import TestGoogleIssuer
from receiver_conformance.targets import registry
from receiver_conformance.targets.base import LogFile, Target

SERIAL_TAG = "serial"
WIRE_KEY = "rc_target"  # the target, in each worker's workerinput
_FIELDS = ("name", "receiver_url", "namespace", "receiver_namespace", "metrics_url",
           "probe_image", "disposable")


class NotShareable(ValueError):
    """A target that cannot be handed to worker processes."""


def start_plane() -> ControlPlane:
    """Start the embedded control plane, or end the run with a clear reason (exit 2)."""
    try:
        return ControlPlane().start()
    except (BinariesNotFound, BuildFailed, ControlPlaneError) as err:
        pytest.exit(f"cannot start the embedded control plane: {err}", returncode=2)


def to_wire(target: Target, keys: Path) -> dict[str, Any]:
    """`target` as plain data a worker can rebuild it from; its Google signing key, if it
    has one, is saved under `keys` (mode 0600)."""
    if target.log_tail is not None and not isinstance(target.log_tail, LogFile):
        raise NotShareable(f"target {target.name}: its receiver's log is not a file")
    wire: dict[str, Any] = {name: getattr(target, name) for name in _FIELDS}
    wire.update(
        kubeconfig=str(target.kubeconfig),
        capabilities=sorted(target.capabilities),
        details=dict(target.details),
        kubectl=str(target.kubectl) if target.kubectl else None,
        log_file=str(target.log_tail.path) if isinstance(target.log_tail, LogFile) else None,
        google_keys=None,
    )
    if target.google_issuer is not None:
        target.google_issuer.save(keys)
        wire["google_keys"] = str(keys)
    return wire


def from_wire(wire: Mapping[str, Any]) -> Target:
    """The target a controller described with `to_wire`."""
    return Target(
        **{name: wire[name] for name in _FIELDS},
        kubeconfig=Path(wire["kubeconfig"]),
        capabilities=frozenset(wire["capabilities"]),
        details=dict(wire["details"]),
        kubectl=Path(wire["kubectl"]) if wire["kubectl"] else None,
        log_tail=LogFile(Path(wire["log_file"])) if wire["log_file"] else None,
        google_issuer=(TestGoogleIssuer.load(Path(wire["google_keys"]))
                       if wire["google_keys"] else None),
    )


class Turns:
    """Who may run now: any number of shared scenarios at once, or one alone.

    Two lock files under one directory, locked with flock(2) so that every process that
    opens them takes part: a scenario alone first closes the gate (no new scenario starts),
    then waits for the room to empty; shared scenarios pass the gate and hold the room
    shared. So a waiting serial scenario is never starved by a stream of shared ones."""

    def __init__(self, directory: Path) -> None:
        self.gate = directory / "gate.lock"
        self.room = directory / "room.lock"

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._enter(fcntl.LOCK_SH):
            yield

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._enter(fcntl.LOCK_EX):
            yield

    @contextmanager
    def _enter(self, mode: int) -> Iterator[None]:
        with open(self.room, "a") as room:
            with open(self.gate, "a") as gate:
                fcntl.flock(gate, fcntl.LOCK_EX)
                try:
                    fcntl.flock(room, mode)
                finally:
                    fcntl.flock(gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(room, fcntl.LOCK_UN)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_target(config: pytest.Config) -> Target | None:
    """In a worker, the target the controller started; else None."""
    wire = getattr(config, "workerinput", {}).get(WIRE_KEY)
    return from_wire(wire) if wire else None


def worker_turns(config: pytest.Config) -> Turns | None:
    """In a worker, the run's turns; else None."""
    wire = getattr(config, "workerinput", {}).get(WIRE_KEY)
    return Turns(Path(wire["turns"])) if wire else None


def use_workers(config: pytest.Config, workers: int) -> None:
    """Have pytest-xdist run the session in `workers` processes (as `-n workers` would)."""
    if is_worker(config) or workers <= 1:
        return
    if not config.pluginmanager.hasplugin("xdist"):
        pytest.exit("--workers needs pytest-xdist, which the suite installs; it is missing "
                    "or disabled (-p no:xdist)", returncode=2)
    config.option.numprocesses = workers
    config.option.tx = ["popen"] * workers
    if config.option.dist == "no":
        config.option.dist = "worksteal"  # scenarios' lengths vary: idle workers take over


class Provisioner:
    """The controlling process's part: start the target before the workers start, describe
    it to each of them, stop it when they are all done (or the run is interrupted)."""

    def __init__(self, run: RunConfig, record: Callable[[Target], None]) -> None:
        self.run = run
        self.record = record  # called with the started target, for the report
        self.wire: dict[str, Any] | None = None
        self.stack = ExitStack()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="rc-workers-"))
        self.stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        where = registry.placement(self.run)
        plane = None
        if where.needs_control_plane:
            plane = start_plane()
            self.stack.callback(plane.stop)
        try:
            target = self.stack.enter_context(where.start(self.run, plane))
        except where.failures() as err:
            self.stack.close()
            pytest.exit(f"{self.run.target} target did not start: {err}", returncode=2)
        self.record(target)
        self.wire = {**to_wire(target, scratch / "google-keys"), "turns": str(scratch)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WIRE_KEY] = self.wire

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()
