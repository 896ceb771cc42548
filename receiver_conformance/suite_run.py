"""Run the conformance scenarios in a subprocess against an external target; read the outcome.

Used by the broken receivers' teeth (tests/test_suite_teeth.py) and by `make mutation`,
which run many receivers one after the other on a control plane they throw away.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from receiver_conformance.invocation import pytest_argv
from receiver_conformance.kube import Kube, api_client

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


_RECEIVERS = ("notification.toolkit.fluxcd.io", "v1", "receivers")


def suite_command(kubeconfig: Path, receiver_url: str, *selection: str,
                  work_namespace: str | None = None, disposable: bool = False) -> list[str]:
    argv = [*pytest_argv(), "-q", "--target", "external", "--kubeconfig", str(kubeconfig),
            "--receiver-url", receiver_url]
    if work_namespace:
        argv += ["--work-namespace", work_namespace]
    if disposable:
        argv.append("--disposable-cluster")
    return argv + list(selection)


def suite_env() -> dict[str, str]:
    """This environment without anything that would choose a target for the child. A run
    that deletes its namespaces does not wait for them to go (the next receiver releases
    their Receivers)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RC_", "PYTEST_XDIST_")) and k not in _DROPPED_ENV}
    return {**env, "RC_NAMESPACES_GONE_TIMEOUT": "0"}


def run_suite(kubeconfig: Path, receiver_url: str, *selection: str,
              work_namespace: str | None = None, timeout: float = SUITE_TIMEOUT,
              disposable: bool = False) -> SuiteRun:
    """The scenarios with `--target external ... <selection>`, from the installed package;
    `disposable`: the cluster is thrown away later, so the scenarios' namespaces stay (see
    `release_receivers`)."""
    with tempfile.TemporaryDirectory(prefix="rc-suite-") as scratch:
        junit = Path(scratch) / "junit.xml"
        argv = suite_command(kubeconfig, receiver_url, *selection,
                             work_namespace=work_namespace, disposable=disposable)
        done = subprocess.run(
            [*argv, f"--junitxml={junit}"], env=suite_env(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        )
        outcomes, messages = read_junit(junit) if junit.exists() else ({}, {})
    return SuiteRun(done.returncode, outcomes, messages, done.stdout + done.stderr)


def release_receivers(kubeconfig: Path) -> int:
    """Delete every Receiver on the cluster, their finalizers dropped, and return how many.

    Between two receivers on one throwaway control plane: the disposable runs left their
    namespaces, and the next receiver would otherwise reconcile every Receiver of every
    earlier run. Deleting those namespaces instead costs the API server far more (the
    namespace controller lists and deletes every resource type in each, twice)."""
    with api_client(kubeconfig) as api:
        custom = Kube(api).custom
        items = custom.list_cluster_custom_object(*_RECEIVERS)["items"]
        for item in items:
            meta = item["metadata"]
            where = (*_RECEIVERS[:2], meta["namespace"], _RECEIVERS[2], meta["name"])
            try:
                custom.delete_namespaced_custom_object(*where)
                custom.patch_namespaced_custom_object(*where, {"metadata": {"finalizers": None}})
            except ApiException as err:
                if err.status != 404:  # gone already: what was wanted
                    raise
    return len(items)


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
