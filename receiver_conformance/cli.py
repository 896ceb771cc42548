"""``receiver-conformance``: run the suite, list its scenarios, render the guide."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from receiver_conformance import distribution, versions
from receiver_conformance.paths import (
    FEATURES,
    FLUX_DEVIATIONS,
    FLUX_DISAGREEMENTS,
    FLUX_RELEASE_CHANGES,
    STEPS,
)
from receiver_conformance.report import deviations, matrix, model, verified, write_reports
from receiver_conformance.report.features import FeatureFileError, not_run_results
from receiver_conformance.report.html import render_html
from receiver_conformance.report.preflight import Unreachable, check_external
from receiver_conformance.report.runner import RunRequest, run_metadata, run_pytest
from receiver_conformance.targets.base import (
    KNOWN_CAPABILITIES,
    UnknownCapability,
    parse_capabilities,
)

EXIT_OK = 0
EXIT_NOT_PASSED = 1
EXIT_USAGE = 2

_LABELS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class _Version(argparse.Action):
    """--version: print distribution.describe() as it is (argparse's own action rewraps it)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        print(distribution.describe())
        parser.exit(EXIT_OK)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="receiver-conformance",
        description="Conformance suite for Flux webhook receivers (the 'Setup Webhook "
        "Receivers' guide, executable).",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="the suite's version and commit, and the Flux and Kubernetes "
                        "versions it is pinned to")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run_command(commands)
    _add_list_command(commands)
    _add_docs_command(commands)
    _add_cluster_commands(commands)
    _add_node_commands(commands)
    _add_verified_command(commands)
    _add_matrix_command(commands)
    _add_diff_command(commands)
    return parser


def _add_diff_command(commands: argparse._SubParsersAction) -> None:
    diff = commands.add_parser(
        "diff",
        help="generated Receivers and requests against two implementations, compared",
        description="Hypothesis generates a pool of Receivers and requests against it; both "
        "implementations run on one embedded control plane, each watching its own "
        "namespace. Every disagreement is shrunk and written as a Gherkin scenario. Exit "
        "status: 0, or 1 with --fail-on-disagreement when one was found; 2 on bad usage.",
    )
    choices = ("reference", "flux")
    diff.add_argument("--left", choices=choices, default="reference")
    diff.add_argument("--right", choices=choices, default="flux")
    diff.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    diff.add_argument("--examples", type=_positive, default=500,
                      help="requests to generate (default 500; shrinking not counted)")
    diff.add_argument("--receivers", type=_positive, default=50,
                      help="Receivers in the pool (default 50)")
    diff.add_argument("--max-time", type=float, default=600.0, metavar="S",
                      help="stop the search after S seconds (default 600)")
    diff.add_argument("--shrink-time", type=float, default=60.0, metavar="S",
                      help="shrink each disagreement for at most S seconds (default 60)")
    diff.add_argument("--report-dir", type=Path, default=Path("diff-report"))
    diff.add_argument("--known", type=Path, metavar="FILE",
                      help="disagreements explained by a cause (YAML; default when a side is "
                      "flux: receiver_conformance/flux/disagreements.yaml)")
    diff.add_argument("--fail-on-disagreement", action="store_true",
                      help="exit 1 when a disagreement is not a known one")
    diff.set_defaults(handler=command_diff)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def command_diff(args: argparse.Namespace) -> int:
    from receiver_conformance.diff.known import KnownError, heading
    from receiver_conformance.diff.known import load as load_known
    from receiver_conformance.diff.report import unexplained
    from receiver_conformance.diff.runner import Budget
    from receiver_conformance.diff.session import diff

    if args.max_time <= 0 or args.shrink_time < 0:
        return _fail(EXIT_USAGE, "--max-time must be positive and --shrink-time not negative")
    budget = Budget(seed=args.seed, examples=args.examples, receivers=args.receivers,
                    max_time=args.max_time, shrink_time=args.shrink_time)
    known_file = args.known or (FLUX_DISAGREEMENTS if "flux" in (args.left, args.right)
                                else None)
    try:
        known = load_known(known_file) if known_file else {}
    except KnownError as exc:
        return _fail(EXIT_USAGE, str(exc))
    try:
        run = diff(args.left, args.right, budget, args.report_dir.resolve(), known)
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    left = unexplained(run, known)
    if left:
        print(f"diff: {len(left)} disagreement(s) not explained by {known_file}: "
              + "; ".join(heading(f.key) for f in left), file=sys.stderr)
    if args.fail_on_disagreement and left:
        return EXIT_NOT_PASSED
    return EXIT_OK


