"""Steps about exposing the receiver and the network policies around it.

The guide's objects (fixtures/exposure/) are applied to the target's API server as written,
moved from flux-system into the scenario's namespace (and gateway-namespace into one of its
own); routes and policy verdicts are then computed over what the API server stored
(harness.routes, harness.netpol). The receiver pod is the one reference/deploy/ describes.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from harness import netpol, routes
from harness.kube import load_manifests
from harness.paths import FIXTURES, REFERENCE_DEPLOY
from harness.scenario import Scenario

EXPOSURE = FIXTURES / "exposure"
HOOK_PATH = "/hook/" + "0" * 64  # any hook path: routes do not depend on the token
KINDS = {"LoadBalancer Service": "Service", "Ingress": "Ingress", "HTTPRoute": "HTTPRoute",
         "Gateway": "Gateway", "policy": "NetworkPolicy"}


@dataclass
class Exposure:
    """The exposure objects of one scenario and the pods they lead to."""

    scenario: Scenario
    gateway_namespace: str
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> stored Pod
    route: routes.Route | None = None

    @property
    def namespace(self) -> str:
        return self.scenario.namespace

    def moved(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The guide's object with its namespaces replaced by the scenario's."""
        names = {"flux-system": self.namespace, "gateway-namespace": self.gateway_namespace}
        return _replace_strings(copy.deepcopy(obj), names)

    def apply_guide(self, kind: str, name: str) -> dict[str, Any]:
        docs = [d for p in sorted(EXPOSURE.glob("*.yaml")) for d in load_manifests(p)]
        found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
        assert found, f"fixtures/exposure/ has no {kind} {name}"
        obj = self.moved(found[0])
        self.scenario.apply(obj)
        self.scenario.evidence(f"applied {kind} {name}", obj)
        return obj

    def objects(self) -> routes.Objects:
        return routes.load_objects(self.scenario.kube.api, [self.namespace,
                                                            self.gateway_namespace])

    def policies(self) -> list[dict[str, Any]]:
        listing = self.scenario.kube.api.sanitize_for_serialization(
            self.scenario.kube.resource("networking.k8s.io/v1", "NetworkPolicy")
            .get(namespace=self.namespace).to_dict())
        return listing["items"]


def _replace_strings(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _replace_strings(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_strings(v, names) for v in node]
    return names.get(node, node) if isinstance(node, str) else node


@pytest.fixture
def exposure(scenario: Scenario) -> Iterator[Exposure]:
    gateway_ns = f"{scenario.namespace}-gw-{uuid.uuid4().hex[:4]}"
    state = Exposure(scenario, gateway_ns)
    yield state
    scenario.kube.delete_namespace(gateway_ns)


def _pod_from_template(name: str, template: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(template["spec"])
    spec["automountServiceAccountToken"] = False  # the pod is stored, never run
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(template["metadata"]["labels"])},
            "spec": spec}


def _store_pod(exposure: Exposure, role: str, pod: dict[str, Any]) -> None:
    pod["metadata"]["namespace"] = exposure.namespace
    exposure.scenario.apply(pod)
    stored = exposure.scenario.kube.get("v1", "Pod", pod["metadata"]["name"], exposure.namespace)
    assert stored is not None
    exposure.pods[role] = exposure.scenario.kube.api.sanitize_for_serialization(stored)


# -- the receiver and its Service -------------------------------------------------------


@given("the receiver's pod and its Service \"webhook-receiver\" as reference/deploy/ has them")
def receiver_pod_and_service(exposure: Exposure) -> None:
    for doc in load_manifests(REFERENCE_DEPLOY / "rbac.yaml"):
        if doc["kind"] == "ServiceAccount":
            exposure.scenario.apply(doc)
    [deployment] = load_manifests(REFERENCE_DEPLOY / "deployment.yaml")
    pod = _pod_from_template("notification-controller-0", deployment["spec"]["template"])
    _store_pod(exposure, "receiver", pod)
    [service] = load_manifests(REFERENCE_DEPLOY / "service.yaml")
    service["metadata"]["namespace"] = exposure.namespace
    exposure.scenario.apply(service)


@given("a cert-manager HTTP-01 solver pod in the receiver's namespace")
def solver_pod(exposure: Exposure) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "cm-acme-http-solver",
                        "labels": {"acme.cert-manager.io/http01-solver": "true"}},
           "spec": {"automountServiceAccountToken": False,
                    # an account that exists without a controller-manager
                    "serviceAccountName": "notification-controller", "containers": [{
               "name": "acmesolver", "image": "example.invalid/acmesolver",
               "ports": [{"name": "http", "containerPort": 8089}]}]}}
    _store_pod(exposure, "solver", pod)


