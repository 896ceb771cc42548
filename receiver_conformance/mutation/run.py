"""`python -m receiver_conformance.mutation.run` (`make mutation`): the sample, run, and its report.

One control plane (with Flux's source- and kustomize-controller) serves the whole run. The
reference is copied to STATE/src, cosmic-ray mutates that copy one mutant at a time, and
its test command (`receiver_conformance.mutation.check`) starts the receiver from the copy and runs the
mutated module's feature files. The repository's own reference/ is never touched.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cosmic_ray.config import serialize_config
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

from receiver_conformance.mutation import equivalents, report
from receiver_conformance.mutation.check import SUITE_TIMEOUT, mutated_modules
from receiver_conformance.mutation.equivalents import Equivalent
from receiver_conformance.mutation.features import SAMPLE, ModuleSample
from receiver_conformance.mutation.mutants import relative_module, session_mutants
from receiver_conformance.mutation.sample import Candidate, draw
from receiver_conformance.paths import PACKAGE, REFERENCE

DOWNSTREAM = ("source-controller", "kustomize-controller")
COSMIC_RAY = Path(sys.executable).with_name("cosmic-ray")
POLL = 5.0  # seconds between progress lines


def prepare(state: Path) -> Path:
    """A fresh STATE with src/reference, a copy of the repository's reference package."""
    if state.exists():
        shutil.rmtree(state)
    src = state / "src"
    shutil.copytree(REFERENCE, src / "reference",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return src


def write_config(state: Path, src: Path, kubeconfig: Path, sample: tuple[ModuleSample, ...],
                 timeout: float) -> Path:
    command = [sys.executable, "-m", "receiver_conformance.mutation.check", "--src", str(src),
               "--kubeconfig", str(kubeconfig), "--timeout", str(timeout)]
    config = {
        "module-path": [str(src / entry.module) for entry in sample],
        "timeout": timeout + 60.0,  # the check times out first and says so
        "excluded-modules": [],
        "test-command": shlex.join(command),
        "distributor": {"name": "local"},
    }
    path = state / "cosmic-ray.toml"
    path.write_text(serialize_config(config))
    return path


def skip_outside_sample(session: Path, src: Path, sample: tuple[ModuleSample, ...],
                        seed: int) -> int:
    """Mark every work item outside the drawn sample skipped; return the sample's size."""
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = db.work_items
        candidates = [Candidate(item.job_id, relative_module(spec.module_path, src),
                                spec.operator_name, spec.occurrence, tuple(spec.start_pos))
                      for item in items for spec in item.mutations]
        chosen = draw(candidates, sample, seed)
        skipped = [item.job_id for item in items if item.job_id not in chosen]
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                    output="not in the sample"))
    return len(chosen)


def exec_with_progress(config: Path, session: Path, log: Path, total: int) -> None:
    """`cosmic-ray exec`, printing a line whenever a mutant is done."""
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(COSMIC_RAY), "exec", str(config), str(session)],
                                cwd=PACKAGE.parent, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        seen = 0
        try:
            while proc.poll() is None or seen == 0:
                done = _judged(session)
                if done != seen:
                    seen = done
                    minutes = (time.monotonic() - started) / 60
                    print(f"  {done}/{total} mutants judged, {minutes:.1f} min", flush=True)
                if proc.poll() is not None:
                    break
                time.sleep(POLL)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
    if proc.returncode != 0:
        raise SystemExit(f"cosmic-ray exec exited {proc.returncode}; see {log}")


def _judged(session: Path) -> int:
    with use_db(str(session), WorkDB.Mode.open) as db:
        return sum(1 for _, r in db.results if r.worker_outcome != WorkerOutcome.SKIPPED)


def baseline(src: Path, kubeconfig: Path, timeout: float) -> None:
    """The unmutated copy must pass every sampled feature, or no verdict means anything."""
    done = subprocess.run(
        [sys.executable, "-m", "receiver_conformance.mutation.check", "--src", str(src), "--kubeconfig",
         str(kubeconfig), "--baseline", "--timeout", str(timeout * 3)],
        cwd=PACKAGE.parent, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"baseline failed: the unmutated reference does not pass:\n"
                         f"{done.stdout}{done.stderr[-2000:]}")
    print(f"baseline: {done.stdout.strip()}", flush=True)


def first_wall_seconds(state: Path, out: Path) -> float:
    """The wall time of the run in `state` (run.json, else the report it wrote to `out`)."""
    for path in (state / "run.json", out / "results.json"):
        if path.is_file():
            return float(json.loads(path.read_text())["wall_seconds"])
    raise SystemExit(f"no wall time of the run in {state} or {out}")


