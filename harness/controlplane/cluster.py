"""`receiver-conformance cluster up|down|env`: an embedded control plane for manual use.

`up` starts a small background server process
(`python -m harness.controlplane.cluster serve DIR`) that
owns the control plane and keeps it until `down` sends it SIGTERM. Its state file tells the
other commands where it is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.controlplane.binaries import cache_dir
from harness.controlplane.plane import ControlPlane, _python_env
from harness.controlplane.processes import pid_alive

UP_TIMEOUT = 900.0  # the first `up` on a machine may build the binaries


class ClusterError(Exception):
    """A cluster command cannot do what was asked; the message is one line."""


def state_dir() -> Path:
    return cache_dir().parent.parent / "cluster"


def _state() -> dict | None:
    try:
        state = json.loads((state_dir() / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if pid_alive(state.get("pid", -1)) else None


def cluster_up() -> str:
    """Start the control plane in the background (or find the running one)."""
    running = _state()
    if running:
        return f"already running\nexport KUBECONFIG={running['kubeconfig']}"
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.json").unlink(missing_ok=True)
    with open(directory / "serve.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "harness.controlplane.cluster", "serve", str(directory)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_python_env(), start_new_session=True,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline:
        state = _state()
        if state:
            return f"control plane up at {state['server']}\nexport KUBECONFIG={state['kubeconfig']}"
        if server.poll() is not None:
            tail = (directory / "serve.log").read_text(errors="replace").strip().splitlines()
            raise ClusterError(f"the control plane did not start: {tail[-1] if tail else '?'}")
        time.sleep(0.2)
    server.terminate()
    raise ClusterError(f"the control plane was not up after {UP_TIMEOUT:g} s")


def cluster_down() -> str:
    """Stop the background control plane, waiting until it is gone."""
    state = _state()
    if not state:
        return "no control plane is running"
    from harness.node.cluster import node_down

    node_down()  # a node of this control plane goes first
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 60
    while pid_alive(state["pid"]):
        if time.monotonic() > deadline:
            raise ClusterError(f"the control plane (pid {state['pid']}) did not stop")
        time.sleep(0.1)
    return "control plane stopped"


def cluster_env() -> str:
    """The shell line that points kubectl and the suite at the running control plane."""
    state = _state()
    if not state:
        raise ClusterError(
            "no control plane is running; start one: receiver-conformance cluster up"
        )
    return f"export KUBECONFIG={state['kubeconfig']}"


def serve(directory: Path) -> int:
    """Own a control plane until SIGTERM or SIGINT."""
    caught = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, caught)
    plane = ControlPlane(workdir=directory).start()
    try:
        state = {"pid": os.getpid(), "kubeconfig": str(plane.kubeconfig), "server": plane.server}
        tmp = directory / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(directory / "state.json")
        signal.sigwait(caught)
    finally:
        (directory / "state.json").unlink(missing_ok=True)
        plane.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    sys.exit("usage: python -m harness.controlplane.cluster serve DIR")
