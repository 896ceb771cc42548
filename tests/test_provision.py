"""`run` builds what its target needs in the foreground, and shows its progress."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from receiver_conformance import config
from receiver_conformance.cli import LiveView
from receiver_conformance.targets import provision, registry
from tests.checkout import REPO_ROOT


def _config(**given: object) -> config.RunConfig:
    return registry.validate(config.resolve(given, {}))


@pytest.mark.parametrize(("given", "count", "last"), [
    ({}, 3, "Flux's controllers"),
    ({"target": "flux", "notification_controller": "v1.6.0"}, 4, "notification-controller v1.6.0"),
    ({"target": "external", "receiver_url": "http://h:1", "kubeconfig": "/k"}, 0, None),
    ({"target": "kind"}, 0, None),  # kind builds images of its own, in its own steps
])
def test_what_each_target_needs(given: dict[str, object], count: int, last: str | None) -> None:
    needed = provision.parts(_config(**given))
    assert len(needed) == count
    if last:
        assert needed[-1].what.startswith(last)


def test_each_missing_part_says_what_it_builds_and_how_long() -> None:
    built: list[str] = []
    said: list[str] = []
    needed = [
        provision.Part("a", lambda: True, lambda log: built.append("a")),
        provision.Part("b", lambda: False, lambda log: (log("step"), built.append("b"))),
    ]
    provision.provision(_config(), said.append, needed)
    assert built == ["b"]
    assert said[:2] == ["building b (once; later runs reuse it)", "  step"]
    assert said[2].startswith("built b in ") and said[2].endswith(" s")


def test_a_build_that_cannot_happen_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """No cached binaries and no Go on PATH: run stops before pytest, in one line."""
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "receiver_conformance.cli", "run",
                           "--report-dir", str(tmp_path / "out")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert errors == [errors[0]] and "cannot build what the embedded target needs: " in errors[0]
    assert "no Go toolchain" in errors[0]
    assert not (tmp_path / "out").exists()


EVENTS = [{"event": "collected", "total": 2},
          {"event": "scenario", "feature": "F", "name": "one", "outcome": "passed",
           "duration": 1.0},
          {"event": "scenario", "feature": "F", "name": "two", "outcome": "skipped",
           "duration": 0.0, "skip_reason": "lacks traffic"}]


@pytest.mark.parametrize(("counter", "first", "second"), [
    (True, "[1/2] 1 s  PASS  F: one  (1.00 s)",
     "[2/2] 1 min 12 s  SKIP  F: two  (0.00 s)  — lacks traffic"),
    (False, "PASS  F: one  (1.00 s)", "SKIP  F: two  (0.00 s)  — lacks traffic"),
])
def test_a_terminal_gets_a_counter_and_the_elapsed_time(counter: bool, first: str,
                                                         second: str) -> None:
    times = iter([100.0, 101.0, 172.0])  # the start, then as each scenario ends
    view = LiveView(counter, clock=lambda: next(times))
    out = io.StringIO()
    with redirect_stdout(out):
        for event in EVENTS:
            view(event)
    assert out.getvalue().splitlines() == [first, second]
