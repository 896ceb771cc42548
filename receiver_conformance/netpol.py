"""Decide whether NetworkPolicies (networking.k8s.io/v1) allow a connection between two pods.

Everything is a plain dict as the API returns it: policies are NetworkPolicy objects, pods are
Pod objects (``metadata.namespace``, ``metadata.labels``, ``status.podIP``,
``spec.containers[].ports``). A "pod" without ``metadata.namespace`` stands for an address
outside the cluster: only ``ipBlock`` peers match it, and no policy isolates it.

The rules, as the API defines them:

- a policy selects the pods of its own namespace that match ``spec.podSelector`` (``{}``: all);
- ``policyTypes`` defaults to ``Ingress``, plus ``Egress`` when ``spec.egress`` has rules;
- a pod selected by any policy for a direction is isolated in that direction: only what some
  selecting policy's rule allows gets through (the union of policies); a pod no policy selects
  is open;
- a rule allows a connection when a peer matches (``from``/``to`` absent or empty: any peer)
  and a port matches (``ports`` absent or empty: any port);
- a peer is an ``ipBlock`` (CIDR minus ``except``), or a ``podSelector`` in the policy's
  namespace, or a ``namespaceSelector``, or both selectors at once (the pod must match both);
- a port is a protocol (default TCP) with a number, a number range up to ``endPort``, a
  name (the destination pod's container port of that name), or no port (every port);
- a connection needs the source's egress and the destination's ingress to allow it.

``ipBlock`` is matched against any address, pod addresses included (the API leaves that to the
network plugin; most match it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["Ingress", "Egress"]
PROTOCOLS = ("TCP", "UDP", "SCTP")
NAME_LABEL = "kubernetes.io/metadata.name"


class PolicyError(ValueError):
    """A NetworkPolicy, selector or pod the evaluator cannot read."""


@dataclass(frozen=True)
class DirectionVerdict:
    """What the policies say about the source's egress or the destination's ingress."""

    direction: Direction
    isolated: bool  # some policy selects the pod for this direction
    allowed: bool
    selecting: tuple[str, ...] = ()  # "namespace/name" of every policy that selects the pod
    allowed_by: tuple[str, ...] = ()  # those among them with a rule that allows the connection

    def __str__(self) -> str:
        if not self.isolated:
            return f"{self.direction}: not isolated"
        if self.allowed:
            return f"{self.direction}: allowed by {', '.join(self.allowed_by)}"
        return f"{self.direction}: denied (selected by {', '.join(self.selecting)})"


@dataclass(frozen=True)
class Verdict:
    """Whether a connection gets through, and which policies decided it."""

    egress: DirectionVerdict
    ingress: DirectionVerdict

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        word = "allowed" if self.allowed else "denied"
        return f"{word} ({self.egress}; {self.ingress})"


def allowed(
    policies: Iterable[Mapping[str, Any]],
    namespaces: Mapping[str, Mapping[str, str]],
    src_pod: Mapping[str, Any],
    dst_pod: Mapping[str, Any],
    port: int,
    protocol: str = "TCP",
) -> Verdict:
    """Evaluate a connection from ``src_pod`` to ``dst_pod`` on ``port``/``protocol``.

    ``namespaces`` maps each namespace name to its labels; ``kubernetes.io/metadata.name`` is
    added as the API server does.
    """
    if protocol not in PROTOCOLS:
        raise PolicyError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if not 0 < port < 65536:
        raise PolicyError(f"port {port} is outside 1-65535")
    policies = list(policies)
    conn = _Connection(src_pod, dst_pod, port, protocol, namespaces)
    return Verdict(
        egress=_evaluate(policies, "Egress", src_pod, conn),
        ingress=_evaluate(policies, "Ingress", dst_pod, conn),
    )


def policy_types(policy: Mapping[str, Any]) -> tuple[Direction, ...]:
    """The directions a policy isolates, with the API server's defaulting."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        for t in types:
            if t not in ("Ingress", "Egress"):
                raise PolicyError(f"{_key(policy)}: policyTypes entry {t!r} is not Ingress/Egress")
        return tuple(types)
    return ("Ingress", "Egress") if spec.get("egress") else ("Ingress",)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels; ``{}`` matches everything."""
    if selector is None:
        raise PolicyError("a missing selector matches nothing; use {} to match everything")
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    expressions = selector.get("matchExpressions") or []
    return all(_expression_matches(expr, labels) for expr in expressions)


@dataclass(frozen=True)
class _Connection:
    src: Mapping[str, Any]
    dst: Mapping[str, Any]
    port: int
    protocol: str
    namespaces: Mapping[str, Mapping[str, str]]


def _evaluate(
    policies: list[Mapping[str, Any]],
    direction: Direction,
    pod: Mapping[str, Any],
    conn: _Connection,
) -> DirectionVerdict:
    if _namespace(pod) is None:  # outside the cluster: nothing isolates it
        return DirectionVerdict(direction, isolated=False, allowed=True)
    selecting = [p for p in policies if direction in policy_types(p) and _selects(p, pod)]
    if not selecting:
        return DirectionVerdict(direction, isolated=False, allowed=True)
    by = [p for p in selecting if _policy_allows(p, direction, conn)]
    return DirectionVerdict(
        direction,
        isolated=True,
        allowed=bool(by),
        selecting=tuple(_key(p) for p in selecting),
        allowed_by=tuple(_key(p) for p in by),
    )


def _selects(policy: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    meta = policy.get("metadata") or {}
    if meta.get("namespace") != _namespace(pod):
        return False
    spec = policy.get("spec") or {}
    return selector_matches(spec.get("podSelector", {}), _labels(pod))


def _policy_allows(policy: Mapping[str, Any], direction: Direction, conn: _Connection) -> bool:
    spec = policy.get("spec") or {}
    rules = spec.get("ingress" if direction == "Ingress" else "egress") or []
    peer_key = "from" if direction == "Ingress" else "to"
    peer_pod = conn.src if direction == "Ingress" else conn.dst
    policy_ns = (policy.get("metadata") or {}).get("namespace")
    for rule in rules:
        rule = rule or {}
        peers = rule.get(peer_key) or []
        if peers and not any(_peer_matches(p, peer_pod, policy_ns, conn) for p in peers):
            continue
        ports = rule.get("ports") or []
        if ports and not any(_port_matches(p, conn) for p in ports):
            continue
        return True
    return False


def _peer_matches(
    peer: Mapping[str, Any], pod: Mapping[str, Any], policy_ns: str | None, conn: _Connection
) -> bool:
    if "ipBlock" in peer:
        if "podSelector" in peer or "namespaceSelector" in peer:
            raise PolicyError("a peer with ipBlock may not also set podSelector/namespaceSelector")
        return _ip_in_block(peer["ipBlock"], _ip(pod))
    if "podSelector" not in peer and "namespaceSelector" not in peer:
        raise PolicyError("a peer must set ipBlock, podSelector or namespaceSelector")
    pod_ns = _namespace(pod)
    if pod_ns is None:  # selectors only match pods
        return False
    if "namespaceSelector" in peer:
        ns_labels = {**(conn.namespaces.get(pod_ns) or {}), NAME_LABEL: pod_ns}
        if not selector_matches(peer["namespaceSelector"], ns_labels):
            return False
    elif pod_ns != policy_ns:
        return False
    return "podSelector" not in peer or selector_matches(peer["podSelector"], _labels(pod))


def _port_matches(spec: Mapping[str, Any], conn: _Connection) -> bool:
    if (spec.get("protocol") or "TCP") != conn.protocol:
        return False
    port = spec.get("port")
    if port is None:
        return True
    end = spec.get("endPort")
    if isinstance(port, str) and not port.isdigit():
        if end is not None:
            raise PolicyError(f"endPort may not go with the named port {port!r}")
        return _named_port(conn.dst, port, conn.protocol) == conn.port
    first = int(port)
    if end is None:
        return conn.port == first
    if int(end) < first:
        raise PolicyError(f"endPort {end} is below port {first}")
    return first <= conn.port <= int(end)


def _named_port(pod: Mapping[str, Any], name: str, protocol: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for p in container.get("ports") or []:
            if p.get("name") == name and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None


def _ip_in_block(block: Mapping[str, Any], ip: str | None) -> bool:
    if ip is None:
        return False
    try:
        addr = ipaddress.ip_address(ip)
        cidr = ipaddress.ip_network(block["cidr"], strict=False)
        excepts = [ipaddress.ip_network(e, strict=False) for e in block.get("except") or []]
    except (KeyError, ValueError) as exc:
        raise PolicyError(f"bad ipBlock {dict(block)!r} or address {ip!r}: {exc}") from exc
    if addr.version != cidr.version or addr not in cidr:
        return False
    return not any(addr.version == e.version and addr in e for e in excepts)


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if op in ("In", "NotIn") and not values:
        raise PolicyError(f"matchExpressions {op} on {key!r} needs values")
    if op in ("Exists", "DoesNotExist") and values:
        raise PolicyError(f"matchExpressions {op} on {key!r} takes no values")
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise PolicyError(f"matchExpressions operator {op!r} is not In/NotIn/Exists/DoesNotExist")


def _namespace(pod: Mapping[str, Any]) -> str | None:
    return (pod.get("metadata") or {}).get("namespace")


def _labels(pod: Mapping[str, Any]) -> Mapping[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def _ip(pod: Mapping[str, Any]) -> str | None:
    return (pod.get("status") or {}).get("podIP")


def _key(policy: Mapping[str, Any]) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