# -- the guide's objects ----------------------------------------------------------------


@given(parsers.parse('the guide\'s {what} "{name}" is applied'))
@when(parsers.parse('the guide\'s {what} "{name}" is applied'))
def apply_guide_object(exposure: Exposure, what: str, name: str) -> None:
    assert what in KINDS, f"unknown exposure object {what!r}; one of {', '.join(KINDS)}"
    if KINDS[what] in ("Gateway",):
        exposure.scenario.kube.create_namespace(exposure.gateway_namespace)
    exposure.apply_guide(KINDS[what], name)


@given("Flux's default network policies in the receiver's namespace")
def flux_policies(exposure: Exposure) -> None:
    for name in ("allow-egress", "allow-webhooks", "allow-scraping"):
        exposure.apply_guide("NetworkPolicy", name)


@when(parsers.parse('the policy "{name}" is deleted'))
def delete_policy(exposure: Exposure, name: str) -> None:
    exposure.scenario.kube.resource("networking.k8s.io/v1", "NetworkPolicy").delete(
        name=name, namespace=exposure.namespace)


# -- routes -----------------------------------------------------------------------------


def _resolve(exposure: Exposure, how: str, name: str, host: str) -> routes.Route:
    objects = exposure.objects()
    if how == "LoadBalancer Service":
        return routes.resolve_load_balancer(objects, exposure.namespace, name)
    if how == "Ingress":
        return routes.resolve_ingress(objects, exposure.namespace, name, host, HOOK_PATH)
    if how == "HTTPRoute":
        return routes.resolve_http_route(objects, exposure.namespace, name, host, HOOK_PATH)
    raise AssertionError(f"no route kind {how!r}")


@then(parsers.parse('a webhook for "{host}" through the {how} "{name}" reaches the receiver '
                    "pod on port {port:d}"))
def route_reaches(exposure: Exposure, host: str, how: str, name: str, port: int) -> None:
    route = _resolve(exposure, how, name, host)
    exposure.scenario.evidence(f"route through {how} {name}", str(route))
    assert route.pod["metadata"]["name"] == exposure.pods["receiver"]["metadata"]["name"]
    assert route.container_port == port, str(route)


@then(parsers.parse('a webhook for "{host}" through the {how} "{name}" reaches no pod'))
def route_stops(exposure: Exposure, host: str, how: str, name: str) -> None:
    with pytest.raises(routes.RouteError) as stopped:
        _resolve(exposure, how, name, host)
    exposure.scenario.evidence(f"route through {how} {name}", str(stopped.value))


# -- policy verdicts --------------------------------------------------------------------


def _peer(exposure: Exposure, where: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """A client pod described by the sentence, and the namespaces' labels."""
    namespaces: dict[str, dict[str, str]] = {exposure.namespace: {}}
    if where == "the receiver's namespace":
        ns = exposure.namespace
    elif where.startswith("a namespace labelled "):
        ns = "peer-labelled"
        key, _, value = where.removeprefix("a namespace labelled ").strip('"').partition("=")
        namespaces[ns] = {key: value}
    else:  # "another namespace", "a namespace without that label"
        ns = "peer-other"
        namespaces[ns] = {}
    pod = {"metadata": {"name": "client", "namespace": ns, "labels": {"app": "client"}},
           "status": {"podIP": "10.244.9.9"}}
    return pod, namespaces


def _verdict(exposure: Exposure, where: str, role: str, port: int) -> netpol.Verdict:
    client, namespaces = _peer(exposure, where)
    verdict = netpol.allowed(exposure.policies(), namespaces, client, exposure.pods[role], port)
    exposure.scenario.evidence(f"{where} -> {role} pod :{port}", str(verdict))
    return verdict


@then(parsers.parse("a pod in {where} may connect to the {role} pod on port {port:d}"))
def may_connect(exposure: Exposure, where: str, role: str, port: int) -> None:
    verdict = _verdict(exposure, where, role, port)
    assert verdict.allowed, str(verdict)


@then(parsers.parse("a pod in {where} may not connect to the {role} pod on port {port:d}"))
def may_not_connect(exposure: Exposure, where: str, role: str, port: int) -> None:
    verdict = _verdict(exposure, where, role, port)
    assert not verdict.allowed, str(verdict)
