"""Truth table for receiver_conformance.netpol: one row per rule of the NetworkPolicy API."""

from __future__ import annotations

import pytest
import yaml

from receiver_conformance.netpol import PolicyError, allowed, policy_types, selector_matches
from receiver_conformance.paths import FIXTURES

EXPOSURE = FIXTURES / "exposure"

NAMESPACES = {
    "flux-system": {"team": "flux"},
    "apps": {"team": "apps", "env": "prod"},
    "dev": {"team": "apps", "env": "dev"},
    "cert-manager": {"app.kubernetes.io/instance": "cert-manager"},
    "ingress-nginx": {},
}


def pod(ns: str | None, labels: dict | None = None, ip: str = "10.244.0.10", ports=()) -> dict:
    """A Pod as the API returns it; ns None is an address outside the cluster."""
    meta = {"name": "p", "labels": labels or {}}
    if ns is not None:
        meta["namespace"] = ns
    containers = [{"name": "c", "ports": [dict(p) for p in ports]}]
    return {"metadata": meta, "spec": {"containers": containers}, "status": {"podIP": ip}}


def netpol(name: str, ns: str, **spec) -> dict:
    spec.setdefault("podSelector", {})
    if "policyTypes" in spec and spec["policyTypes"] is None:
        del spec["policyTypes"]
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


NC_PORTS = (
    {"name": "http-webhook", "containerPort": 9292, "protocol": "TCP"},
    {"name": "http-prom", "containerPort": 8080},
    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
)
NC = pod("flux-system", {"app": "notification-controller"}, "10.244.1.5", NC_PORTS)
SC = pod("flux-system", {"app": "source-controller"}, "10.244.1.6", NC_PORTS)
APP = pod("apps", {"app": "web", "tier": "front"}, "10.244.2.7")
APP_DB = pod("apps", {"app": "db"}, "10.244.2.8", ({"name": "pg", "containerPort": 5432},))
DEV = pod("dev", {"app": "web"}, "10.244.3.9")
CM = pod("cert-manager", {"app": "cert-manager"}, "10.244.4.4")
SOLVER = pod("flux-system", {"acme.cert-manager.io/http01-solver": "true"}, "10.244.1.9",
             ({"name": "http", "containerPort": 8089},))
OUTSIDE = pod(None, ip="203.0.113.7")
OUTSIDE6 = pod(None, ip="2001:db8::7")

DENY_ALL_IN = netpol("deny-in", "flux-system")
DENY_ALL_OUT = netpol("deny-out", "apps", policyTypes=["Egress"])
ALLOW_ALL_IN = netpol("allow-in", "flux-system", ingress=[{}])
NC_ONLY = {"matchLabels": {"app": "notification-controller"}}


def from_(*peers, ports=None) -> dict:
    rule: dict = {"from": list(peers)}
    if ports is not None:
        rule["ports"] = ports
    return rule


def nc_in(*rules, **spec) -> dict:
    return netpol("nc", "flux-system", podSelector=NC_ONLY, ingress=list(rules), **spec)