def _add_matrix_command(commands: argparse._SubParsersAction) -> None:
    matrix_cmd = commands.add_parser(
        "matrix",
        help="each scenario's outcome across releases, from one run per release",
        description="Build the release matrix from report directories (one run per release "
        "of one implementation); name each change of behaviour from the changes file.",
    )
    matrix_cmd.add_argument("report_dirs", type=Path, nargs="+", metavar="REPORT_DIR")
    matrix_cmd.add_argument("--changes", type=Path, default=FLUX_RELEASE_CHANGES,
                            help="what changed in which release (YAML; default: "
                            "receiver_conformance/flux/releases.yaml)")
    matrix_cmd.add_argument("--out", type=Path, help="a folder for matrix.md (every scenario)")
    matrix_cmd.add_argument("--readme", type=Path, help="the README to update")
    matrix_cmd.set_defaults(handler=command_matrix)


def _add_verified_command(commands: argparse._SubParsersAction) -> None:
    verified_cmd = commands.add_parser(
        "verified",
        help="the 'verified against' table from the results of real runs",
        description="Print a Markdown table with one row per report directory (its "
        "results.json); with --readme, write it between the README's markers.",
    )
    verified_cmd.add_argument("report_dirs", type=Path, nargs="+", metavar="REPORT_DIR")
    verified_cmd.add_argument("--readme", type=Path, help="the README to update")
    verified_cmd.set_defaults(handler=command_verified)


def _add_run_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run the scenarios against a target and write the reports",
        description="Run the scenarios and write junit.xml, cucumber.json, results.json, "
        "conformance-report.yaml, report.md and report.html. Exit status: 0 when every "
        "selected scenario passed or was skipped for a missing capability and at least one "
        "passed; 1 otherwise; 2 on bad usage or an unreachable target. Arguments after "
        "'--' go to pytest unchanged (e.g. -- -x to stop at the first failure).",
    )
    run.add_argument(
        "--target",
        choices=("embedded", "flux", "kind", "node", "external"),
        default="embedded",
        help="where the receiver runs (default: embedded)",
    )
    run.add_argument(
        "--profile",
        choices=("core", "extended", "all"),
        default="core",
        help="core: @core only; extended: @core and @extended; all: every scenario (default: core)",
    )
    run.add_argument(
        "--tags",
        metavar="EXPR",
        help="extra pytest marker expression over the tags, e.g. 'not cap-traffic'",
    )
    run.add_argument(
        "--report-dir",
        type=Path,
        default=Path("conformance-report"),
        help="where the reports go (default: ./conformance-report)",
    )
    run.add_argument(
        "--implementation",
        metavar="NAME",
        help="the receiver under test, as ORGANIZATION/PROJECT or PROJECT",
    )
    run.add_argument("--implementation-version", metavar="V", help="its version")
    run.add_argument(
        "--known-deviations", type=Path, metavar="FILE",
        help="failures of the implementation explained by a cause (YAML); the run passes "
        "when every failure is one of them (default when the receiver is Flux's, --target "
        "flux or --target node --notification-controller: receiver_conformance/flux/deviations.yaml)",
    )
    run.add_argument("--implementation-url", metavar="URL", help="its home page")
    run.add_argument(
        "--notification-controller", metavar="VERSION",
        choices=tuple(versions.NOTIFICATION_RELEASES),
        help="flux, and node instead of the reference: the notification-controller release "
        "under test, one of "
        + ", ".join(versions.NOTIFICATION_RELEASES)
        + f" (default: {versions.FLUX_MODULES['notification-controller'][1]}, Flux "
        f"{versions.FLUX_RELEASE}'s); built with its own CRDs on first use",
    )
    run.add_argument(
        "--kubeconfig",
        type=Path,
        help="external: kubeconfig of the cluster the receiver watches (default: $KUBECONFIG)",
    )
    run.add_argument(
        "--receiver-url",
        metavar="URL",
        help="external: base URL of the receiver; hook paths are appended",
    )
    run.add_argument(
        "--namespace", metavar="N", help="external: a namespace to work in instead of fresh ones"
    )
    run.add_argument(
        "--capability",
        dest="capabilities",
        action="append",
        default=[],
        metavar="NAME",
        help="external: a capability the target has that the suite cannot probe (repeatable; "
        "env RC_CAPABILITIES, comma-separated); see 'receiver-conformance list'",
    )
    run.add_argument(
        "--no-probe", action="store_true",
        help="external: the declared capabilities are all it has; skip the probes (a deployed "
        "receiver, a source controller answering a reconcile request)",
    )
    run.add_argument(
        "--receiver-namespace",
        metavar="N",
        help="external: the namespace of the receiver's Deployment and Service "
        "(default: flux-system)",
    )
    run.add_argument(
        "--receiver-log",
        metavar="FILE",
        help="external: the file the receiver writes its log to; the log scenarios read it "
        "(capability receiver-log)",
    )
    run.add_argument(
        "--fail-on-skip", action="store_true", help="exit 1 when any selected scenario was skipped"
    )
    run.add_argument("--steps", type=Path, default=STEPS, help=argparse.SUPPRESS)
    run.set_defaults(handler=command_run)


