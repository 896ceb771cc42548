"""Removes a control plane's processes and files when the process that owns them dies.

Run as `python -m receiver_conformance.controlplane.reaper DIR OWNER_PID`. The kernel sends it
SIGTERM when its
parent dies (PR_SET_PDEATHSIG); it then kills every pid listed in DIR/pids and removes DIR.
The owner's normal shutdown does the same work itself and then stops the reaper.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from receiver_conformance.controlplane.processes import pid_alive

PIDS_FILE = "pids"


def clean_up(directory: Path) -> None:
    """Kill the listed processes, then remove the directory."""
    try:
        pids = [int(p) for p in (directory / PIDS_FILE).read_text().split()]
    except (OSError, ValueError):
        pids = []
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


def reap(argv: list[str], clean: Callable[[Path], object]) -> int:
    """`DIR OWNER_PID`: wait for the owner's death signal (or find the owner already gone),
    then `clean(DIR)`. Shared by the control plane's and the node's reapers."""
    directory, owner = Path(argv[0]), int(argv[1])
    caught = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, caught)
    # The owner may have died before the death signal was armed.
    if os.getppid() != owner:
        clean(directory)
        return 0
    signal.sigwait(caught)
    clean(directory)
    return 0


def main(argv: list[str]) -> int:
    return reap(argv, clean_up)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
