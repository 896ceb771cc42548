"""Removes a node when the process that owns it dies without doing so.

Run as `python -m receiver_conformance.node.reaper DIR OWNER_PID`. The kernel sends it SIGTERM when its
parent dies (PR_SET_PDEATHSIG); it then removes what DIR/node.json records: every process
of the node's cgroup subtree (with them the namespaces, the pods' network namespaces, the
mounts and the rules made inside), the cgroups, the host route of the edge's LoadBalancer
pool (`receiver_conformance.node.edge`), the host end of the veth pair, and DIR. The owner's normal
shutdown calls the same `clean_up` and then stops the reaper.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from receiver_conformance.controlplane.reaper import reap
from receiver_conformance.node import cgroups
from receiver_conformance.node.netns import ip

STATE_FILE = "node.json"


def record(directory: Path, **fields: str) -> None:
    """Add `fields` to the node's record before the things they name are created."""
    state = read(directory)
    state.update(fields)
    tmp = directory / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(directory / STATE_FILE)


def read(directory: Path) -> dict[str, str]:
    try:
        return json.loads((directory / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def clean_up(directory: Path) -> list[str]:
    """Remove everything the record names, then DIR; what could not be removed."""
    state = read(directory)
    left: list[str] = []
    if state.get("cgroup"):
        left += cgroups.remove(state["cgroup"])
    if state.get("route"):  # the edge's LoadBalancer pool (receiver_conformance/node/edge.py)
        ip("route", "del", state["route"], check=False)
    if state.get("veth"):
        ip("link", "del", state["veth"], check=False)
    shutil.rmtree(directory, ignore_errors=True)
    return left


def main(argv: list[str]) -> int:
    return reap(argv, clean_up)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
