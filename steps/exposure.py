"""Steps about exposing the receiver and the network policies around it (harness.exposure)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from harness import routes
from harness.exposure import GUIDE_KINDS, Exposure
from harness.scenario import Scenario


@pytest.fixture
def exposure(scenario: Scenario) -> Iterator[Exposure]:
    state = Exposure.for_scenario(scenario)
    yield state
    state.close()


# -- the receiver and its Service -------------------------------------------------------


@given("the receiver's pod and its Service \"webhook-receiver\" as reference/deploy/ has them")
def receiver_pod_and_service(exposure: Exposure) -> None:
    exposure.store_receiver()


@given("a cert-manager HTTP-01 solver pod in the receiver's namespace")
def solver_pod(exposure: Exposure) -> None:
    exposure.store_solver()


# -- the guide's objects ----------------------------------------------------------------


@given(parsers.parse('the guide\'s {what} "{name}" is applied'))
@when(parsers.parse('the guide\'s {what} "{name}" is applied'))
def apply_guide_object(exposure: Exposure, what: str, name: str) -> None:
    assert what in GUIDE_KINDS, f"unknown exposure object {what!r}; one of {', '.join(GUIDE_KINDS)}"
    exposure.apply_guide(GUIDE_KINDS[what], name)


@given("Flux's default network policies in the receiver's namespace")
def flux_policies(exposure: Exposure) -> None:
    exposure.apply_flux_policies()


@when(parsers.parse('the policy "{name}" is deleted'))
def delete_policy(exposure: Exposure, name: str) -> None:
    exposure.delete_policy(name)


# -- routes -----------------------------------------------------------------------------


@then(parsers.parse('a webhook for "{host}" through the {how} "{name}" reaches the receiver '
                    "pod on port {port:d}"))
def route_reaches(exposure: Exposure, host: str, how: str, name: str, port: int) -> None:
    route = exposure.route(how, name, host)
    assert route.pod["metadata"]["name"] == exposure.pods["receiver"]["metadata"]["name"]
    assert route.container_port == port, str(route)


@then(parsers.parse('a webhook for "{host}" through the {how} "{name}" reaches no pod'))
def route_stops(exposure: Exposure, host: str, how: str, name: str) -> None:
    with pytest.raises(routes.RouteError):
        exposure.route(how, name, host)


# -- policy verdicts --------------------------------------------------------------------


@then(parsers.parse("a pod in {where} may connect to the {role} pod on port {port:d}"))
def may_connect(exposure: Exposure, where: str, role: str, port: int) -> None:
    verdict = exposure.verdict(where, role, port)
    assert verdict.allowed, str(verdict)


@then(parsers.parse("a pod in {where} may not connect to the {role} pod on port {port:d}"))
def may_not_connect(exposure: Exposure, where: str, role: str, port: int) -> None:
    verdict = exposure.verdict(where, role, port)
    assert not verdict.allowed, str(verdict)
