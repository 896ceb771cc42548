"""``receiver-conformance``: run the suite, list its scenarios, render the guide."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import yaml

from receiver_conformance import config, distribution, versions
from receiver_conformance.capabilities import KNOWN_CAPABILITIES
from receiver_conformance.config import ConfigError, RunConfig
from receiver_conformance.flux import objects
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
from receiver_conformance.report.runner import RunRequest, Terminated, run_metadata, run_pytest
from receiver_conformance.targets import provision, registry
from receiver_conformance.targets.preflight import Unreachable, check_external

FLUX_RECEIVER = "fluxcd/notification-controller"  # Flux's receiver, by --implementation
EXIT_OK = 0
EXIT_NOT_PASSED = 1
EXIT_USAGE = 2

_LABELS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}
# The pages of docs/ that `receiver-conformance docs` links to from the guide it renders.
FURTHER_READING = (
    ("running.md", "Running the suite: the run command, its settings, exit status and reports"),
    ("targets.md", "Targets and capabilities"),
    ("scenarios.md", "What the scenarios check"),
    ("scenario-ids.md", "Stable scenario ids"),
    ("reference-receiver.md", "The reference receiver"),
    ("flux.md", "Flux: verified against, where it differs, the release matrix"),
)


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
    _add_report_commands(commands)
    _add_crds_command(commands)
    _add_gcr_keys_command(commands)
    _add_docs_command(commands)
    _add_cluster_commands(commands)
    _add_node_commands(commands)
    _add_kind_commands(commands)
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
    matrix_cmd.add_argument("--page", "--readme", dest="readme", type=Path, metavar="FILE",
                            help="the Markdown page to update: the summary goes between its "
                            "release-matrix markers (e.g. docs/flux.md)")
    matrix_cmd.set_defaults(handler=command_matrix)


def _add_verified_command(commands: argparse._SubParsersAction) -> None:
    verified_cmd = commands.add_parser(
        "verified",
        help="the 'verified against' table from the results of real runs",
        description="Print a Markdown table with one row per report directory (its "
        "results.json); with --page (or --readme), write it between the markers of that "
        "Markdown page.",
    )
    verified_cmd.add_argument("report_dirs", type=Path, nargs="+", metavar="REPORT_DIR")
    verified_cmd.add_argument("--page", "--readme", dest="readme", type=Path, metavar="FILE",
                              help="the Markdown page to update: the table goes between its "
                              "verified-against markers (e.g. docs/flux.md)")
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
    config.add_options(run.add_argument)
    run.add_argument("--steps", type=Path, default=STEPS, help=argparse.SUPPRESS)
    run.set_defaults(handler=command_run)


def _add_crds_command(commands: argparse._SubParsersAction) -> None:
    crds = commands.add_parser(
        "crds",
        help="print the Flux CRDs the suite is pinned to, for kubectl apply",
        description="Print, as one YAML stream, Flux's CRDs at the versions the suite is "
        "pinned to (taken from their Go modules once, then cached), e.g. "
        "'receiver-conformance crds | kubectl apply --server-side -f -'.",
    )
    crds.add_argument("--gateway-api", action="store_true",
                      help="Gateway API's standard CRDs too (for the exposure scenarios)")
    crds.set_defaults(handler=command_crds)


def command_crds(args: argparse.Namespace) -> int:
    from receiver_conformance.controlplane.crds import CRDsNotFound, crd_files, ensure_crds

    try:
        files = crd_files(ensure_crds())
    except CRDsNotFound as exc:
        return _fail(EXIT_USAGE, str(exc))
    for path in files:
        if args.gateway_api or not path.name.startswith("gateway.networking.k8s.io_"):
            text = path.read_text(encoding="utf-8").strip()
            print(text if text.startswith("---") else "---\n" + text)
    return EXIT_OK


def _add_gcr_keys_command(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser(
        "gcr-keys",
        help="write the Google ID-token test keys an external receiver can trust",
        description="Write a signing key (DIR/signing-key.pem, mode 0600) and its public "
        "JWKS (DIR/google-jwks.json). Start the receiver trusting the JWKS (the reference: "
        "--google-jwks DIR/google-jwks.json), then run the external target with --gcr-keys "
        "DIR: the gcr scenarios' tokens are signed with that key (capability gcr-test-keys). "
        "An existing key in DIR is kept.",
    )
    keys.add_argument("directory", type=Path, metavar="DIR")
    keys.set_defaults(handler=command_gcr_keys)


def command_gcr_keys(args: argparse.Namespace) -> int:
    from receiver_conformance.senders.gcr import TestGoogleIssuer

    try:
        if (args.directory / TestGoogleIssuer.KEY_FILE).exists():
            issuer = TestGoogleIssuer.load(args.directory)
        else:
            issuer = TestGoogleIssuer()
        jwks = issuer.save(args.directory)
    except (OSError, ValueError) as exc:
        return _fail(EXIT_USAGE, f"gcr-keys {args.directory}: {exc}")
    print(jwks)
    return EXIT_OK


def _add_list_command(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser(
        "list",
        help="list features, scenarios, tags and capabilities",
        description="List the features and their scenarios with tags and needed capabilities.",
    )
    _add_features_argument(listing)
    listing.set_defaults(handler=command_list)


def _add_report_commands(commands: argparse._SubParsersAction) -> None:
    """`report check FILE...` validates submitted conformance reports; `report publish
    FILE...` adds them to the published ones."""
    report = commands.add_parser(
        "report", help="check conformance reports and publish them",
        description="Work with conformance-report.yaml files.")
    actions = report.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="validate conformance-report.yaml files",
        description="Validate each report: its shape, a suite version that publishes reports, "
        "scenarios the suite has, counts that match the listed outcomes, and the digest the "
        "suite wrote (an edited report fails). Exit 0 when all pass, 1 when one does not.")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _add_features_argument(check)
    check.set_defaults(handler=command_report_check)
    publish = actions.add_parser(
        "publish", help="add reports to the published ones",
        description="Copy each report that passes 'report check' unchanged to "
        "DIR/<suite version>/<organization>-<project>/<version>-<mode>-report.yaml and "
        "rewrite that folder's README (its table of reports and how to reproduce each).")
    publish.add_argument("files", nargs="+", type=Path, metavar="FILE")
    publish.add_argument("--into", type=Path, default=Path("conformance/reports"),
                         metavar="DIR", help="the published reports' root "
                         "(default: conformance/reports)")
    _add_features_argument(publish)
    publish.set_defaults(handler=command_report_publish)


def command_report_check(args: argparse.Namespace) -> int:
    from receiver_conformance.report import check

    try:
        profiles = check.suite_profiles(not_run_results(args.features))
    except FeatureFileError as exc:
        return _fail(EXIT_USAGE, str(exc))
    bad = 0
    for path in args.files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(EXIT_USAGE, f"cannot read {path}: {exc}")
        except yaml.YAMLError as exc:
            return _fail(EXIT_USAGE, f"{path} is not YAML: {str(exc).splitlines()[0]}")
        found = check.problems(document, profiles)
        if found:
            bad += 1
            print(f"{path}: INVALID: {'; '.join(found)}")
        else:
            print(f"{path}: ok ({len(document['results'])} results, suite "
                  f"{document['suite'].get('version')})")
    return EXIT_NOT_PASSED if bad else EXIT_OK


def command_report_publish(args: argparse.Namespace) -> int:
    from receiver_conformance.report import check, published

    try:
        profiles = check.suite_profiles(not_run_results(args.features))
        for path in args.files:
            print(f"published {published.publish(path, args.into, profiles)}")
    except (FeatureFileError, published.PublishError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    except OSError as exc:
        return _fail(EXIT_USAGE, f"cannot write under {args.into}: {exc}")
    return EXIT_OK


def _add_docs_command(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser(
        "docs",
        help="render the guide as HTML without running it",
        description="Render the features as the HTML report, every step shown as not run, "
        "with links to the project's docs/ pages for further reading.",
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


def _add_kind_commands(commands: argparse._SubParsersAction) -> None:
    """`kind probe`: whether this host runs kind's node container, with an engine of ours."""
    kind = commands.add_parser(
        "kind",
        help="kind clusters built here: probe whether this host runs one",
        description="Start a Docker engine of our own (Debian's docker.io, in a network "
                    "namespace of its own; root) and boot systemd in a privileged container "
                    "of a root filesystem built here, as kind runs its nodes.",
    )
    actions = kind.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = ("boot systemd in a privileged container, then create a one-node kind cluster "
            "from the node image built here and wait for CoreDNS")
    probe = actions.add_parser("probe", help=text, description=text)
    probe.add_argument("--install-packages", action="store_true",
                       help="apt-get install the Debian packages the engine needs")
    probe.add_argument("--systemd-only", action="store_true",
                       help="stop after the systemd boot (builds nothing with Go)")
    probe.set_defaults(handler=command_kind)


