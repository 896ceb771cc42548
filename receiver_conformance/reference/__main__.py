"""`python -m receiver_conformance.reference` / `reference-receiver`: Flux's receiver flags,
one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    from . import flags, logs
    from .app import Options, serve
    from .leader import Election
    from .redact import redact
except ModuleNotFoundError as missing:  # the suite installed without the `reference` extra
    print(f"reference-receiver: the module {missing.name!r} is missing; install the "
          "receiver's requirements: pip install 'receiver-conformance[reference]'",
          file=sys.stderr)
    sys.exit(2)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
log = logging.getLogger("reference")


def runtime_namespace(given: str | None) -> str | None:
    """--namespace, else RUNTIME_NAMESPACE, else the pod's own namespace."""
    if given or os.environ.get("RUNTIME_NAMESPACE"):
        return given or os.environ["RUNTIME_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


def options_from(argv: Sequence[str] | None = None) -> tuple[Options, argparse.Namespace]:
    """Parse flags; argparse exits 2 with a message on bad ones."""
    p = flags.parser()
    args = p.parse_args(argv)
    namespace = None
    if not args.watch_all_namespaces:
        namespace = args.namespace or os.environ.get("RUNTIME_NAMESPACE")
        if not namespace:
            p.error("--watch-all-namespaces=false needs --namespace or RUNTIME_NAMESPACE")
    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else None
    if kubeconfig is not None and not kubeconfig.is_file():
        p.error(f"--kubeconfig {kubeconfig}: no such file")
    if args.concurrent < 1:
        p.error(f"--concurrent {args.concurrent}: at least 1")
    election = None
    if args.enable_leader_election:
        lease_namespace = runtime_namespace(args.namespace)
        if not lease_namespace:
            p.error("--enable-leader-election needs the runtime namespace: --namespace, "
                    "RUNTIME_NAMESPACE, or a pod's service account")
        if not 0 < args.leader_election_retry_period < args.leader_election_renew_deadline \
                < args.leader_election_lease_duration:
            p.error("leader election needs retry period < renew deadline < lease duration")
        election = Election(
            namespace=lease_namespace,
            lease_duration=args.leader_election_lease_duration,
            renew_deadline=args.leader_election_renew_deadline,
            retry_period=args.leader_election_retry_period,
            release_on_cancel=args.leader_election_release_on_cancel)
    gates = {**flags.FEATURE_GATES, **args.feature_gates}
    options = Options(
        receiver_addr=args.receiver_addr,
        health_addr=args.health_addr,
        metrics_addr=args.metrics_addr,
        namespace=namespace,
        no_cross_namespace_refs=args.no_cross_namespace_refs,
        kubeconfig=kubeconfig,
        google_jwks=args.google_jwks,
        watch_configs_label_selector=args.watch_configs_label_selector,
        kube_api_qps=args.kube_api_qps,
        kube_api_burst=args.kube_api_burst,
        concurrent=args.concurrent,
        min_retry_delay=args.min_retry_delay,
        max_retry_delay=args.max_retry_delay,
        config_watchers=not gates["DisableConfigWatchers"],
        export_http_path_metrics=args.export_http_path_metrics,
        election=election,
    )
    return options, args


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    options, args = options_from(argv)
    logs.setup(args.log_level, args.log_encoding)
    unused = flags.given(argv, flags.EVENT_SIDE)
    if unused:
        log.info("flags of Flux's event side accepted, not used by a receiver: %s",
                 ", ".join(f"--{name}" for name in unused))
    try:
        return asyncio.run(serve(options))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear last word instead of a traceback
        print(redact(f"reference-receiver: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
