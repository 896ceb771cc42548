"""Steps about exposing the receiver and the network policies around it (receiver_conformance.exposure).

Routes and verdicts are static checks over the objects the API server holds ("the objects
route", "the policies let"); real traffic is features/09's business.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from receiver_conformance import routes
from receiver_conformance.exposure import GUIDE_KINDS, Exposure
from receiver_conformance.scenario import Scenario


@pytest.fixture
def exposure(scenario: Scenario) -> Iterator[Exposure]:
    state = Exposure.for_scenario(scenario)
    yield state
    state.close()


# -- the receiver and its Service -------------------------------------------------------


@given("the receiver's pods and its Service \"webhook-receiver\", as the target runs them")
def receiver_pod_and_service(exposure: Exposure) -> None:
    exposure.use_receiver()


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


@when(parsers.parse('the policy "{name}" is left out'))
def leave_out_policy(exposure: Exposure, name: str) -> None:
    exposure.leave_out_policy(name)


# -- routes -----------------------------------------------------------------------------


@then(parsers.parse('the objects route a webhook for "{host}" through the {how} "{name}" to '
                    "the receiver pod on port {port:d}"))
def route_leads_to_receiver(exposure: Exposure, host: str, how: str, name: str,
                            port: int) -> None:
    route = exposure.route(how, name, host)
    receivers = {p["metadata"]["name"] for p in exposure.receiver_pods}
    ends = {e.pod_name for e in route.endpoints}
    assert ends <= receivers, f"the route ends on {sorted(ends - receivers)}: {route}"
    assert {e.container_port for e in route.endpoints} == {port}, str(route)


@then(parsers.parse('the objects route a webhook for "{host}" through the {how} "{name}" to '
                    "no pod"))
def route_leads_nowhere(exposure: Exposure, host: str, how: str, name: str) -> None:
    with pytest.raises(routes.RouteError) as stopped:
        exposure.route(how, name, host)
    missing = stopped.value
    assert not (isinstance(missing, routes.MissingObject) and (missing.kind, missing.name) == (
        how, name)), f"the {how} {name} itself is not there, so it routes nothing: {missing}"


# -- policy verdicts --------------------------------------------------------------------


@then(parsers.parse("the policies let a pod in {where} connect to the {role} pod on port "
                    "{port:d}"))
def may_connect(exposure: Exposure, where: str, role: str, port: int) -> None:
    verdict = exposure.verdict(where, role, port)
    assert verdict.allowed, str(verdict)


@then(parsers.parse("the policies keep a pod in {where} from the {role} pod on port {port:d}"))
def may_not_connect(exposure: Exposure, where: str, role: str, port: int) -> None:
    verdict = exposure.verdict(where, role, port)
    assert not verdict.allowed, str(verdict)