def command_run(args: argparse.Namespace) -> int:
    try:
        cfg = registry.validate(config.resolve(vars(args)))
    except ConfigError as exc:
        return _fail(EXIT_USAGE, str(exc))
    if args.steps.resolve() != STEPS.resolve() and not cfg.given("workers"):
        # Another suite may bring its own target: scenarios at once only when asked.
        cfg = dataclasses.replace(cfg, workers=1)
    if cfg.target == "external":
        try:
            check_external(cfg.kubeconfig, cfg.receiver_url, cfg.namespace)
        except Unreachable as exc:
            return _fail(EXIT_USAGE, str(exc))
    if not args.steps.is_dir():
        return _fail(EXIT_USAGE, f"steps directory not found: {args.steps}")
    try:
        provision.provision(cfg, _say_provisioning)
    except provision.FAILURES as exc:
        return _fail(EXIT_USAGE, f"cannot build what the {cfg.target} target needs: "
                     + (str(exc).splitlines() or [type(exc).__name__])[0])
    report_dir = cfg.report_dir.resolve()
    request = RunRequest(
        target=cfg.target,
        profile=cfg.profile,
        tags=cfg.tags,
        receiver=cfg.receiver,
        report_dir=report_dir,
        steps_dir=args.steps.resolve(),
        implementation=_implementation(cfg),
        pytest_args=config.pytest_args(cfg) + args.pytest_args,
    )
    started = datetime.now(UTC)
    print(
        f"receiver-conformance: target {cfg.target}"
        + (f", receiver {cfg.receiver}" if cfg.receiver else "")
        + f", profile {cfg.profile}" + (f", tags {cfg.tags}" if cfg.tags else ""),
        flush=True,
    )
    try:
        outcome = run_pytest(request, LiveView(counter=sys.stdout.isatty()))
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    except Terminated:
        return _fail(143, "terminated")
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
    results["run"]["flux_api_versions"] = sorted({objects.RECEIVER_API,
                                                   *objects.API_VERSIONS.values()})
    known_file = cfg.known_deviations or (FLUX_DEVIATIONS if _tests_flux(cfg) else None)
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
        reason = _exit_reason(outcome.log)
        if reason and counts.passed + counts.failed == 0:  # e.g. the target did not start
            print(counts.line())
            return _fail(EXIT_USAGE, reason)
        _print_log_tail(outcome.log)
        print(f"pytest stopped early; see {outcome.log}", file=sys.stderr)
        print(counts.line())
        return EXIT_USAGE if counts.passed + counts.failed == 0 else EXIT_NOT_PASSED
    print(counts.line() + (f" ({verdict.explained} of the failures are known deviations)"
                           if verdict.explained else ""))
    for stale in verdict.stale:
        print(f"stale deviation: {stale.scenario} passes now; remove it from {known_file}"
              + (" (allowed by --allow-stale-deviations)" if cfg.allow_stale_deviations else ""),
              file=sys.stderr)
    if counts.total == 0:
        print("no scenario selected", file=sys.stderr)
        return EXIT_NOT_PASSED
    passed = (
        verdict.unexplained == 0
        and counts.passed > 0
        and (outcome.pytest_exit_status in (0, 5)
             or (outcome.pytest_exit_status == 1 and verdict.explained == counts.failed))
        and not (cfg.fail_on_skip and counts.skipped)
        and not (verdict.stale and not cfg.allow_stale_deviations)
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
            named = f"{scenario['scenario_id']}: " if scenario.get("scenario_id") else ""
            print(f"  - {named}{scenario['name']}  [{tags}]")
            rows = model.row_ids(scenario)
            if named and rows:
                print(f"      rows ({scenario['scenario_id']}/ROW): {', '.join(rows)}")
        print()
    print("capabilities a target may have (external: --capability NAME when not probed):")
    for name, meaning in sorted(KNOWN_CAPABILITIES.items()):
        print(f"  {name}: {meaning}")
    print()
    scenarios = results["scenarios"]
    profiles = ", ".join(
        f"{name} {sum(map(model.runs_of, members))}"
        for name, members in model.by_profile(scenarios).items()
    )
    runs = sum(map(model.runs_of, scenarios))
    print(
        f"{len(results['features'])} features, {len(scenarios)} scenarios, {runs} runs "
        "(an outline runs once per example row; pytest collects as many)"
        + (f"; runs by profile: {profiles}" if profiles else "")
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
        links = [(label, distribution.docs_url(page)) for page, label in FURTHER_READING]
        args.out.write_text(
            render_html(results, title="Setup Webhook Receivers, executable", links=links),
            encoding="utf-8",
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
    from receiver_conformance.standalone import plane as cluster

    action = getattr(cluster, f"cluster_{args.action}")
    try:
        output = action()
    except cluster.ClusterError as exc:
        return _fail(EXIT_USAGE, str(exc))
    if output:
        print(output)
    return EXIT_OK


def command_node(args: argparse.Namespace) -> int:
    from receiver_conformance.standalone import node as cluster

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


def command_kind(args: argparse.Namespace) -> int:
    from receiver_conformance.gobuild import BuildFailed
    from receiver_conformance.kind import engine, probe
    from receiver_conformance.node.reference_image import ReferenceImageError

    try:
        if args.install_packages:
            engine.install_packages()
        result = probe.run_probe(cluster=not args.systemd_only)
    except (engine.EngineError, BuildFailed, ReferenceImageError) as exc:
        return _fail(EXIT_USAGE, " ".join(str(exc).split()))
    print(result.line())
    return EXIT_OK if result.passed else EXIT_NOT_PASSED


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


def _tests_flux(cfg: RunConfig) -> bool:
    """The receiver under test is Flux's notification-controller: run by the suite, or named
    by --implementation (an external target)."""
    return cfg.runs_flux or (cfg.implementation or "").lower() == FLUX_RECEIVER


def _implementation(cfg: RunConfig) -> dict[str, str]:
    """The implementation under test, for the report: as given, else the receiver the suite
    runs (the reference, or Flux's notification-controller at its release)."""
    impl: dict[str, str] = {}
    name = cfg.implementation
    if not name and cfg.receiver == "reference":
        name = "receiver-conformance/reference"
        impl["version"] = distribution.version()  # the reference ships with the suite
    if not name and cfg.runs_flux:
        name = FLUX_RECEIVER
        impl["version"] = (cfg.notification_controller
                           or versions.FLUX_MODULES["notification-controller"][1])
    if name:
        organization, _, project = name.rpartition("/")
        if organization:
            impl["organization"] = organization
        impl["project"] = project
    if cfg.implementation_version:
        impl["version"] = cfg.implementation_version
    if cfg.implementation_url:
        impl["url"] = cfg.implementation_url
    if cfg.implementation_contact:
        impl["contact"] = cfg.implementation_contact
    return impl


class LiveView:
    """One line per finished scenario. On a terminal each line starts with a counter and the
    run's elapsed time (`[37/203] 1 min 12 s`); in CI (no TTY) the lines stay plain."""

    def __init__(self, counter: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = counter
        self.clock = clock
        self.total: int | None = None
        self.done = 0
        self.started = clock()

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "collected":
            self.total = int(event.get("total") or 0)
            return
        self.done += 1
        label = _LABELS.get(event.get("outcome", ""), "????")
        name = f"{event.get('feature', '?')}: {event.get('name', '?')}"
        line = f"{label:<5} {name}  ({model.seconds(event.get('duration'))})"
        if self.counter:
            line = (f"[{self.done}/{self.total or '?'}] "
                    f"{model.elapsed(self.clock() - self.started)}  {line}")
        if event.get("outcome") == "skipped" and event.get("skip_reason"):
            line += f"  — {event['skip_reason']}"
        print(line, flush=True)
        if event.get("outcome") == "failed" and event.get("error"):
            print(f"      {' '.join(str(event['error']).split())[:300]}", flush=True)


def _say_provisioning(line: str) -> None:
    print(f"[provision] {line}", file=sys.stderr, flush=True)


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


_EXIT_LINE = re.compile(r"^!+ _pytest\.outcomes\.Exit: (.*?) !+$")


def _exit_reason(log: Path) -> str | None:
    """The reason the plugin gave pytest.exit() (a target that did not start, a bad
    setting), as the child's log shows it, or None."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    reasons = [m.group(1) for m in map(_EXIT_LINE.match, lines) if m]
    return reasons[-1] if reasons else None


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
