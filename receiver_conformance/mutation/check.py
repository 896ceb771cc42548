"""cosmic-ray's test command: is the mutant in SRC caught by the suite?

`python -m receiver_conformance.mutation.check --src SRC --kubeconfig K` finds the one module of
SRC/reference that differs from the repository's, starts the receiver from SRC against the
shared control plane and runs that module's feature files through the external target,
stopping at the first failure. Exit 0: the mutant survived; 1: killed (the first failing
scenario on stdout), a timeout (stdout is just "timeout", as when cosmic-ray kills it) or a
harness error (stdout says so). `--baseline` runs every sampled feature against SRC unmutated.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from receiver_conformance.mutation.features import SAMPLE, features_for
from receiver_conformance.mutation.mutants import HARNESS_ERROR, KILLED_BY, TIMEOUT_OUTPUT
from receiver_conformance.paths import PACKAGE
from receiver_conformance.reference_process import ReferenceReceiver, ReferenceReceiverError
from receiver_conformance.suite_run import SuiteRun, run_suite

# The receiver runs on this host beside Flux's source- and kustomize-controller.
CAPABILITIES = ("oidc-test-issuer", "source-controller", "kustomize-controller", "host-clock")
SUITE_TIMEOUT = 240.0
_REFERENCE = [sys.executable, "-m", "receiver_conformance.reference"]


class MutantReceiver(ReferenceReceiver):
    """The reference receiver loaded from a (mutated) copy of the package in `src`."""

    def __init__(self, kubeconfig: Path, src: Path) -> None:
        super().__init__(kubeconfig, ready_timeout=30.0)
        self.src = src

    def argv(self) -> list[str]:
        argv = super().argv()
        assert argv[:3] == _REFERENCE, f"ReferenceReceiver.argv() changed: {argv[:3]}"
        return [sys.executable, "-m", "receiver_conformance.mutation.launch", str(self.src), "--",
                *argv[3:]]


def mutated_modules(src: Path, repo: Path = PACKAGE) -> list[str]:
    """The modules of src/reference whose text differs from the package's reference/."""
    changed = []
    for path in sorted((src / "reference").rglob("*.py")):
        relative = path.relative_to(src)
        pristine = repo / relative
        if not pristine.is_file() or pristine.read_bytes() != path.read_bytes():
            changed.append(relative.as_posix())
    return changed


def every_feature() -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for entry in SAMPLE for name in entry.features))


def suite_args(features: tuple[str, ...], receiver_log: Path | None = None) -> list[str]:
    """pytest arguments: the declared capabilities, the receiver's log file when there is one
    (receiver-log), the features' scenarios, stop at the first failure."""
    caps = [arg for cap in CAPABILITIES for arg in ("--capability", cap)]
    log = [f"--receiver-log={receiver_log}"] if receiver_log else []
    return [*caps, *log, "--no-probe", "-p", "receiver_conformance.mutation.select",
            "--mutation-features", ",".join(features), "-x"]


def verdict(run: SuiteRun) -> tuple[int, str]:
    """Exit code and stdout for a finished suite run."""
    failed = sorted(run.named("failed") | run.named("error"))
    if run.returncode == 0:
        passed, skipped = len(run.named("passed")), len(run.named("skipped"))
        return 0, f"survived: {passed} passed, {skipped} skipped"
    if run.returncode in (1, 2) and (failed or run.returncode == 2):
        first = failed[0] if failed else "the suite stopped: " + run.output.strip()[-300:]
        return 1, f"{KILLED_BY}{first}\n{run.messages.get(first, '')}"
    return 1, f"{HARNESS_ERROR}: pytest exited {run.returncode}\n{run.output[-2000:]}"


def check(src: Path, kubeconfig: Path, baseline: bool, timeout: float) -> tuple[int, str]:
    changed = mutated_modules(src)
    if baseline:
        if changed:
            return 1, f"{HARNESS_ERROR}: baseline, yet {', '.join(changed)} differ"
        features = every_feature()
    elif len(changed) != 1:
        return 1, f"{HARNESS_ERROR}: expected one mutated module, found {changed}"
    else:
        try:
            features = features_for(changed[0])
        except KeyError:
            return 1, f"{HARNESS_ERROR}: {changed[0]} is not in the sample"
    try:
        with MutantReceiver(kubeconfig, src) as receiver:
            run = run_suite(kubeconfig, receiver.url,
                            *suite_args(features, receiver.log_path), timeout=timeout)
    except ReferenceReceiverError as err:
        return 1, f"{KILLED_BY}the receiver did not start\n{str(err)[-1000:]}"
    except subprocess.TimeoutExpired:
        return 1, TIMEOUT_OUTPUT
    return verdict(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m receiver_conformance.mutation.check")
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--timeout", type=float, default=SUITE_TIMEOUT)
    args = parser.parse_args(argv)
    code, text = check(args.src.resolve(), args.kubeconfig, args.baseline, args.timeout)
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