def _add_list_command(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser(
        "list",
        help="list features, scenarios, tags and capabilities",
        description="List the features and their scenarios with tags and needed capabilities.",
    )
    _add_features_argument(listing)
    listing.set_defaults(handler=command_list)


def _add_docs_command(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser(
        "docs",
        help="render the guide as HTML without running it",
        description="Render the features as the HTML report, every step shown as not run.",
    )
    docs.add_argument(
        "--out",
        type=Path,
        default=Path("conformance-guide.html"),
        help="output file (default: ./conformance-guide.html)",
    )
    _add_features_argument(docs)
    docs.set_defaults(handler=command_docs)


def _add_features_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--features",
        type=Path,
        default=FEATURES,
        help="directory of .feature files (default: the suite's)",
    )


def _add_cluster_commands(commands: argparse._SubParsersAction) -> None:
    """`cluster up|down|env`: the embedded control plane, kept running between commands."""
    cluster = commands.add_parser(
        "cluster",
        help="start, stop or describe the embedded control plane",
        description="Manage the embedded kube-apiserver + etcd outside a run.",
    )
    actions = cluster.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("up", "start the control plane and print how to reach it"),
        ("down", "stop the control plane"),
        ("env", "print the environment (KUBECONFIG) for the running control plane"),
    ):
        sub = actions.add_parser(action, help=text, description=text)
        sub.set_defaults(handler=command_cluster)


def _add_node_commands(commands: argparse._SubParsersAction) -> None:
    """`node up|down|env`: a worker node for the control plane of `cluster up`."""
    node = commands.add_parser(
        "node",
        help="start, stop or describe a node (kubelet, kube-proxy) for `cluster up`",
        description="Manage a worker node in a network namespace of its own (root; "
                    "Debian's containerd, runc, containernetworking-plugins, ...).",
    )
    actions = node.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("up", "start a node for the running control plane"),
        ("down", "stop the node and remove everything it made"),
        ("env", "print the environment (KUBECONFIG, node name, IP, image) for the node"),
    ):
        sub = actions.add_parser(action, help=text, description=text)
        if action == "up":
            sub.add_argument("--install-packages", action="store_true",
                             help="apt-get install the Debian packages a node needs")
        sub.set_defaults(handler=command_node)


