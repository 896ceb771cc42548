"""`receiver-conformance node up|down|env`: a node for the control plane of `cluster up`.

`up` starts a small background process (`python -m receiver_conformance.standalone.node serve DIR`) that
owns the node and keeps it until `down` sends it SIGTERM; its state file tells the other
commands where it is. The node's reaper removes it if that process dies; `cluster down`
first takes the node down too.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.controlplane.pki import ControlPlanePKI, pki_in
from receiver_conformance.gobuild import cache_root
from receiver_conformance.node import packages
from receiver_conformance.standalone import background
from receiver_conformance.standalone import plane as control_plane

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
    return background.read_state(state_dir())


def _running_plane() -> RunningPlane:
    state = background.read_state(control_plane.state_dir())
    if not state:
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
    try:
        state = background.start("receiver_conformance.standalone.node", directory, UP_TIMEOUT)
    except background.BackgroundError as err:
        raise NodeCommandError(f"the node did not start: {err} "
                               f"(see {directory / background.LOG_FILE})") from None
    return (f"node {state['name']} Ready at {state['node_ip']} "
            f"(pods run {state['busybox_image']})")


def node_down() -> str:
    """Stop the background node, waiting until it is gone."""
    state = _state()
    if not state:
        return "no node is running"
    try:
        background.stop(state)
    except background.BackgroundError as err:
        raise NodeCommandError(f"the node did not stop: {err}") from None
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
    from receiver_conformance.node.node import Node

    signal.pthread_sigmask(signal.SIG_BLOCK, background.OWNER_SIGNALS)
    try:
        node = Node(_running_plane()).start()
    except Exception as err:  # one line for `up` to show; the details are above it
        print(f"error: {type(err).__name__}: {str(err).splitlines()[0]}", flush=True)
        return 2
    plane = node.plane
    try:
        background.write_state(directory, {
            "kubeconfig": str(plane.kubeconfig), "name": node.name, "node_ip": node.node_ip,
            "busybox_image": node.busybox_image, "dir": str(node.dir)})
        signal.sigwait(background.OWNER_SIGNALS)
    finally:
        background.clear_state(directory)
        node.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    sys.exit("usage: python -m receiver_conformance.standalone.node serve DIR")
