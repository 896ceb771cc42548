"""`receiver-conformance node up|down|env`: a node for the control plane of `cluster up`.

`up` starts a small background process (`python -m harness.node.cluster serve DIR`) that
owns the node and keeps it until `down` sends it SIGTERM; its state file tells the other
commands where it is. The node's reaper removes it if that process dies; `cluster down`
first takes the node down too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.controlplane import cluster as control_plane
from harness.controlplane.pki import ControlPlanePKI, pki_in
from harness.controlplane.plane import _python_env
from harness.controlplane.processes import pid_alive
from harness.gobuild import cache_root
from harness.node import packages

UP_TIMEOUT = 900.0  # the first `up` on a machine builds kubelet, kube-proxy, kube-scheduler


class NodeCommandError(Exception):
    """A node command cannot do what was asked; the message is one line."""


@dataclass
class RunningPlane:
    """The control plane of `cluster up`, as a node sees it."""

    kubeconfig: Path | None
    server: str | None
    pki: ControlPlanePKI | None


def state_dir() -> Path:
    return cache_root() / "node"


def _state() -> dict | None:
    try:
        state = json.loads((state_dir() / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if pid_alive(state.get("pid", -1)) else None


def _running_plane() -> RunningPlane:
    try:
        state = json.loads((control_plane.state_dir() / "state.json").read_text())
    except (OSError, ValueError):
        state = None
    if not state or not pid_alive(state.get("pid", -1)):
        raise NodeCommandError(
            "no control plane is running; start one first: receiver-conformance cluster up")
    kubeconfig = Path(state["kubeconfig"])
    return RunningPlane(kubeconfig, state["server"], pki_in(kubeconfig.parent / "pki"))


def node_up(install_packages: bool = False) -> str:
    """Start a node in the background (or find the running one)."""
    running = _state()
    if running:
        return f"already running: node {running['name']} at {running['node_ip']}"
    _running_plane()
    try:
        if install_packages:
            packages.install()
        packages.check()
    except packages.PackagesMissing as err:
        raise NodeCommandError(str(err)) from None
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.json").unlink(missing_ok=True)
    with open(directory / "serve.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "harness.node.cluster", "serve", str(directory)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_python_env(), start_new_session=True,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline:
        state = _state()
        if state:
            return (f"node {state['name']} Ready at {state['node_ip']} "
                    f"(pods run {state['busybox_image']})")
        if server.poll() is not None:
            tail = (directory / "serve.log").read_text(errors="replace").strip().splitlines()
            last = tail[-1].removeprefix("error: ") if tail else "?"
            raise NodeCommandError(f"the node did not start: {last} "
                                   f"(see {directory / 'serve.log'})")
        time.sleep(0.2)
    server.terminate()
    raise NodeCommandError(f"the node was not up after {UP_TIMEOUT:g} s")


def node_down() -> str:
    """Stop the background node, waiting until it is gone."""
    state = _state()
    if not state:
        return "no node is running"
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 60
    while pid_alive(state["pid"]):
        if time.monotonic() > deadline:
            raise NodeCommandError(f"the node (pid {state['pid']}) did not stop")
        time.sleep(0.1)
    return f"node {state['name']} stopped"


def node_env() -> str:
    """Shell lines describing the running node."""
    state = _state()
    if not state:
        raise NodeCommandError("no node is running; start one: receiver-conformance node up")
    return "\n".join([
        f"export KUBECONFIG={state['kubeconfig']}",
        f"export RC_NODE_NAME={state['name']}",
        f"export RC_NODE_IP={state['node_ip']}",
        f"export RC_NODE_IMAGE={state['busybox_image']}",
    ])


def serve(directory: Path) -> int:
    """Own a node until SIGTERM or SIGINT."""
    from harness.node.node import Node

    caught = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, caught)
    try:
        node = Node(_running_plane()).start()
    except Exception as err:  # one line for `up` to show; the details are above it
        print(f"error: {type(err).__name__}: {str(err).splitlines()[0]}", flush=True)
        return 2
    plane = node.plane
    try:
        state = {"pid": os.getpid(), "kubeconfig": str(plane.kubeconfig), "name": node.name,
                 "node_ip": node.node_ip, "busybox_image": node.busybox_image,
                 "dir": str(node.dir)}
        tmp = directory / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(directory / "state.json")
        signal.sigwait(caught)
    finally:
        (directory / "state.json").unlink(missing_ok=True)
        node.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    sys.exit("usage: python -m harness.node.cluster serve DIR")