def command_run(args: argparse.Namespace) -> int:
    kubeconfig = args.kubeconfig
    if kubeconfig is None and args.target == "external" and os.environ.get("KUBECONFIG"):
        kubeconfig = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    declared = args.capabilities or [os.environ.get("RC_CAPABILITIES", "")]
    try:
        capabilities = parse_capabilities(declared)
    except UnknownCapability as exc:
        return _fail(EXIT_USAGE, f"--capability: {exc}")
    if capabilities and args.target != "external":
        return _fail(EXIT_USAGE, "--capability is for --target external; the embedded and "
                     "kind targets know their own capabilities")
    if args.no_probe and args.target != "external":
        return _fail(EXIT_USAGE, "--no-probe is for --target external")
    if args.receiver_log and args.target != "external":
        return _fail(EXIT_USAGE, "--receiver-log is for --target external")
    if args.receiver_log and not Path(args.receiver_log).expanduser().is_file():
        return _fail(EXIT_USAGE, f"--receiver-log {args.receiver_log}: no such file")
    if args.notification_controller and args.target not in ("flux", "node"):
        return _fail(EXIT_USAGE, "--notification-controller is for --target flux or node")
    if args.target == "external":
        try:
            check_external(kubeconfig, args.receiver_url)
        except Unreachable as exc:
            return _fail(EXIT_USAGE, str(exc))
    if not args.steps.is_dir():
        return _fail(EXIT_USAGE, f"steps directory not found: {args.steps}")
    report_dir = args.report_dir.resolve()
    request = RunRequest(
        target=args.target,
        profile=args.profile,
        tags=args.tags,
        report_dir=report_dir,
        steps_dir=args.steps.resolve(),
        kubeconfig=kubeconfig.resolve() if kubeconfig else None,
        receiver_url=args.receiver_url,
        namespace=args.namespace,
        implementation=_implementation(args),
        pytest_args=_kind_implementation(args) + _external_options(args, capabilities)
        + _flux_options(args) + args.pytest_args,
    )
    started = datetime.now(UTC)
    print(
        f"receiver-conformance: target {args.target}, profile {args.profile}"
        + (f", tags {args.tags}" if args.tags else ""),
        flush=True,
    )
    try:
        outcome = run_pytest(request, _print_scenario)
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    if not outcome.results.is_file():
        _print_log_tail(outcome.log)
        return _fail(
            EXIT_USAGE,
            f"pytest ended ({outcome.pytest_exit_status}) without results; see {outcome.log}",
        )
    try:
        results = model.load_results(outcome.results)
    except model.ResultsError as exc:
        return _fail(EXIT_USAGE, str(exc))
    results["run"] = run_metadata(request, started, outcome.wall_time)
    known_file = args.known_deviations or (FLUX_DEVIATIONS if _runs_flux(args) else None)
    try:
        verdict = deviations.mark(results, deviations.load(known_file) if known_file else [])
    except deviations.DeviationsError as exc:
        return _fail(EXIT_USAGE, str(exc))
    write_reports(results, report_dir)
    counts = model.count(results["scenarios"])
    _print_summary(results, counts, outcome.wall_time, report_dir)
    if outcome.pytest_exit_status in (3, 4):  # pytest internal or usage error
        _print_log_tail(outcome.log)
        print(f"pytest could not run the suite; see {outcome.log}", file=sys.stderr)
        print(counts.line())
        return EXIT_USAGE
    if outcome.pytest_exit_status == 2:  # interrupted: collection errors or pytest.exit()
        _print_log_tail(outcome.log)
        print(f"pytest stopped early; see {outcome.log}", file=sys.stderr)
        print(counts.line())
        return EXIT_USAGE if counts.passed + counts.failed == 0 else EXIT_NOT_PASSED
    print(counts.line() + (f" ({verdict.explained} of the failures are known deviations)"
                           if verdict.explained else ""))
    for stale in verdict.stale:
        print(f"known deviation no longer fails: {stale.scenario}", file=sys.stderr)
    if counts.total == 0:
        print("no scenario selected", file=sys.stderr)
        return EXIT_NOT_PASSED
    passed = (
        verdict.unexplained == 0
        and counts.passed > 0
        and (outcome.pytest_exit_status in (0, 5)
             or (outcome.pytest_exit_status == 1 and verdict.explained == counts.failed))
        and not (args.fail_on_skip and counts.skipped)
    )
    return EXIT_OK if passed else EXIT_NOT_PASSED