CASES = [
    # --- no policy / isolation
    ("no-policy-open", [], APP, NC, 9292, "TCP", True),
    ("policy-other-namespace-does-not-isolate", [netpol("x", "apps")], APP, NC, 9292, "TCP", True),
    ("empty-podselector-selects-all-deny", [DENY_ALL_IN], APP, NC, 9292, "TCP", False),
    ("podselector-not-matching-leaves-open",
     [netpol("x", "flux-system", podSelector={"matchLabels": {"app": "other"}})],
     APP, NC, 9292, "TCP", True),
    ("empty-ingress-list-denies", [netpol("x", "flux-system", ingress=[])], APP, NC, 9292, "TCP",
     False),
    ("ingress-empty-rule-allows-all", [ALLOW_ALL_IN], OUTSIDE, NC, 9292, "TCP", True),
    ("union-deny-plus-allow", [DENY_ALL_IN, ALLOW_ALL_IN], APP, NC, 9292, "TCP", True),
    # --- peers: podSelector, namespaceSelector, AND, OR
    ("podselector-peer-same-namespace",
     [nc_in(from_({"podSelector": {"matchLabels": {"app": "source-controller"}}}))],
     SC, NC, 9292, "TCP", True),
    ("podselector-peer-other-namespace-denied",
     [nc_in(from_({"podSelector": {}}))], APP, NC, 9292, "TCP", False),
    ("namespaceselector-empty-any-namespace",
     [nc_in(from_({"namespaceSelector": {}}))], DEV, NC, 9292, "TCP", True),
    ("namespaceselector-empty-not-outside",
     [nc_in(from_({"namespaceSelector": {}}))], OUTSIDE, NC, 9292, "TCP", False),
    ("namespaceselector-labels-match",
     [nc_in(from_({"namespaceSelector": {"matchLabels": {"env": "prod"}}}))],
     APP, NC, 9292, "TCP", True),
    ("namespaceselector-labels-miss",
     [nc_in(from_({"namespaceSelector": {"matchLabels": {"env": "prod"}}}))],
     DEV, NC, 9292, "TCP", False),
    ("namespaceselector-metadata-name-label",
     [nc_in(from_({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dev"}}}))],
     DEV, NC, 9292, "TCP", True),
    ("both-selectors-and-match",
     [nc_in(from_({"namespaceSelector": {"matchLabels": {"team": "apps"}},
                   "podSelector": {"matchLabels": {"tier": "front"}}}))],
     APP, NC, 9292, "TCP", True),
    ("both-selectors-and-pod-miss",
     [nc_in(from_({"namespaceSelector": {"matchLabels": {"team": "apps"}},
                   "podSelector": {"matchLabels": {"tier": "front"}}}))],
     DEV, NC, 9292, "TCP", False),
    ("peer-list-or-second-matches",
     [nc_in(from_({"podSelector": {"matchLabels": {"app": "nope"}}},
                  {"namespaceSelector": {"matchLabels": {"env": "dev"}}}))],
     DEV, NC, 9292, "TCP", True),
    # --- matchExpressions
    ("expr-in", [nc_in(from_({"namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "stage"]}]}}))], APP, NC, 9292, "TCP",
     True),
    ("expr-in-miss", [nc_in(from_({"namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "In", "values": ["stage"]}]}}))], APP, NC, 9292, "TCP", False),
    ("expr-notin-absent-key-matches", [nc_in(from_({"namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "NotIn", "values": ["prod"]}]}}))], CM, NC, 9292, "TCP", True),
    ("expr-notin-miss", [nc_in(from_({"namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "NotIn", "values": ["prod"]}]}}))], APP, NC, 9292, "TCP", False),
    ("expr-exists", [nc_in(from_({"namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "Exists"}]}}))], DEV, NC, 9292, "TCP", True),
    ("expr-doesnotexist", [nc_in(from_({"namespaceSelector": {"matchExpressions": [
        {"key": "env", "operator": "DoesNotExist"}]}}))], DEV, NC, 9292, "TCP", False),
    ("expr-and-matchlabels", [nc_in(from_({"podSelector": {
        "matchLabels": {"app": "source-controller"},
        "matchExpressions": [{"key": "tier", "operator": "Exists"}]}}))], SC, NC, 9292, "TCP",
     False),
    # --- ipBlock
    ("ipblock-outside-in-cidr",
     [nc_in(from_({"ipBlock": {"cidr": "203.0.113.0/24"}}))], OUTSIDE, NC, 9292, "TCP", True),
    ("ipblock-except",
     [nc_in(from_({"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/29"]}}))],
     OUTSIDE, NC, 9292, "TCP", False),
    ("ipblock-other-cidr", [nc_in(from_({"ipBlock": {"cidr": "198.51.100.0/24"}}))],
     OUTSIDE, NC, 9292, "TCP", False),
    ("ipblock-matches-pod-ip", [nc_in(from_({"ipBlock": {"cidr": "10.244.2.0/24"}}))],
     APP, NC, 9292, "TCP", True),
    ("ipblock-ipv6", [nc_in(from_({"ipBlock": {"cidr": "2001:db8::/64"}}))],
     OUTSIDE6, NC, 9292, "TCP", True),
    ("ipblock-v4-cidr-v6-address", [nc_in(from_({"ipBlock": {"cidr": "0.0.0.0/0"}}))],
     OUTSIDE6, NC, 9292, "TCP", False),
    # --- ports
    ("port-number-match", [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": 9292}]))],
     APP, NC, 9292, "TCP", True),
    ("port-number-miss", [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": 9292}]))],
     APP, NC, 8080, "TCP", False),
    ("port-named-resolves-on-destination",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": "http-webhook"}]))],
     APP, NC, 9292, "TCP", True),
    ("port-named-other-port",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": "http-webhook"}]))],
     APP, NC, 8080, "TCP", False),
    ("port-named-protocol-must-agree",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": "dns", "protocol": "TCP"}]))],
     APP, NC, 53, "TCP", False),
    ("port-endport-inside",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": 9000, "endPort": 9300}]))],
     APP, NC, 9292, "TCP", True),
    ("port-endport-above",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": 9000, "endPort": 9291}]))],
     APP, NC, 9292, "TCP", False),
    ("port-default-protocol-tcp-not-udp",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": 53}]))], APP, NC, 53, "UDP", False),
    ("port-udp", [nc_in(from_({"namespaceSelector": {}}, ports=[{"port": 53, "protocol": "UDP"}]))],
     APP, NC, 53, "UDP", True),
    ("port-sctp-protocol-only",
     [nc_in(from_({"namespaceSelector": {}}, ports=[{"protocol": "SCTP"}]))],
     APP, NC, 3868, "SCTP", True),
    ("port-list-or", [nc_in(from_({"namespaceSelector": {}},
                                  ports=[{"port": 8080}, {"port": 9292}]))], APP, NC, 9292, "TCP",
     True),
    ("ports-without-from-any-peer", [nc_in({"ports": [{"port": 9292}]})],
     OUTSIDE, NC, 9292, "TCP", True),
    # --- policyTypes and egress
    ("egress-types-defaulted-from-rules",
     [netpol("e", "apps", egress=[{"to": [{"podSelector": {}}]}], policyTypes=None)],
     APP, NC, 9292, "TCP", False),
    ("egress-empty-list-not-defaulted", [netpol("e", "apps", egress=[], policyTypes=None)],
     APP, NC, 9292, "TCP", True),
    ("egress-deny-all", [DENY_ALL_OUT], APP, NC, 9292, "TCP", False),
    ("egress-deny-all-keeps-ingress-open", [DENY_ALL_OUT], NC, APP, 80, "TCP", True),
    ("egress-only-type-leaves-ingress-open",
     [netpol("e", "flux-system", policyTypes=["Egress"])], APP, NC, 9292, "TCP", True),
    ("egress-allow-all-rule",
     [netpol("e", "apps", policyTypes=["Egress"], egress=[{}])], APP, OUTSIDE, 443, "TCP", True),
    ("egress-to-namespace",
     [netpol("e", "apps", policyTypes=["Egress"],
             egress=[{"to": [{"namespaceSelector": {"matchLabels": {"team": "flux"}}}]}])],
     APP, NC, 9292, "TCP", True),
    ("egress-to-namespace-not-outside",
     [netpol("e", "apps", policyTypes=["Egress"],
             egress=[{"to": [{"namespaceSelector": {}}]}])], APP, OUTSIDE, 443, "TCP", False),
    ("egress-named-port-on-destination",
     [netpol("e", "apps", policyTypes=["Egress"], egress=[{"ports": [{"port": "pg"}]}])],
     APP, APP_DB, 5432, "TCP", True),
    ("egress-allowed-ingress-denied-both-needed",
     [netpol("e", "apps", policyTypes=["Egress"], egress=[{}]), DENY_ALL_IN],
     APP, NC, 9292, "TCP", False),
    # --- the guide's and Flux's policies
    ("flux-allow-egress-same-namespace", "flux", SC, NC, 9090, "TCP", True),
    ("flux-allow-webhooks-any-namespace", "flux", DEV, NC, 9292, "TCP", True),
    ("flux-allow-webhooks-only-webhook-port", "flux", DEV, NC, 9090, "TCP", False),
    ("flux-allow-scraping", "flux", APP, SC, 8080, "TCP", True),
    ("flux-other-controller-closed", "flux", APP, SC, 9090, "TCP", False),
    ("flux-outside-blocked", "flux", OUTSIDE, NC, 9292, "TCP", False),
    ("flux-egress-anywhere", "flux", NC, OUTSIDE, 443, "TCP", True),
    ("guide-solver-from-cert-manager", "flux", CM, SOLVER, 8089, "TCP", True),
    ("guide-solver-from-other-namespace", "flux", APP, SOLVER, 8089, "TCP", False),
]


def _fixture_policies() -> list[dict]:
    docs = []
    for name in ("flux-policies.yaml", "allow-cert-manager-resolver.yaml"):
        docs += [d for d in yaml.safe_load_all((EXPOSURE / name).read_text()) if d]
    return docs


@pytest.mark.parametrize(
    ("policies", "src", "dst", "port", "protocol", "expected"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_truth_table(policies, src, dst, port, protocol, expected):
    if policies == "flux":
        policies = _fixture_policies()
    verdict = allowed(policies, NAMESPACES, src, dst, port, protocol)
    assert verdict.allowed is expected, str(verdict)


def test_table_is_large_enough():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_verdict_names_deciding_policies():
    verdict = allowed(_fixture_policies(), NAMESPACES, DEV, NC, 9292)
    assert verdict.ingress.allowed_by == ("flux-system/allow-webhooks",)
    assert "flux-system/allow-egress" in verdict.ingress.selecting
    assert not verdict.egress.isolated
    denied = allowed(_fixture_policies(), NAMESPACES, DEV, NC, 9090)
    assert not denied
    assert "denied" in str(denied) and "allow-webhooks" in str(denied)


def test_webhooks_need_allow_webhooks():
    """Without allow-webhooks, Flux's other policies shut other namespaces out of the receiver."""
    rest = [p for p in _fixture_policies() if p["metadata"]["name"] != "allow-webhooks"]
    assert not allowed(rest, NAMESPACES, DEV, NC, 9292)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, ("Ingress",), id="default-ingress"),
        pytest.param({"egress": [{}]}, ("Ingress", "Egress"), id="egress-rules"),
        pytest.param({"egress": []}, ("Ingress",), id="empty-egress"),
        pytest.param({"policyTypes": ["Egress"]}, ("Egress",), id="explicit"),
    ],
)
def test_policy_types(spec, expected):
    assert policy_types({"spec": spec}) == expected


@pytest.mark.parametrize(
    ("policy_spec", "match"),
    [
        pytest.param({"ingress": [{"from": [{}]}]}, "must set", id="empty-peer"),
        pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"},
                                              "podSelector": {}}]}]}, "ipBlock", id="mixed-peer"),
        pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "nonsense"}}]}]}, "bad ipBlock",
                     id="bad-cidr"),
        pytest.param({"ingress": [{"from": [{"podSelector": {"matchExpressions": [
            {"key": "a", "operator": "Like"}]}}]}]}, "operator", id="bad-operator"),
        pytest.param({"ingress": [{"from": [{"podSelector": {"matchExpressions": [
            {"key": "a", "operator": "In"}]}}]}]}, "needs values", id="in-without-values"),
        pytest.param({"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}, "endPort",
                     id="named-endport"),
        pytest.param({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "below",
                     id="endport-below"),
        pytest.param({"policyTypes": ["Sideways"]}, "policyTypes", id="bad-policy-type"),
    ],
)
def test_bad_policies_give_clear_errors(policy_spec, match):
    policy = netpol("bad", "flux-system", **policy_spec)
    with pytest.raises(PolicyError, match=match):
        allowed([policy], NAMESPACES, SC, NC, 9292)


@pytest.mark.parametrize(("port", "protocol"), [(0, "TCP"), (70000, "TCP"), (80, "ICMP")])
def test_bad_connection_rejected(port, protocol):
    with pytest.raises(PolicyError):
        allowed([], NAMESPACES, APP, NC, port, protocol)


def test_missing_selector_is_an_error():
    with pytest.raises(PolicyError, match="missing selector"):
        selector_matches(None, {})
