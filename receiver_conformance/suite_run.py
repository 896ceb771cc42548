"""Run the conformance scenarios in a subprocess against an external target; read the outcome.

Used by the broken receivers' teeth (tests/test_suite_teeth.py) and by `make mutation`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.invocation import pytest_argv

SUITE_TIMEOUT = 600.0
_DROPPED_ENV = ("KUBECONFIG", "PYTEST_ADDOPTS")


@dataclass(frozen=True)
class SuiteRun:
    """What one run of the suite did: its exit code, each scenario's outcome, its output."""

    returncode: int
    outcomes: dict[str, str]  # scenario id -> passed|failed|error|skipped
    messages: dict[str, str]  # scenario id -> first line of its failure, error or skip
    output: str

    def named(self, outcome: str) -> set[str]:
        return {name for name, got in self.outcomes.items() if got == outcome}

    def explain(self, names: Sequence[str] | set[str] = ()) -> str:
        """The outcomes of `names` (all by default) and the tail of the output."""
        shown = sorted(names or self.outcomes)
        lines = [f"  {self.outcomes.get(n, 'not run')}: {n}  {self.messages.get(n, '')}"
                 for n in shown]
        return "\n".join([*lines, "--- output (tail) ---", *self.output.splitlines()[-25:]])


def suite_command(kubeconfig: Path, receiver_url: str, *selection: str,
                  work_namespace: str | None = None) -> list[str]:
    argv = [*pytest_argv(), "-q", "--target", "external", "--kubeconfig", str(kubeconfig),
            "--receiver-url", receiver_url]
    if work_namespace:
        argv += ["--work-namespace", work_namespace]
    return argv + list(selection)


def suite_env() -> dict[str, str]:
    """This environment without anything that would choose a target for the child. The
    clusters of these runs are thrown away after them: the scenarios' namespaces are deleted,
    but the run does not wait for them to go (the next receiver releases their Receivers)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RC_") and k not in _DROPPED_ENV}
    return {**env, "RC_NAMESPACES_GONE_TIMEOUT": "0"}


def run_suite(kubeconfig: Path, receiver_url: str, *selection: str,
              work_namespace: str | None = None, timeout: float = SUITE_TIMEOUT) -> SuiteRun:
    """The scenarios with `--target external ... <selection>`, from the installed package."""
    with tempfile.TemporaryDirectory(prefix="rc-suite-") as scratch:
        junit = Path(scratch) / "junit.xml"
        argv = suite_command(kubeconfig, receiver_url, *selection,
                             work_namespace=work_namespace)
        done = subprocess.run(
            [*argv, f"--junitxml={junit}"], env=suite_env(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        )
        outcomes, messages = read_junit(junit) if junit.exists() else ({}, {})
    return SuiteRun(done.returncode, outcomes, messages, done.stdout + done.stderr)


def read_junit(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each test case's outcome and first message, by its scenario id (the test name for a
    case without one); a failure outranks an error, then a skip."""
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        ids = [p.get("value", "") for p in case.iter("property") if p.get("name") == "scenario_id"]
        name = ids[0] if ids else case.get("name", "")
        outcome, message = "passed", ""
        for tag, label in (("skipped", "skipped"), ("error", "error"), ("failure", "failed")):
            found = case.find(tag)
            if found is not None:
                outcome = label
                lines = (found.get("message") or "").strip().splitlines()
                message = lines[0] if lines else ""
        outcomes[name] = outcome
        messages[name] = message
    return outcomes, messages
