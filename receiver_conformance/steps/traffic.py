"""Steps that send real traffic through the cluster's data plane (features/09_traffic.feature).

The scenario's Secret, Receiver and source live in its own fresh namespace; the receiver,
the guide's exposure objects and probes are reached as receiver_conformance.traffic describes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from receiver_conformance.exposure import FLUX_POLICIES
from receiver_conformance.scenario import Scenario
from receiver_conformance.traffic import CONNECT_TIMEOUT, Outcome, Traffic


@pytest.fixture
def traffic(scenario: Scenario) -> Iterator[Traffic]:
    state = Traffic(scenario)
    yield state
    state.close()


# -- webhooks through an entry point ------------------------------------------------------


@when(parsers.re(r'GitHub sends a signed "(?P<event>[^"]+)" event from '
                 r'(?P<origin>a pod|outside the cluster) through the '
                 r'(?P<entry>LoadBalancer Service|Ingress|HTTPRoute)'
                 r'(?: for)? "(?P<name>[^"]+)"$'))
def github_event_through(traffic: Traffic, event: str, origin: str, entry: str,
                         name: str) -> None:
    traffic.deliver(entry, name, "github", origin, event=event)


@then(parsers.parse("the request is answered {status:d} before it reaches the receiver"))
def answered_by_entry(traffic: Traffic, status: int) -> None:
    traffic.scenario.expect_status(status)


@then(parsers.parse("no answer comes within {seconds:d} seconds"))
def no_answer(traffic: Traffic, seconds: int) -> None:
    assert seconds == CONNECT_TIMEOUT, f"the clients give up after {CONNECT_TIMEOUT} s"
    response = traffic.scenario.response
    assert response is None, f"answered {response.status_code if response else ''}"


# -- policies -----------------------------------------------------------------------------


@given("Flux's network policies stand in the receiver's namespace")
def flux_policies_stand(traffic: Traffic) -> None:
    for name in FLUX_POLICIES:
        policy_stands(traffic, name)


@given("no other policy admits traffic to the receiver's pods")
def only_flux_policies(traffic: Traffic) -> None:
    traffic.only_flux_policies()


@when(parsers.parse("a policy admitting every source to port {port:d} is added to the "
                    "receiver's namespace"))
def admit_outside(traffic: Traffic, port: int) -> None:
    traffic.admit_outside(port)


@given(parsers.parse('the policy "{name}" stands in the receiver\'s namespace'))
def policy_stands(traffic: Traffic, name: str) -> None:
    policy = traffic.standing_policy(name)
    traffic.scenario.evidence(f"policy {name}", policy["spec"])


@when(parsers.parse('the policy "{name}" is lifted from the receiver\'s namespace'))
def lift_policy(traffic: Traffic, name: str) -> None:
    traffic.lift(name)


@when(parsers.parse('the policy "{name}" is put back'))
def put_back_policy(traffic: Traffic, name: str) -> None:
    traffic.restore(name)


# -- pods and probes ----------------------------------------------------------------------


@given(parsers.parse("a cert-manager HTTP-01 solver pod listening on port {port:d} in the "
                     "receiver's namespace"))
def solver_listening(traffic: Traffic, port: int) -> None:
    traffic.start_solver(port)


@then(parsers.re(r"a probe in (?P<where>the receiver's namespace|a fresh namespace"
                 r'(?: labelled "(?P<labels>[^"]+)"| without that label)?) '
                 r"(?P<verdict>connects|times out connecting) to the "
                 r"(?P<role>receiver pods|solver pod) on port (?P<port>\d+)$"))
def probe_connection(traffic: Traffic, where: str, labels: str | None, verdict: str,
                     role: str, port: str) -> None:
    address = traffic.address(role)
    expected = Outcome.CONNECTED if verdict == "connects" else Outcome.TIMED_OUT
    traffic.probe_until(traffic.probe_namespace(where, labels), address, int(port), expected)
