"""Flux's controllers as processes against the embedded control plane.

Each runs with the flags Flux's install gives it (`--watch-all-namespaces`, json logs at info)
but two: addresses are on free 127.0.0.1 ports in place of the pod's fixed ones (three
controllers share one host here), and there is no `--enable-leader-election`, which needs the
in-cluster service-account namespace file (one process per controller runs anyway).
source-controller serves its artifacts on 127.0.0.1, so kustomize-controller fetches them as
it would from the Service.
Their logs go to files that the report quotes; every process is stopped on `stop()` and dies
with its owner (`receiver_conformance.controlplane.processes.Child`).

    with FluxControllers(kubeconfig, ["source-controller", "kustomize-controller"]) as flux:
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from receiver_conformance.controlplane.processes import Child, free_port
from receiver_conformance.flux.build import CONTROLLERS, ensure_controllers
from receiver_conformance.kube import Kube, api_client

NAMESPACE = "flux-system"  # RUNTIME_NAMESPACE, as in Flux's install
READY_TIMEOUT = 60.0
PORT_ATTEMPTS = 3  # starts of a controller whose picked port another process took
ADDRESS_IN_USE = "address already in use"


class ControllerFailed(Exception):
    """A controller exited or did not become ready; the message ends with its log."""


@dataclass
class Controller:
    """One running controller and its addresses."""

    name: str
    child: Child
    health_port: int
    metrics_port: int
    ports: dict[str, int] = field(default_factory=dict)  # receiver, events, storage

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


def controller_args(name: str, ports: dict[str, int], events_url: str | None,
                    storage: Path) -> list[str]:
    """Flux's install flags for `name`, with this host's addresses."""
    args = ["--watch-all-namespaces", "--log-level=info", "--log-encoding=json"]
    if name == "notification-controller":
        args += [f"--receiverAddr=127.0.0.1:{ports['receiver']}",
                 f"--events-addr=127.0.0.1:{ports['events']}"]
    elif events_url:
        args.append(f"--events-addr={events_url}")
    if name == "source-controller":
        args += [f"--storage-path={storage}",
                 f"--storage-addr=127.0.0.1:{ports['storage']}",
                 f"--storage-adv-addr=127.0.0.1:{ports['storage']}"]
    return args


PORTS = {
    "notification-controller": ("receiver", "events"),
    "source-controller": ("storage",),
    "kustomize-controller": (),
}


def listening_ports(pid: int | None) -> set[int]:
    """The TCP ports a process listens on (its sockets in LISTEN state, from /proc)."""
    if pid is None:
        return set()
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
                  for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class FluxControllers:
    """Some of Flux's controllers (notification-, source-, kustomize-controller), running."""

    def __init__(self, kubeconfig: Path, names: Sequence[str] = CONTROLLERS,
                 extra_args: dict[str, list[str]] | None = None,
                 log_dir: Path | None = None,
                 runtime_namespace: str = NAMESPACE,
                 binaries: Mapping[str, Path] | None = None) -> None:
        unknown = sorted(set(names) - set(PORTS))
        if unknown:
            raise ValueError(f"unknown Flux controller(s): {', '.join(unknown)}")
        self.kubeconfig = Path(kubeconfig)
        # notification-controller first: the others send it their events.
        self.names = sorted(names, key=lambda n: n != "notification-controller")
        self.extra_args = extra_args or {}
        self.runtime_namespace = runtime_namespace  # with --watch-all-namespaces=false: watched
        self.binaries = dict(binaries or {})  # in place of the release's own builds
        self._log_dir = log_dir
        self._tmp: Path | None = None
        self.running: dict[str, Controller] = {}

    def __enter__(self) -> FluxControllers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def log_dir(self) -> Path:
        assert self._tmp is not None
        return self._log_dir or self._tmp

    def start(self) -> FluxControllers:
        own = [name for name in self.names if name not in self.binaries]
        binaries = {**ensure_controllers(names=own), **self.binaries}
        self._tmp = Path(tempfile.mkdtemp(prefix="rc-flux-"))
        try:
            with api_client(self.kubeconfig) as api:
                Kube(api).create_namespace(self.runtime_namespace)
            for name in self.names:
                self.running[name] = self._start_ready(name, binaries[name])
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every controller (in reverse order) and remove their files."""
        for controller in reversed(list(self.running.values())):
            controller.child.stop()
        self.running.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __getitem__(self, name: str) -> Controller:
        return self.running[name]

    def log_tail(self, name: str, lines: int = 50) -> str:
        controller = self.running.get(name)
        return controller.child.log_tail(lines) if controller else ""

    def _start_ready(self, name: str, binary: Path) -> Controller:
        """Start `name` and wait until it is ready and listens on every port it was given.
        A port picked free can be taken by another process before the controller binds it
        (its probe answers before its metrics server binds): then it starts again on new
        ports, PORT_ATTEMPTS times at most."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            controller = self._start(name, binary)
            try:
                self._wait_ready(controller)
                self._wait_listening(controller)
                return controller
            except ControllerFailed:
                taken = ADDRESS_IN_USE in controller.child.log_tail(200)
                controller.child.stop()
                if not taken or attempt == PORT_ATTEMPTS:
                    raise
                log = controller.child.log_path  # kept apart: the next start logs anew
                log.rename(log.with_name(f"{log.stem}.port-taken-{attempt}{log.suffix}"))
        raise AssertionError("unreachable")

    def _wait_listening(self, controller: Controller) -> None:
        """Every port of the controller is listened on by the controller itself (not by a
        process that took it first), or ControllerFailed."""
        deadline = time.monotonic() + READY_TIMEOUT
        wanted = {controller.metrics_port, *controller.ports.values()}
        while True:
            if not controller.child.running():
                raise ControllerFailed(
                    f"{controller.name} exited with {controller.child.popen.returncode} after "
                    f"it was ready; its last log lines:\n{controller.child.log_tail(50)}")
            missing = wanted - listening_ports(controller.child.pid)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ControllerFailed(
                    f"{controller.name} does not listen on {sorted(missing)} after "
                    f"{READY_TIMEOUT:g} s; its last log lines:\n{controller.child.log_tail(50)}")
            time.sleep(0.1)

    def _start(self, name: str, binary: Path) -> Controller:
        assert self._tmp is not None
        ports = {port: free_port() for port in PORTS[name]}
        health, metrics = free_port(), free_port()
        events = self.running.get("notification-controller")
        storage = self._tmp / f"{name}-data"
        storage.mkdir(exist_ok=True)
        argv = [
            str(binary), *controller_args(name, ports, events and events.url("events") + "/",
                                          storage),
            f"--health-addr=127.0.0.1:{health}", f"--metrics-addr=127.0.0.1:{metrics}",
            *self.extra_args.get(name, []),
        ]
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "RUNTIME_NAMESPACE": self.runtime_namespace,
            "TMPDIR": str(self._tmp),
            "TUF_ROOT": str(self._tmp / f"{name}-sigstore"),
            "HOME": str(self._tmp),
        }
        child = Child(name, argv, self.log_dir / f"{name}.log", env=env)
        return Controller(name, child, health, metrics, ports)

    def _wait_ready(self, controller: Controller) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        url = f"http://127.0.0.1:{controller.health_port}/readyz"
        last = "no answer"
        while time.monotonic() < deadline:
            if not controller.child.running():
                raise ControllerFailed(
                    f"{controller.name} exited with {controller.child.popen.returncode}; "
                    f"its last log lines:\n{controller.child.log_tail(50)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as err:
                last = str(err)
            time.sleep(0.1)
        raise ControllerFailed(
            f"{controller.name} was not ready after {READY_TIMEOUT:g} s ({last}); its last "
            f"log lines:\n{controller.child.log_tail(50)}")
