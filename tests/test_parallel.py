"""Scenarios in several processes at once (--workers): the turns, the target handed to the
workers, the settings, and a real run on the embedded target that leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from receiver_conformance.config import ConfigError, resolve
from receiver_conformance.controlplane.processes import pid_alive
from receiver_conformance.invocation import pytest_argv
from receiver_conformance.kube import wait_until
from receiver_conformance.parallel import NotShareable, Turns, from_wire, to_wire
from receiver_conformance.senders.gcr import TestGoogleIssuer
from receiver_conformance.targets import registry
from receiver_conformance.targets.base import LogFile, Target
from tests.checkout import REPO_ROOT

BLOCKED = 0.3  # how long a turn that must wait is watched not to start


class Holder:
    """A thread that takes a turn and keeps it until released."""

    def __init__(self, turn: Callable[[], AbstractContextManager[None]]) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(turn,), daemon=True)
        self.thread.start()

    def _hold(self, turn: Callable[[], AbstractContextManager[None]]) -> None:
        with turn():
            self.entered.set()
            self.release.wait(30)

    def done(self) -> None:
        self.release.set()
        self.thread.join(30)


def test_shared_turns_run_together(tmp_path: Path) -> None:
    turns = Turns(tmp_path)
    first, second = Holder(turns.shared), Holder(turns.shared)
    assert first.entered.wait(10) and second.entered.wait(10)
    first.done()
    second.done()


def test_a_turn_alone_waits_for_the_room_and_keeps_newcomers_out(tmp_path: Path) -> None:
    turns = Turns(tmp_path)
    shared = Holder(turns.shared)
    assert shared.entered.wait(10)
    alone = Holder(turns.alone)
    assert not alone.entered.wait(BLOCKED), "alone while a shared scenario runs"
    late = Holder(turns.shared)  # arrives while the serial one waits: it goes after it
    assert not late.entered.wait(BLOCKED), "a newcomer overtook the waiting serial scenario"
    shared.done()
    assert alone.entered.wait(10)
    assert not late.entered.wait(BLOCKED), "a shared scenario ran beside a serial one"
    alone.done()
    assert late.entered.wait(10)
    late.done()


def test_a_target_crosses_to_the_workers_whole(tmp_path: Path) -> None:
    issuer = TestGoogleIssuer()
    target = Target(
        "embedded", tmp_path / "kubeconfig", "http://127.0.0.1:9292",
        frozenset({"api", "receiver-log"}), details={"control plane": "v1.37.2"},
        google_issuer=issuer, log_tail=LogFile(tmp_path / "receiver.log"),
        kubectl=tmp_path / "kubectl", metrics_url="http://127.0.0.1:8080/metrics",
        disposable=True)
    wire = json.loads(json.dumps(to_wire(target, tmp_path / "keys")))  # plain data only
    back = from_wire(wire)
    for name in ("name", "kubeconfig", "receiver_url", "capabilities", "details", "kubectl",
                 "metrics_url", "disposable", "namespace", "receiver_namespace"):
        assert getattr(back, name) == getattr(target, name), name
    assert isinstance(back.log_tail, LogFile) and back.log_tail.path == tmp_path / "receiver.log"
    assert back.google_issuer.kid == issuer.kid  # the same key: the receiver trusts its tokens
    assert (tmp_path / "keys" / "signing-key.pem").stat().st_mode & 0o077 == 0


def test_a_target_whose_log_is_no_file_stays_with_its_process(tmp_path: Path) -> None:
    target = Target("node", tmp_path, "http://x", log_tail=lambda: "")
    with pytest.raises(NotShareable, match="not a file"):
        to_wire(target, tmp_path / "keys")


@pytest.mark.parametrize(("settings", "says"), [
    ({"RC_WORKERS": "0"}, "RC_WORKERS='0': expected a whole number"),
    ({"RC_WORKERS": "two"}, "RC_WORKERS='two': expected a whole number"),
    ({"RC_WORKERS": "2", "RC_TARGET": "node"}, "the node target runs one scenario at a time"),
    ({"RC_WORKERS": "2", "RC_TARGET": "kind"}, "the kind target runs one scenario at a time"),
    ({"RC_WORKERS": "2", "RC_TARGET": "external", "RC_NAMESPACE": "work"},
     "need a namespace each; RC_NAMESPACE gives one"),
])
def test_workers_that_cannot_be_are_refused(settings: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(")):
        registry.validate(resolve({}, settings))


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` now."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.controlplane
def test_a_run_with_workers_reports_everything_and_leaves_nothing(tmp_path: Path) -> None:
    """Two workers on the embedded target: every scenario in the report in the suite's
    order, cucumber.json too; a run ended by SIGTERM leaves no process behind."""
    chosen = ("github-delivery-accepted", "guide-sender-refused/gitlab-wrong-token",
              "limit-unknown-path-404", "token-rotation")
    argv = [sys.executable, "-m", "receiver_conformance.cli", "run", "--workers", "2",
            "--profile", "all", *(f"--scenario={s}" for s in chosen)]
    out = tmp_path / "out"
    done = subprocess.run([*argv, "--report-dir", str(out)], cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    ran = [s["scenario_id"] for s in results["scenarios"]]
    assert len(ran) == len(set(ran)) >= len(chosen)
    assert results["target"]["name"] == "embedded"
    collected = subprocess.run(
        [*pytest_argv(), "--collect-only", "-q", *(f"--scenario={s}" for s in chosen)],
        cwd=REPO_ROOT, text=True, capture_output=True, timeout=120).stdout.splitlines()
    in_order = [line.split("::", 1)[1] for line in collected if "::" in line]
    assert [s["id"].split("::", 1)[1] for s in results["scenarios"]] == in_order
    cucumber = json.loads((out / "cucumber.json").read_text())
    assert sum(len(f["elements"]) for f in cucumber) == len(ran)

    run = subprocess.Popen([*argv, "--report-dir", str(tmp_path / "ended")], cwd=REPO_ROOT,
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        assert run.stdout is not None
        for line in run.stdout:  # the first scenario has run: the workers are up
            if line[:4] in ("PASS", "FAIL"):
                break
        started = _descendants(run.pid)
        assert len(started) >= 5, "fewer processes than a plane, a receiver and two workers"
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 143
    wait_until(lambda: not any(pid_alive(p) for p in started), 60,
               "every process of the run to be gone")


def test_a_target_that_cannot_start_ends_a_parallel_run_with_one_line(tmp_path: Path) -> None:
    """The controlling process starts the target before any worker: with no control-plane
    binaries to be had (none cached, no Go), the run ends there, exit 2 and one line, and
    no worker was started."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RC_", "PYTEST_", "KUBEBUILDER_"))}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PATH=str(tmp_path / "no-go"), LANG="C")
    done = subprocess.run([*pytest_argv(), "-p", "no:cacheprovider", "--workers", "2",
                           "--scenario", "token-rotation"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    # pytest names the reason on stderr and again in its summary: one reason, one stderr line.
    reasons = {line.strip(" !").removeprefix("_pytest.outcomes.")
               for line in output.splitlines() if "KUBEBUILDER_ASSETS" in line}
    assert len(reasons) == 1, output
    assert reasons.pop().startswith("Exit: cannot start the embedded control plane: "), output
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in output
    assert "created:" not in output, "workers were started:\n" + output