def rejudge(state: Path, out: Path, sample: tuple[ModuleSample, ...], timeout: float,
            known: list[Equivalent], with_baseline: bool = True) -> report.Report:
    """Run the last run's survivors (not argued equivalent) again, e.g. after new scenarios;
    the report is that run's with their new verdicts."""
    session, src = state / "session.sqlite", state / "src"
    if not session.is_file():
        raise SystemExit(f"no run to re-judge in {state}: run make mutation first")
    if changed := mutated_modules(src):
        raise SystemExit(f"reference/ changed since the run ({', '.join(changed)}): run it anew")
    first_wall_seconds(state, out)  # the report needs it: fail before running, not after
    before = list(session_mutants(session, src, PACKAGE))
    modules = {entry.module for entry in sample}
    again = {m.job_id for m in before if m.outcome == "survived" and m.file in modules
             and equivalents.match(m, known) is None}
    redo = state / "rejudge.sqlite"
    redo.unlink(missing_ok=True)
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = [item for item in db.work_items if item.job_id in again]
    with use_db(str(redo), WorkDB.Mode.create) as db:
        db.add_work_items(items)
    print(f"re-judging {len(items)} survivors", flush=True)

    from receiver_conformance.controlplane import ControlPlane
    from receiver_conformance.flux.controllers import FluxControllers

    started = time.monotonic()
    with ControlPlane() as plane, FluxControllers(plane.kubeconfig, DOWNSTREAM):
        assert plane.kubeconfig is not None
        config = write_config(state, src, plane.kubeconfig, sample, timeout)
        if with_baseline:  # the new scenarios must pass the unmutated reference
            baseline(src, plane.kubeconfig, timeout)
        exec_with_progress(config, redo, state / "rejudge.log", len(items))
    seconds = time.monotonic() - started
    (state / "rejudge.json").write_text(json.dumps({"seconds": seconds}) + "\n")
    return report_only(state, out, known)


def report_only(state: Path, out: Path, known: list[Equivalent]) -> report.Report:
    """The report of the run in `state` (its survivors' re-judged verdicts too), written anew
    with the equivalents as they are now."""
    session, src, redo = state / "session.sqlite", state / "src", state / "rejudge.sqlite"
    if not session.is_file():
        raise SystemExit(f"no run in {state}: run make mutation first")
    now = ({m.job_id: m for m in session_mutants(redo, src, PACKAGE)}
           if redo.is_file() else {})
    mutants = [now.get(m.job_id, m) for m in session_mutants(session, src, PACKAGE)]
    built = report.build(mutants, known, first_wall_seconds(state, out))
    if now:
        built.rejudged = len(now)
        seconds = state / "rejudge.json"
        built.rejudge_seconds = (json.loads(seconds.read_text())["seconds"]
                                 if seconds.is_file() else 0.0)
    report.write(built, mutants, out)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m receiver_conformance.mutation.run")
    parser.add_argument("--out", type=Path, default=Path("reports") / "mutation")
    parser.add_argument("--state", type=Path, default=Path("/tmp/mutation-run"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=SUITE_TIMEOUT,
                        help="seconds a mutant's suite run may take")
    parser.add_argument("--module", action="append", default=[],
                        help="only this module of the sample (repeatable)")
    parser.add_argument("--size", type=int, default=None,
                        help="mutants per module instead of the sample's own sizes")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--report-only", action="store_true",
                        help="write the report of the run in --state again (after "
                        "equivalent.yaml changed), running nothing")
    parser.add_argument("--rejudge", action="store_true",
                        help="run only the survivors of the last run in --state again "
                        "(after new scenarios) and report that run with their new verdicts")
    args = parser.parse_args(argv)

    sample = tuple(e for e in SAMPLE if not args.module or e.module in args.module)
    if args.size is not None:
        sample = tuple(ModuleSample(e.module, e.features, e.operators, args.size)
                       for e in sample)
    if not sample:
        parser.error(f"no sampled module among {args.module}")
    known = equivalents.load()  # malformed: fail before an hour is spent
    if args.rejudge or args.report_only:
        built = (report_only(args.state, args.out, known) if args.report_only else
                 rejudge(args.state, args.out, sample, args.timeout, known,
                         with_baseline=not args.no_baseline))
        print(report.markdown(built), flush=True)
        print(f"report: {args.out / 'report.md'}")
        return 0

    from receiver_conformance.controlplane import ControlPlane
    from receiver_conformance.flux.controllers import FluxControllers

    started = time.monotonic()
    src = prepare(args.state)
    session = args.state / "session.sqlite"
    with ControlPlane() as plane, FluxControllers(plane.kubeconfig, DOWNSTREAM):
        assert plane.kubeconfig is not None
        config = write_config(args.state, src, plane.kubeconfig, sample, args.timeout)
        subprocess.run([str(COSMIC_RAY), "init", str(config), str(session)], check=True,
                       cwd=PACKAGE.parent, stdin=subprocess.DEVNULL)
        total = skip_outside_sample(session, src, sample, args.seed)
        print(f"sample: {total} mutants of {len(sample)} modules (seed {args.seed})", flush=True)
        if not args.no_baseline:
            baseline(src, plane.kubeconfig, args.timeout)
        exec_with_progress(config, session, args.state / "exec.log", total)
    wall = time.monotonic() - started
    (args.state / "run.json").write_text(json.dumps({"wall_seconds": wall}) + "\n")
    mutants = list(session_mutants(session, src, PACKAGE))
    built = report.build(mutants, known, wall)
    report.write(built, mutants, args.out)
    print(report.markdown(built, mutants), flush=True)
    print(f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
