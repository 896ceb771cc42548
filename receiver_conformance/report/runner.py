"""Run the scenarios under pytest in a child process and follow them as they finish."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from receiver_conformance import distribution
from receiver_conformance.controlplane.processes import die_with_parent, stop_process
from receiver_conformance.invocation import pytest_argv

PROFILE_MARKERS = {
    "core": "core",
    "extended": "core or extended",
    "all": None,
}


class Terminated(Exception):
    """The run was asked to end (SIGTERM): the child pytest tears down as on Ctrl-C."""


@dataclass
class RunRequest:
    """What to run, against what, and where the reports go."""

    target: str  # where, as shown in the report
    profile: str
    report_dir: Path
    steps_dir: Path
    tags: str | None = None
    receiver: str | None = None  # what runs there: reference, flux; None: the user's own
    implementation: dict[str, str] = field(default_factory=dict)
    # The target settings as the plugin's flags (config.pytest_args), then the user's own.
    pytest_args: list[str] = field(default_factory=list)


@dataclass
class RunOutcome:
    pytest_exit_status: int
    wall_time: float
    log: Path
    results: Path


def marker_expression(profile: str, tags: str | None) -> str | None:
    """The pytest -m expression for a profile and an optional tag expression."""
    if profile not in PROFILE_MARKERS:
        raise ValueError(f"unknown profile {profile!r}")
    parts = [p for p in (PROFILE_MARKERS[profile], tags) if p]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" for p in parts)


def pytest_command(request: RunRequest, live_fd: int) -> list[str]:
    """The command line of the child pytest."""
    out = request.report_dir
    command = [
        *pytest_argv(request.steps_dir),
        "-p", "receiver_conformance.report.collector",
        f"--results-json={out / 'results.json'}",
        f"--live-fd={live_fd}",
        f"--junitxml={out / 'junit.xml'}",
        f"--cucumberjson={out / 'cucumber.json'}",
        "--color=no",
        "-q",
    ]  # fmt: skip
    expression = marker_expression(request.profile, request.tags)
    if expression:
        command += ["-m", expression]
    return command + list(request.pytest_args)


def run_pytest(request: RunRequest, on_scenario: Callable[[dict[str, Any]], None]) -> RunOutcome:
    """Run the child pytest, calling on_scenario as each scenario finishes."""
    request.report_dir.mkdir(parents=True, exist_ok=True)
    results = request.report_dir / "results.json"
    results.unlink(missing_ok=True)
    log = request.report_dir / "pytest.log"
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    with log.open("wb") as log_file:
        try:
            # A killed run (SIGKILL) still ends its pytest the way Ctrl-C does: with teardown.
            child = subprocess.Popen(
                pytest_command(request, write_fd),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                env=_child_env(),
                preexec_fn=_interruptible,
            )
        finally:
            os.close(write_fd)
        try:
            with _terminated_by_sigterm(child):
                with os.fdopen(read_fd, encoding="utf-8", errors="replace") as events:
                    for line in events:
                        with contextlib.suppress(ValueError):
                            on_scenario(json.loads(line))
                status = child.wait()
        except (KeyboardInterrupt, Terminated):
            _stop(child)
            raise
    return RunOutcome(status, time.monotonic() - started, log, results)


def _interruptible() -> None:
    """In the child before exec: SIGINT is Ctrl-C's KeyboardInterrupt again, even when this
    run was started with it ignored (a background job of a shell ignores SIGINT, and its
    children inherit that), and the kernel sends it when this process dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent(signal.SIGINT)


@contextlib.contextmanager
def _terminated_by_sigterm(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """While the child runs, SIGTERM sends it SIGINT (the teardown of Ctrl-C) and raises
    Terminated here. A Ctrl-C in a terminal reaches both processes already."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGINT)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_metadata(request: RunRequest, started: datetime, wall_time: float) -> dict[str, Any]:
    """The 'run' section of results.json: who, what, when."""
    return {
        "implementation": dict(request.implementation),
        "target": request.target,
        "receiver": request.receiver,
        "profile": request.profile,
        "tags": request.tags,
        "suite": {"version": distribution.version(), "commit": distribution.commit()},
        "date": started.astimezone(UTC).isoformat(timespec="seconds"),
        "wall_time": round(wall_time, 3),
    }


def _child_env() -> dict[str, str]:
    """This environment without the RC_* variables: the run configuration was resolved from
    them already and reaches the child as flags, so nothing is read twice."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RC_")}


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Give the child pytest time to tear its fixtures down, then end it."""
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_process(child, grace=10)
