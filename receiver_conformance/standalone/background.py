"""A background owner process for the `cluster` and `node` commands, and its state file.

`start()` runs `python -m MODULE serve DIR` in a session of its own and waits until it has
written DIR/state.json (`write_state`, with its pid) or has exited; `read_state()` returns
that state while the process lives; `stop()` sends it SIGTERM and waits until it is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from receiver_conformance.controlplane.plane import _python_env
from receiver_conformance.controlplane.processes import pid_alive

STATE_FILE = "state.json"
LOG_FILE = "serve.log"
OWNER_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


class BackgroundError(Exception):
    """The background process did not start or stop; the message is one line."""


def read_state(directory: Path) -> dict[str, Any] | None:
    """The state the owner wrote, or None when there is none or its process is gone."""
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if pid_alive(state.get("pid", -1)) else None


def write_state(directory: Path, state: dict[str, Any]) -> None:
    """Write the owner's state (its pid added) in one step."""
    tmp = directory / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **state}))
    tmp.replace(directory / STATE_FILE)


def clear_state(directory: Path) -> None:
    (directory / STATE_FILE).unlink(missing_ok=True)


def start(module: str, directory: Path, timeout: float) -> dict[str, Any]:
    """Start `python -m MODULE serve DIRECTORY` and wait for its state; BackgroundError
    with the last line of its log if it exits first or takes longer than `timeout`."""
    directory.mkdir(parents=True, exist_ok=True)
    clear_state(directory)
    with open(directory / LOG_FILE, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", module, "serve", str(directory)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_python_env(), start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(directory)
        if state:
            return state
        if server.poll() is not None:
            tail = (directory / LOG_FILE).read_text(errors="replace").strip().splitlines()
            raise BackgroundError(tail[-1].removeprefix("error: ") if tail else "?")
        time.sleep(0.2)
    server.terminate()
    raise BackgroundError(f"not up after {timeout:g} s")


def stop(state: dict[str, Any], timeout: float = 60) -> None:
    """SIGTERM to the owner of `state`, then wait until it is gone."""
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(state["pid"]):
        if time.monotonic() > deadline:
            raise BackgroundError(f"pid {state['pid']} did not stop")
        time.sleep(0.1)