def command_list(args: argparse.Namespace) -> int:
    try:
        results = not_run_results(args.features)
    except FeatureFileError as exc:
        return _fail(EXIT_USAGE, str(exc))
    needed: set[str] = set()
    for feature, scenarios in model.by_feature(results):
        print(f"{feature['name']}  ({feature['file']})")
        for scenario in scenarios:
            needed.update(model.capabilities_of(scenario))
            tags = " ".join(f"@{tag}" for tag in scenario["tags"])
            print(f"  - {scenario['name']}  [{tags}]")
        print()
    print("capabilities a target may have (external: --capability NAME when not probed):")
    for name, meaning in sorted(KNOWN_CAPABILITIES.items()):
        print(f"  {name}: {meaning}")
    print()
    counts = model.count(results["scenarios"])
    profiles = ", ".join(
        f"{name} {len(members)}" for name, members in model.by_profile(results["scenarios"]).items()
    )
    print(
        f"{len(results['features'])} features, {counts.total} scenarios"
        + (f" ({profiles})" if profiles else "")
    )
    print(f"capabilities needed: {', '.join(sorted(needed)) or 'none'}")
    return EXIT_OK


def command_docs(args: argparse.Namespace) -> int:
    try:
        results = not_run_results(args.features)
    except FeatureFileError as exc:
        return _fail(EXIT_USAGE, str(exc))
    results["run"] = {"suite": {"version": distribution.version(),
                                "commit": distribution.commit()}}
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            render_html(results, title="Setup Webhook Receivers, executable"), encoding="utf-8"
        )
    except OSError as exc:
        return _fail(EXIT_USAGE, f"cannot write {args.out}: {exc.strerror or exc}")
    print(f"wrote {args.out} ({len(results['scenarios'])} scenarios, not run)")
    return EXIT_OK


def command_verified(args: argparse.Namespace) -> int:
    try:
        runs = [model.load_results(d / "results.json") for d in args.report_dirs]
    except model.ResultsError as exc:
        return _fail(EXIT_USAGE, str(exc))
    text = verified.table(runs)
    print(text, end="")
    if args.readme:
        try:
            verified.update_readme(args.readme, text)
        except (verified.ReadmeError, OSError) as exc:
            return _fail(EXIT_USAGE, str(exc))
    return EXIT_OK


