"""Flux notification-controller's flags, as its binary parses them (pflag), with its defaults.

Every flag of notification-controller v1.9.3 is accepted, so that Flux's own Deployment runs
the reference with only its image changed. Those that shape the receiver or the Receiver
reconciler act as in Flux; those of Flux's event side (alerts, providers, the event server)
are accepted and logged once as not used. A few of the reference's own flags come on top
(`--receiver-addr`, `--namespace`, `--kubeconfig`, `--google-jwks`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from . import logs, selectors
from .controller import DEFAULT_WATCH_CONFIGS, MAX_RETRY_DELAY, MIN_RETRY_DELAY, WORKERS

# pflag reads booleans with strconv.ParseBool.
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_DURATION = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                 "m": 60.0, "h": 3600.0}

# Flux's feature gates in v1.9.3 and their defaults: notification-controller's own, the
# runtime's config watchers, and the auth package's.
FEATURE_GATES = {"CacheSecretsAndConfigMaps": False, "DisableConfigWatchers": False,
                 "ObjectLevelWorkloadIdentity": False}
# Flags of Flux's event side: accepted, not used by a receiver.
EVENT_SIDE = ("events-addr", "rate-limit-interval", "token-cache-max-size",
              "token-cache-max-duration", "default-service-account")


def address(value: str) -> tuple[str, int]:
    """`host:port` or `:port`; port 0 asks for a free port."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not an address of the form host:port")
    return host.strip("[]"), int(port)


