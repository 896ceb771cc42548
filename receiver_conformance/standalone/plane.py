"""`receiver-conformance cluster up|down|env`: an embedded control plane for manual use.

`up` starts a small background server process
(`python -m receiver_conformance.standalone.plane serve DIR`) that
owns the control plane and keeps it until `down` sends it SIGTERM. Its state file tells the
other commands where it is.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from receiver_conformance.controlplane.binaries import cache_dir
from receiver_conformance.controlplane.plane import ControlPlane
from receiver_conformance.standalone import background

UP_TIMEOUT = 900.0  # the first `up` on a machine may build the binaries


class ClusterError(Exception):
    """A cluster command cannot do what was asked; the message is one line."""


def state_dir() -> Path:
    return cache_dir().parent.parent / "cluster"


def _state() -> dict | None:
    return background.read_state(state_dir())


def cluster_up() -> str:
    """Start the control plane in the background (or find the running one)."""
    running = _state()
    if running:
        return f"already running\nexport KUBECONFIG={running['kubeconfig']}"
    try:
        state = background.start("receiver_conformance.standalone.plane", state_dir(), UP_TIMEOUT)
    except background.BackgroundError as err:
        raise ClusterError(f"the control plane did not start: {err}") from None
    return f"control plane up at {state['server']}\nexport KUBECONFIG={state['kubeconfig']}"


def cluster_down() -> str:
    """Stop the background control plane, waiting until it is gone."""
    state = _state()
    if not state:
        return "no control plane is running"
    from receiver_conformance.standalone.node import node_down

    node_down()  # a node of this control plane goes first
    try:
        background.stop(state)
    except background.BackgroundError as err:
        raise ClusterError(f"the control plane did not stop: {err}") from None
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
    signal.pthread_sigmask(signal.SIG_BLOCK, background.OWNER_SIGNALS)
    plane = ControlPlane(workdir=directory).start()
    try:
        background.write_state(directory, {"kubeconfig": str(plane.kubeconfig),
                                           "server": plane.server})
        signal.sigwait(background.OWNER_SIGNALS)
    finally:
        background.clear_state(directory)
        plane.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    sys.exit("usage: python -m receiver_conformance.standalone.plane serve DIR")
