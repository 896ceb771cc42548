"""A run that is asked to end ends its pytest the way Ctrl-C does: fixtures torn down.

`receiver-conformance run` runs the scenarios in a child pytest. SIGTERM to the command is
passed on to that child as SIGINT; a command killed outright (SIGKILL) leaves the kernel to
send the child SIGINT. Either way the child's session fixtures (the control plane, the
receiver, the node in real runs) are torn down and nothing outlives the run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from receiver_conformance.controlplane.processes import pid_alive
from receiver_conformance.kube import wait_until
from tests.checkout import REPO_ROOT

FEATURE = """\
Feature: A long scenario

  @core @id:long
  Scenario: a scenario that waits
    Given a resource that must be released
    Then the scenario waits for a long time
"""

STEPS = """\
import os
import time
from pathlib import Path

import pytest
from pytest_bdd import given, scenarios, then

HERE = Path(__file__).parent
scenarios(str(HERE / "features" / "long.feature"))


@pytest.fixture(scope="session")
def resource():
    (HERE / "pytest.pid").write_text(str(os.getpid()))
    yield
    (HERE / "released").write_text("torn down")


@given("a resource that must be released")
def held(resource):
    pass


@then("the scenario waits for a long time")
def waits():
    (HERE / "waiting").write_text("")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.1)
"""

CONFTEST = """\
from pathlib import Path

import pytest

from receiver_conformance.targets.base import Target


@pytest.fixture(scope="session")
def target():
    return Target("embedded", Path("/nonexistent"), "http://127.0.0.1:9", frozenset({"api"}))
"""


@pytest.fixture
def long_suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    (root / "features").mkdir(parents=True)
    (root / "features" / "long.feature").write_text(FEATURE)
    (root / "test_long.py").write_text(STEPS)
    (root / "conftest.py").write_text(CONFTEST)
    return root


def _start(suite: Path, out: Path, sigint_ignored: bool) -> subprocess.Popen[str]:
    """The run, started as a shell's background job starts it when `sigint_ignored` (SIGINT
    ignored, which its children inherit)."""
    def ignore() -> None:
        if sigint_ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [sys.executable, "-m", "receiver_conformance.cli", "run", "--steps", str(suite),
         "--report-dir", str(out), "--profile", "all"],
        cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=ignore)


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["", "sigint-ignored"])
@pytest.mark.parametrize(("sig", "status", "line"), [
    (signal.SIGTERM, 143, "receiver-conformance: error: terminated"),
    (signal.SIGKILL, -signal.SIGKILL, None),
], ids=["sigterm", "sigkill"])
def test_an_ended_run_tears_its_pytest_down(
    long_suite: Path, tmp_path: Path, sig: signal.Signals, status: int, line: str | None,
    sigint_ignored: bool,
) -> None:
    run = _start(long_suite, tmp_path / "out", sigint_ignored)
    try:
        wait_until(lambda: (long_suite / "waiting").exists(), 60, "the scenario to start")
        child = int((long_suite / "pytest.pid").read_text())
        started = time.monotonic()
        run.send_signal(sig)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == status, stderr
    if line is not None:
        assert stderr.strip().splitlines()[-1] == line
    wait_until(lambda: (long_suite / "released").exists(), 60 - (time.monotonic() - started),
               "the child pytest to tear its session fixture down")
    wait_until(lambda: not pid_alive(child), 30, "the child pytest to end")
