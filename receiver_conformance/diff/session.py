"""A whole diff: control plane, both sides' objects and receivers, the run, the report."""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from receiver_conformance.diff import report, targets
from receiver_conformance.diff.cluster import Cluster
from receiver_conformance.diff.known import Known
from receiver_conformance.diff.runner import Budget, DiffRun
from receiver_conformance.diff.world import Side
from receiver_conformance.kube import api_client


def _say(message: str) -> None:
    print(f"diff: {message}", flush=True)


def diff(left: str, right: str, budget: Budget, report_dir: Path,
         known: dict[str, Known] | None = None) -> DiffRun:
    """Run `left` and `right` against one embedded control plane; write the report, with the
    cause of each finding `known` explains."""
    from receiver_conformance.controlplane import ControlPlane

    began = time.monotonic()
    sides = (Side("left", left), Side("right", right))
    logs = report_dir / "logs"
    with ExitStack() as stack:
        plane = stack.enter_context(ControlPlane(workdir=Path(tempfile.gettempdir()),
                                                 log=lambda m: print(m, file=sys.stderr)))
        assert plane.kubeconfig is not None
        api = stack.enter_context(api_client(plane.kubeconfig))
        cluster = Cluster(api, sides)
        cluster.create_namespaces()
        cluster.populate()
        urls = {}
        for side in sides:
            urls[side.name] = stack.enter_context(
                targets.running(side, plane.kubeconfig, logs / side.name))
            _say(f"{side.name}: {side.implementation} watching {side.namespace}")
        run = DiffRun(cluster, urls, budget, progress=_say)
        run.run()
    wall = time.monotonic() - began
    report.write(run, report_dir, wall, known or {})
    _say(report.figures_line(run, wall, known or {}))
    _say(f"report: {report_dir}/report.md")
    return run
