"""`python -m receiver_conformance.reference` / `reference-receiver`: Flux's receiver flags,
one process."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    from . import logs, selectors
    from .app import Options, serve
    from .controller import DEFAULT_WATCH_CONFIGS
    from .redact import redact
except ModuleNotFoundError as missing:  # the suite installed without the `reference` extra
    print(f"reference-receiver: the module {missing.name!r} is missing; install the "
          "receiver's requirements: pip install 'receiver-conformance[reference]'",
          file=sys.stderr)
    sys.exit(2)

_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


def address(value: str) -> tuple[str, int]:
    """`host:port` or `:port`; port 0 asks for a free port."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not an address of the form host:port")
    return host.strip("[]"), int(port)


def boolean(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not true or false")


def label_selector(value: str) -> str:
    try:
        selectors.parse(value)
    except selectors.SelectorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reference-receiver",
        description="A drop-in for Flux notification-controller's webhook receiver.",
    )
    p.add_argument("--receiverAddr", "--receiver-addr", dest="receiver_addr", type=address,
                   default=":9292",
                   help="address the webhook receiver binds to (default :9292); "
                   "--receiver-addr is accepted too")
    p.add_argument("--health-addr", type=address, default=":9440",
                   help="address of /healthz and /readyz (default :9440)")
    p.add_argument("--metrics-addr", type=address, default=":8080",
                   help="address of the Prometheus /metrics endpoint (default :8080)")
    p.add_argument("--watch-all-namespaces", type=boolean, nargs="?", const=True, default=True,
                   help="watch every namespace (default true); false: the runtime namespace")
    p.add_argument("--namespace", default=None,
                   help="the runtime namespace (default: the RUNTIME_NAMESPACE variable)")
    p.add_argument("--no-cross-namespace-refs", type=boolean, nargs="?", const=True,
                   default=False, help="refuse resources in other namespaces than the Receiver")
    p.add_argument("--watch-configs-label-selector", type=label_selector,
                   default=DEFAULT_WATCH_CONFIGS,
                   help="Secrets whose changes re-reconcile the Receivers referencing them at "
                   f"once (default {DEFAULT_WATCH_CONFIGS!r}; '' for every Secret); others "
                   "are seen at the Receiver's next reconcile")
    p.add_argument("--log-level", choices=sorted(logs.LEVELS), default="info")
    p.add_argument("--log-encoding", choices=["json", "console"], default="json")
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig file (default: the in-cluster configuration)")
    p.add_argument("--google-jwks", default=None,
                   help="test only: JWKS URL or file for gcr ID tokens (default: Google's keys)")
    return p


def options_from(argv: Sequence[str] | None = None) -> tuple[Options, argparse.Namespace]:
    """Parse flags; argparse exits 2 with a message on bad ones."""
    p = parser()
    args = p.parse_args(argv)
    namespace = None
    if not args.watch_all_namespaces:
        namespace = args.namespace or os.environ.get("RUNTIME_NAMESPACE")
        if not namespace:
            p.error("--watch-all-namespaces=false needs --namespace or RUNTIME_NAMESPACE")
    if args.kubeconfig is not None and not args.kubeconfig.is_file():
        p.error(f"--kubeconfig {args.kubeconfig}: no such file")
    options = Options(
        receiver_addr=args.receiver_addr,
        health_addr=args.health_addr,
        metrics_addr=args.metrics_addr,
        namespace=namespace,
        no_cross_namespace_refs=args.no_cross_namespace_refs,
        kubeconfig=args.kubeconfig,
        google_jwks=args.google_jwks,
        watch_configs_label_selector=args.watch_configs_label_selector,
    )
    return options, args


def main(argv: Sequence[str] | None = None) -> int:
    options, args = options_from(argv)
    logs.setup(args.log_level, args.log_encoding)
    try:
        return asyncio.run(serve(options))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear last word instead of a traceback
        print(redact(f"reference-receiver: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