def boolean(value: str) -> bool:
    """strconv.ParseBool."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean (true or false)")


def duration(value: str) -> float:
    """time.ParseDuration, in seconds: "750ms", "15m0s", "1h", "1.5s", "0"."""
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text[1:] if text[:1] in ("+", "-") else text
    if text == "0":
        return 0.0
    total, at = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != at or match.group(1) in ("", "."):
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        at = match.end()
    if not text or at != len(text):
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (e.g. 30s, 5m0s)")
    return sign * total


def feature_gates(value: str) -> dict[str, bool]:
    """pflag's mapStringBool: `Name=true,Other=false`; a gate Flux does not have is refused,
    as Flux refuses it."""
    gates: dict[str, bool] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        name, sep, state = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{pair!r} is not of the form Name=true|false")
        if name not in FEATURE_GATES:
            raise argparse.ArgumentTypeError(f"feature-gate '{name}' not supported")
        gates[name] = boolean(state)
    return gates


def label_selector(value: str) -> str:
    try:
        selectors.parse(value)
    except selectors.SelectorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _number(kind: type[int] | type[float]) -> argparse._ActionType:
    def parse(value: str) -> int | float:
        try:
            return kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    parse.__name__ = kind.__name__
    return parse


def _switch(p: argparse.ArgumentParser, name: str, default: bool, help_text: str) -> None:
    """A pflag boolean: `--name` alone means true; `--name=false` turns it off."""
    p.add_argument(f"--{name}", type=boolean, nargs="?", const=True, default=default,
                   metavar="BOOL", help=f"{help_text} (default {str(default).lower()})")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reference-receiver", allow_abbrev=False,
        description="A drop-in for Flux notification-controller's webhook receiver: "
        "notification-controller v1.9.3's flags, with its defaults.")
    # -- the servers
    p.add_argument("--receiverAddr", "--receiver-addr", dest="receiver_addr", type=address,
                   default=":9292", help="address the webhook receiver binds to (default "
                   ":9292); --receiver-addr is accepted too")
    p.add_argument("--health-addr", type=address, default=":9440",
                   help="address of /healthz and /readyz (default :9440)")
    p.add_argument("--metrics-addr", type=address, default=":8080",
                   help="address of the Prometheus /metrics endpoint (default :8080)")
    _switch(p, "export-http-path-metrics", False, "label the receiver's HTTP metrics with "
            "the request's whole path instead of the handler's pattern /hook/")
    # -- what is watched
    _switch(p, "watch-all-namespaces", True,
            "watch every namespace; false: the runtime namespace")
    p.add_argument("--namespace", default=None,
                   help="the runtime namespace (default: the RUNTIME_NAMESPACE variable, then "
                   "the pod's service account namespace)")
    p.add_argument("--watch-configs-label-selector", type=label_selector,
                   default=DEFAULT_WATCH_CONFIGS,
                   help="Secrets whose changes re-reconcile the Receivers referencing them at "
                   f"once (default {DEFAULT_WATCH_CONFIGS!r}; '' for every Secret); others "
                   "are seen at the Receiver's next reconcile")
    _switch(p, "no-cross-namespace-refs", False,
            "refuse resources in other namespaces than the Receiver")
    # -- the reconciler
    p.add_argument("--concurrent", type=_number(int), default=WORKERS,
                   help=f"Receivers reconciled at once (default {WORKERS})")
    p.add_argument("--min-retry-delay", type=duration, default=MIN_RETRY_DELAY,
                   metavar="DURATION",
                   help="first retry delay of a failed reconcile (default 750ms)")
    p.add_argument("--max-retry-delay", type=duration, default=MAX_RETRY_DELAY,
                   metavar="DURATION",
                   help="longest retry delay of a failed reconcile (default 15m0s)")
    p.add_argument("--feature-gates", type=feature_gates, default={}, metavar="GATES",
                   help="Name=true|false,...: " + ", ".join(FEATURE_GATES))
    # -- the API client
    p.add_argument("--kube-api-qps", type=_number(float), default=50.0,
                   help="requests per second to the API server, client-side (default 50)")
    p.add_argument("--kube-api-burst", type=_number(int), default=300,
                   help="burst of requests to the API server (default 300)")
    p.add_argument("--kubeconfig", default=None, metavar="FILE",
                   help="kubeconfig file (default: the in-cluster configuration)")
    # -- leader election
    _switch(p, "enable-leader-election", False,
            "only the holder of the Lease notification-controller-leader-election reconciles "
            "Receivers; every replica serves webhooks")
    _switch(p, "leader-election-release-on-cancel", True,
            "give the Lease up on shutdown, so that another replica takes it at once")
    p.add_argument("--leader-election-lease-duration", type=duration, default=35.0,
                   metavar="DURATION", help="how long a Lease holds (default 35s)")
    p.add_argument("--leader-election-renew-deadline", type=duration, default=30.0,
                   metavar="DURATION", help="how long the leader tries to renew before it "
                   "gives up (default 30s)")
    p.add_argument("--leader-election-retry-period", type=duration, default=5.0,
                   metavar="DURATION", help="time between tries (default 5s)")
    # -- logging
    p.add_argument("--log-level", choices=sorted(logs.LEVELS), default="info")
    p.add_argument("--log-encoding", choices=["json", "console"], default="json")
    # -- Flux's event side: accepted, not used
    p.add_argument("--events-addr", default=":9090", help="event side, not used")
    p.add_argument("--rate-limit-interval", type=duration, default=300.0, metavar="DURATION",
                   help="event side, not used")
    p.add_argument("--token-cache-max-size", type=_number(int), default=100,
                   help="event side, not used")
    p.add_argument("--token-cache-max-duration", type=duration, default=3600.0,
                   metavar="DURATION", help="event side, not used")
    p.add_argument("--default-service-account", default="", help="event side, not used")
    # -- the reference's own
    p.add_argument("--google-jwks", default=None,
                   help="test only: JWKS URL or file for gcr ID tokens (default: Google's keys)")
    return p


def given(argv: Sequence[str], names: Sequence[str]) -> list[str]:
    """Which of the flags `names` appear on the command line `argv`."""
    return [name for name in names
            if any(arg == f"--{name}" or arg.startswith(f"--{name}=") for arg in argv)]