def command_matrix(args: argparse.Namespace) -> int:
    try:
        runs = [model.load_results(d / "results.json") for d in args.report_dirs]
        changes = matrix.load_changes(args.changes)
    except (model.ResultsError, matrix.ChangesError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    built = matrix.build(runs)
    text = matrix.summary(built, changes)
    print(text, end="")
    try:
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "matrix.md").write_text(matrix.full_table(built, changes),
                                                encoding="utf-8")
        if args.readme:
            verified.update_readme(args.readme, text, matrix.START, matrix.END)
    except (verified.ReadmeError, OSError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    missing = matrix.unexplained(built, changes)
    if missing:
        return _fail(1, f"{len(missing)} change(s) between releases not named in "
                     f"{args.changes}: " + "; ".join(missing))
    return EXIT_OK


def command_cluster(args: argparse.Namespace) -> int:
    from receiver_conformance.controlplane import cluster

    action = getattr(cluster, f"cluster_{args.action}")
    try:
        output = action()
    except cluster.ClusterError as exc:
        return _fail(EXIT_USAGE, str(exc))
    if output:
        print(output)
    return EXIT_OK


def command_node(args: argparse.Namespace) -> int:
    from receiver_conformance.node import cluster

    try:
        if args.action == "up":
            output = cluster.node_up(install_packages=args.install_packages)
        else:
            output = getattr(cluster, f"node_{args.action}")()
    except cluster.NodeCommandError as exc:
        return _fail(EXIT_USAGE, str(exc))
    if output:
        print(output)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point; in `run`, arguments after `--` go to pytest unchanged."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, pytest_args = argv[:at], argv[at + 1 :]
    args = build_parser().parse_args(argv)
    args.pytest_args = pytest_args
    return args.handler(args)


def _external_options(args: argparse.Namespace, capabilities: frozenset[str]) -> list[str]:
    """Declared capabilities and the receiver's namespace, as pytest options."""
    options = [f"--capability={name}" for name in sorted(capabilities)]
    if args.receiver_namespace:
        options.append(f"--receiver-namespace={args.receiver_namespace}")
    if args.receiver_log:
        options.append(f"--receiver-log={args.receiver_log}")
    if args.no_probe:
        options.append("--no-probe")
    return options


def _flux_options(args: argparse.Namespace) -> list[str]:
    """The notification-controller release the flux target runs, as a pytest option."""
    version = args.notification_controller
    return [f"--notification-controller={version}"] if version else []


def _runs_flux(args: argparse.Namespace) -> bool:
    """Whether the receiver under test is Flux's notification-controller, run by the suite."""
    return args.target == "flux" or (args.target == "node" and bool(args.notification_controller))


def _kind_implementation(args: argparse.Namespace) -> list[str]:
    """On kind, `--implementation reference|flux` also chooses what the target installs."""
    name = (args.implementation or "").rpartition("/")[2].lower()
    if args.target == "kind" and name in ("reference", "flux"):
        return [f"--kind-implementation={name}"]
    return []


def _implementation(args: argparse.Namespace) -> dict[str, str]:
    impl: dict[str, str] = {}
    name = args.implementation
    if not name and args.target in ("embedded", "node") and not _runs_flux(args):
        name = "receiver-conformance/reference"  # their receiver unless told otherwise
    if not name and _runs_flux(args):
        module, version = versions.FLUX_MODULES["notification-controller"]
        name = module.removeprefix("github.com/")
        impl.setdefault("version", args.notification_controller or version)
    if name:
        organization, _, project = name.rpartition("/")
        if organization:
            impl["organization"] = organization
        impl["project"] = project
    if args.implementation_version:
        impl["version"] = args.implementation_version
    if args.implementation_url:
        impl["url"] = args.implementation_url
    return impl


def _print_scenario(event: dict[str, Any]) -> None:
    label = _LABELS.get(event.get("outcome", ""), "????")
    name = f"{event.get('feature', '?')}: {event.get('name', '?')}"
    line = f"{label:<5} {name}  ({model.seconds(event.get('duration'))})"
    if event.get("outcome") == "skipped" and event.get("skip_reason"):
        line += f"  — {event['skip_reason']}"
    print(line, flush=True)
    if event.get("outcome") == "failed" and event.get("error"):
        print(f"      {' '.join(str(event['error']).split())[:300]}", flush=True)


def _print_summary(
    results: dict[str, Any], counts: model.Counts, wall_time: float, report_dir: Path
) -> None:
    print()
    print(
        f"{counts.total} scenarios in {model.seconds(wall_time)}: "
        f"result {model.result_of(counts).upper()}"
    )
    for name, members in model.by_profile(results["scenarios"]).items():
        c = model.count(members)
        print(f"  {name:<9} {model.result_of(c):<8} {c.line()}")
    print(
        f"reports: {report_dir}/report.html (also report.md, conformance-report.yaml, "
        "results.json, junit.xml, cucumber.json)"
    )


def _print_log_tail(log: Path, lines: int = 15) -> None:
    try:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return
    for line in tail:
        print(f"  | {line}", file=sys.stderr)


def _fail(status: int, message: str) -> int:
    print(f"receiver-conformance: error: {' '.join(message.split())}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
