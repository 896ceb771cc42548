"""Steps that send real traffic through the cluster's data plane (features/09_traffic.feature).

The receiver and the guide's exposure objects and policies live in flux-system, set up by the
target (harness/targets/kind.py); the scenario's Secret, Receiver and source live in its own
fresh namespace, which the receiver watches like any other. Probe pods run in namespaces the
scenario creates; a policy the scenario lifts is put back when it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness import senders
from harness.kube import Kube, Timeout, wait_until
from harness.scenario import Scenario
from harness.traffic import (
    RECEIVER_NAMESPACE,
    RECEIVER_SELECTOR,
    Outcome,
    Probe,
    create_pod,
    delete_pod,
    fresh_namespace,
    load_balancer_url,
    pod_addresses,
    run_probe,
    send_via,
    solver_pod,
    wait_ready,
)

POLICY_API = "networking.k8s.io/v1"
FLUX_POLICIES = ("allow-egress", "allow-webhooks", "allow-scraping")
SETTLE = 45.0  # seconds a changed policy may take to reach the data plane
ENTRY_DETAILS = {"Ingress": "ingress_url", "HTTPRoute": "gateway_url"}  # Target.details keys


@dataclass
class Traffic:
    """What a traffic scenario created outside its own namespace, to undo at the end."""

    scenario: Scenario
    namespaces: list[str] = field(default_factory=list)
    pods: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)
    lifted: dict[str, dict[str, Any]] = field(default_factory=dict)  # policy name -> object
    solver: str | None = None  # the solver pod's IP

    @property
    def kube(self) -> Kube:
        return self.scenario.kube

    def namespace(self, labels: dict[str, str] | None = None) -> str:
        name = f"{self.scenario.namespace}-p{len(self.namespaces)}"
        fresh_namespace(self.kube, name, labels)
        self.namespaces.append(name)
        return name

    def policy(self, name: str) -> dict[str, Any] | None:
        return self.kube.get(POLICY_API, "NetworkPolicy", name, RECEIVER_NAMESPACE)

    def restore(self, name: str) -> None:
        self.kube.apply(self.lifted.pop(name), RECEIVER_NAMESPACE)

    def close(self) -> None:
        for name in list(self.lifted):
            self.restore(name)
        for namespace, pod in self.pods:
            delete_pod(self.kube, namespace, pod)
        for namespace in self.namespaces:
            self.kube.delete_namespace(namespace)


@pytest.fixture
def traffic(scenario: Scenario) -> Iterator[Traffic]:
    state = Traffic(scenario)
    yield state
    state.close()


# -- webhooks through an entry point ------------------------------------------------------


def entry_point(traffic: Traffic, entry: str, name: str | None) -> tuple[str, str | None]:
    """The base URL and Host header of a sentence's entry point."""
    if entry == "LoadBalancer Service":
        return load_balancer_url(traffic.kube, RECEIVER_NAMESPACE, name or "receiver"), None
    url = traffic.scenario.target.details.get(ENTRY_DETAILS[entry])
    assert url, f"target {traffic.scenario.target.name} names no {ENTRY_DETAILS[entry]}"
    return url, name


@when(parsers.re(r'GitHub sends a signed "(?P<event>[^"]+)" event through the '
                 r'(?P<entry>LoadBalancer Service|Ingress|HTTPRoute)'
                 r'(?: for)? "(?P<name>[^"]+)"$'))
def github_event_through(traffic: Traffic, event: str, entry: str, name: str) -> None:
    scenario = traffic.scenario
    base_url, host = entry_point(traffic, entry, name)
    path = scenario.webhook_path()
    delivery = senders.delivery("github", "valid", scenario.token, event=event)
    scenario.snapshot()
    scenario.evidence(f"request sent through the {entry}",
                      f"POST {base_url}{senders.short_path(path)} Host: {host or '(as URL)'}\n"
                      f"{delivery.describe()}")
    try:
        scenario.response = send_via(base_url, path, delivery, host)
    except requests.RequestException as err:
        scenario.evidence("no answer", f"{type(err).__name__}: {err}")
        raise AssertionError(f"no answer through the {entry}: {type(err).__name__}") from err
    scenario.evidence("response observed", {"status": scenario.response.status_code,
                                            "body": scenario.response.text[:2000]})


@then(parsers.parse("the request is answered {status:d} before it reaches the receiver"))
def answered_by_entry(traffic: Traffic, status: int) -> None:
    traffic.scenario.expect_status(status)


# -- policies -----------------------------------------------------------------------------


@given("Flux's network policies stand in the receiver's namespace")
def flux_policies_stand(traffic: Traffic) -> None:
    for name in FLUX_POLICIES:
        policy_stands(traffic, name)


@given(parsers.parse('the policy "{name}" stands in the receiver\'s namespace'))
def policy_stands(traffic: Traffic, name: str) -> None:
    policy = traffic.policy(name)
    assert policy, f"the NetworkPolicy {RECEIVER_NAMESPACE}/{name} does not exist"
    traffic.scenario.evidence(f"policy {name}", policy["spec"])


@when(parsers.parse('the policy "{name}" is lifted from the receiver\'s namespace'))
def lift_policy(traffic: Traffic, name: str) -> None:
    policy = traffic.policy(name)
    assert policy, f"the NetworkPolicy {RECEIVER_NAMESPACE}/{name} does not exist"
    meta = policy["metadata"]
    traffic.lifted[name] = {
        "apiVersion": POLICY_API, "kind": "NetworkPolicy", "spec": policy["spec"],
        "metadata": {k: meta[k] for k in ("name", "namespace", "labels", "annotations")
                     if meta.get(k)},
    }
    traffic.kube.resource(POLICY_API, "NetworkPolicy").delete(name=name,
                                                              namespace=RECEIVER_NAMESPACE)


@when(parsers.parse('the policy "{name}" is put back'))
def put_back_policy(traffic: Traffic, name: str) -> None:
    traffic.restore(name)


# -- pods and probes ----------------------------------------------------------------------


@given(parsers.parse("a cert-manager HTTP-01 solver pod listening on port {port:d} in the "
                     "receiver's namespace"))
def solver_listening(traffic: Traffic, port: int) -> None:
    name = f"cm-acme-http-solver-{uuid.uuid4().hex[:5]}"
    create_pod(traffic.kube, RECEIVER_NAMESPACE, solver_pod(name, port))
    traffic.pods.append((RECEIVER_NAMESPACE, name))
    traffic.solver = wait_ready(traffic.kube, RECEIVER_NAMESPACE, name)


def target_address(traffic: Traffic, role: str) -> str:
    if role == "solver pod":
        assert traffic.solver, "the scenario has no solver pod"
        return traffic.solver
    addresses = pod_addresses(traffic.kube, RECEIVER_NAMESPACE, RECEIVER_SELECTOR)
    assert addresses, f"no running pod {RECEIVER_SELECTOR} in {RECEIVER_NAMESPACE}"
    return addresses[0]


def probe_namespace(traffic: Traffic, where: str, labels: str | None) -> str:
    if where == "the receiver's namespace":
        return RECEIVER_NAMESPACE
    if labels:
        key, _, value = labels.partition("=")
        return traffic.namespace({key: value})
    return traffic.namespace()


def probe_until(traffic: Traffic, namespace: str, address: str, port: int,
                expected: Outcome) -> list[Probe]:
    """Probe until two probes in a row come to `expected`. Every probe is bounded by curl's
    --max-time; the window for a changed policy to reach the data plane opens after the
    first probe, whose pod may have waited for its image."""
    probes: list[Probe] = []

    def twice_expected() -> bool:
        probe = run_probe(traffic.kube, namespace, f"probe-{uuid.uuid4().hex[:6]}",
                          address, port)
        probes.append(probe)
        traffic.scenario.evidence("probe", str(probe))
        return len(probes) >= 2 and probes[-1].outcome == probes[-2].outcome == expected

    twice_expected()
    try:
        wait_until(twice_expected, SETTLE, f"two probes in a row to be {expected.value}",
                   describe=lambda: str(probes[-1]))
    except Timeout as err:
        raise AssertionError(f"expected {expected.value}, got "
                             f"{[p.outcome.value for p in probes]}: {err}") from None
    return probes


@then(parsers.re(r"a probe in (?P<where>the receiver's namespace|a fresh namespace"
                 r'(?: labelled "(?P<labels>[^"]+)"| without that label)?) '
                 r"(?P<verdict>connects|times out connecting) to the "
                 r"(?P<role>receiver pods|solver pod) on port (?P<port>\d+)$"))
def probe_connection(traffic: Traffic, where: str, labels: str | None, verdict: str,
                     role: str, port: str) -> None:
    address = target_address(traffic, role)
    namespace = probe_namespace(traffic, where, labels)
    expected = Outcome.CONNECTED if verdict == "connects" else Outcome.TIMED_OUT
    probe_until(traffic, namespace, address, int(port), expected)
