"""receiver_conformance.routes over the guide's objects and variations of them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from receiver_conformance.paths import FIXTURES, REFERENCE_DEPLOY
from receiver_conformance.routes import (
    MissingObject,
    Objects,
    RouteError,
    resolve_http_route,
    resolve_ingress,
    resolve_load_balancer,
    resolve_service,
)

EXPOSURE = FIXTURES / "exposure"
HOST = "webhook-receiver.example.com"


def _docs(path: Path, namespace: str | None = None) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for d in docs:
        if namespace and d["kind"] != "Namespace":
            d["metadata"].setdefault("namespace", namespace)
    return docs


def receiver_pod(name: str = "notification-controller-abc", **labels) -> dict:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "flux-system",
                     "labels": labels or {"app": "notification-controller"}},
        "spec": {"containers": [{"name": "manager", "ports": [
            {"name": "http-webhook", "containerPort": 9292, "protocol": "TCP"},
            {"name": "http-prom", "containerPort": 8080, "protocol": "TCP"},
            {"name": "healthz", "containerPort": 9440, "protocol": "TCP"},
        ]}]},
    }


def guide_objects() -> list[dict]:
    items = []
    for f in sorted(EXPOSURE.glob("*.yaml")):
        items += _docs(f)
    items += _docs(REFERENCE_DEPLOY / "service.yaml", "flux-system")
    items.append(receiver_pod())
    items.append({"kind": "Pod", "metadata": {"name": "web", "namespace": "flux-system",
                                              "labels": {"app": "web"}}, "spec": {}})
    return items


def edited(path: tuple, value) -> list[dict]:
    """The guide's objects with one field changed: path = (kind, name, key, key, ...)."""
    items = copy.deepcopy(guide_objects())
    kind, name, *keys = path
    obj = next(o for o in items if o["kind"] == kind and o["metadata"]["name"] == name)
    for k in keys[:-1]:
        obj = obj[k]
    if value is None:
        del obj[keys[-1]]
    else:
        obj[keys[-1]] = value
    return items


def ingress_objects(paths: list[dict], host: str | None = HOST, default=None) -> list[dict]:
    items = [o for o in guide_objects() if o["kind"] != "Ingress"]
    rule: dict = {"http": {"paths": paths}}
    if host:
        rule["host"] = host
    spec: dict = {"rules": [rule]}
    if default:
        spec["defaultBackend"] = default
    items.append({"kind": "Ingress", "metadata": {"name": "webhook-receiver",
                                                  "namespace": "flux-system"}, "spec": spec})
    items.append({"kind": "Service", "metadata": {"name": "other", "namespace": "flux-system"},
                  "spec": {"selector": {"app": "web"},
                           "ports": [{"port": 80, "targetPort": 8000}]}})
    return items


def backend(name: str = "webhook-receiver", port: int = 80) -> dict:
    return {"service": {"name": name, "port": {"number": port}}}


def path(p: str, ptype: str = "Prefix", to: str = "webhook-receiver") -> dict:
    return {"path": p, "pathType": ptype, "backend": backend(to)}


HOOK = "/hook/" + "a" * 64

RESOLVES = [
    # (id, objects, resolve, expected pod, expected port, hop kinds)
    ("lb-guide", guide_objects(), lambda o: resolve_load_balancer(o, "flux-system", "receiver"),
     "notification-controller-abc", 9292, ["Service"]),
    ("service-named-target", guide_objects(),
     lambda o: resolve_service(o, "flux-system", "webhook-receiver", 80),
     "notification-controller-abc", 9292, ["Service"]),
    ("service-port-by-name", guide_objects(),
     lambda o: resolve_service(o, "flux-system", "webhook-receiver", "http"),
     "notification-controller-abc", 9292, ["Service"]),
    ("ingress-guide", guide_objects(),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-host-case-and-port", guide_objects(),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver",
                               "Webhook-Receiver.example.com:80", HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-wildcard-host", ingress_objects([path("/")], host="*.example.com"),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-no-host-any", ingress_objects([path("/")], host=None),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", "10.0.0.1", HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-longest-prefix-wins", ingress_objects([path("/", to="other"), path("/hook")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-prefix-by-element", ingress_objects([path("/", to="other"), path("/ho")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "web", 8000, ["Ingress", "Service"]),
    ("ingress-exact", ingress_objects([path("/", to="other"), path(HOOK, "Exact")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-exact-beats-prefix-same-length",
     ingress_objects([path(HOOK, "Prefix", to="other"), path(HOOK, "Exact")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-implementation-specific-as-prefix",
     ingress_objects([path("/hook", "ImplementationSpecific")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("ingress-default-backend", ingress_objects([path("/x")], default=backend()),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Ingress", "Service"]),
    ("httproute-guide", guide_objects(),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Gateway", "HTTPRoute", "Service"]),
    ("httproute-no-matches-is-prefix-slash",
     edited(("HTTPRoute", "webhook-receiver", "spec", "rules"),
            [{"backendRefs": [{"name": "webhook-receiver", "port": 80}]}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Gateway", "HTTPRoute", "Service"]),
    ("httproute-regex",
     edited(("HTTPRoute", "webhook-receiver", "spec", "rules"),
            [{"matches": [{"path": {"type": "RegularExpression", "value": "/hook/[0-9a-f]{64}"}}],
              "backendRefs": [{"name": "webhook-receiver", "port": 80}]}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Gateway", "HTTPRoute", "Service"]),
    ("httproute-no-hostnames-any-host",
     edited(("HTTPRoute", "webhook-receiver", "spec", "hostnames"), None),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", "x.test", HOOK),
     "notification-controller-abc", 9292, ["Gateway", "HTTPRoute", "Service"]),
    ("httproute-section-name",
     edited(("HTTPRoute", "webhook-receiver", "spec", "parentRefs"),
            [{"name": "internet-gateway", "namespace": "gateway-namespace",
              "sectionName": "http"}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "notification-controller-abc", 9292, ["Gateway", "HTTPRoute", "Service"]),
]


@pytest.mark.parametrize(
    ("objects", "resolve", "pod", "port", "hops"),
    [pytest.param(*c[1:], id=c[0]) for c in RESOLVES],
)
def test_route_reaches(objects, resolve, pod, port, hops):
    route = resolve(Objects(objects))
    assert route.pod["metadata"]["name"] == pod
    assert route.container_port == port
    assert [h.kind for h in route.hops] == hops
    assert str(port) in str(route)


FAILS = [
    # (id, objects, resolve, words the error must carry)
    ("lb-not-loadbalancer", guide_objects(),
     lambda o: resolve_load_balancer(o, "flux-system", "webhook-receiver"), "not of type"),
    ("lb-missing", guide_objects(), lambda o: resolve_load_balancer(o, "flux-system", "nope"),
     "not found"),
    ("service-no-port", guide_objects(),
     lambda o: resolve_service(o, "flux-system", "webhook-receiver", 81), "no port"),
    ("service-selects-no-pod",
     edited(("Service", "webhook-receiver", "spec", "selector"), {"app": "nobody"}),
     lambda o: resolve_service(o, "flux-system", "webhook-receiver", 80), "selects no pod"),
    ("service-named-port-undeclared",
     edited(("Service", "webhook-receiver", "spec", "ports"),
            [{"name": "http", "port": 80, "targetPort": "http-hook"}]),
     lambda o: resolve_service(o, "flux-system", "webhook-receiver", 80), "container port"),
    ("ingress-wrong-host", guide_objects(),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", "evil.example.com", HOOK),
     "no rule"),
    ("ingress-wildcard-one-label-only", ingress_objects([path("/")], host="*.example.com"),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", "a.b.example.com", HOOK),
     "no rule"),
    ("ingress-exact-miss", ingress_objects([path("/hook", "Exact")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK), "no rule"),
    ("ingress-bad-path-type", ingress_objects([path("/", "Glob")]),
     lambda o: resolve_ingress(o, "flux-system", "webhook-receiver", HOST, HOOK), "pathType"),
    ("httproute-wrong-host", guide_objects(),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", "evil.test", HOOK),
     "does not serve"),
    ("httproute-gateway-missing",
     [o for o in guide_objects() if o["kind"] != "Gateway"],
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "attached to no Gateway"),
    ("httproute-gateway-same-namespace-only",
     edited(("Gateway", "internet-gateway", "spec", "listeners"),
            [{"name": "http", "protocol": "HTTP", "port": 80}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "does not admit"),
    ("httproute-gateway-selector-miss",
     edited(("Gateway", "internet-gateway", "spec", "listeners"),
            [{"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {
                "from": "Selector", "selector": {"matchLabels": {"expose": "yes"}}}}}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "does not admit"),
    ("httproute-section-name-miss",
     edited(("HTTPRoute", "webhook-receiver", "spec", "parentRefs"),
            [{"name": "internet-gateway", "namespace": "gateway-namespace",
              "sectionName": "https"}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "no listener"),
    ("httproute-cross-namespace-backend-needs-grant",
     edited(("HTTPRoute", "webhook-receiver", "spec", "rules"),
            [{"backendRefs": [{"name": "svc", "namespace": "apps", "port": 80}]}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "ReferenceGrant"),
    ("httproute-path-miss",
     edited(("HTTPRoute", "webhook-receiver", "spec", "rules"),
            [{"matches": [{"path": {"type": "Exact", "value": "/other"}}],
              "backendRefs": [{"name": "webhook-receiver", "port": 80}]}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "no rule matching"),
    ("httproute-weight-zero",
     edited(("HTTPRoute", "webhook-receiver", "spec", "rules"),
            [{"backendRefs": [{"name": "webhook-receiver", "port": 80, "weight": 0}]}]),
     lambda o: resolve_http_route(o, "flux-system", "webhook-receiver", HOST, HOOK),
     "no backend"),
]


@pytest.mark.parametrize(
    ("objects", "resolve", "words"), [pytest.param(*c[1:], id=c[0]) for c in FAILS]
)
def test_route_stops_with_reason(objects, resolve, words):
    with pytest.raises(RouteError, match=words):
        resolve(Objects(objects))


def test_selector_gateway_admits_labelled_namespace():
    items = edited(("Gateway", "internet-gateway", "spec", "listeners"),
                   [{"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {
                       "namespaces": {"from": "Selector",
                                      "selector": {"matchLabels": {"expose": "yes"}}}}}])
    items.append({"kind": "Namespace", "metadata": {"name": "flux-system",
                                                    "labels": {"expose": "yes"}}})
    route = resolve_http_route(Objects(items), "flux-system", "webhook-receiver", HOST, HOOK)
    assert route.container_port == 9292


def test_cross_namespace_backend_with_grant():
    items = edited(("HTTPRoute", "webhook-receiver", "spec", "rules"),
                   [{"backendRefs": [{"name": "svc", "namespace": "apps", "port": 80}]}])
    items += [
        {"kind": "Service", "metadata": {"name": "svc", "namespace": "apps"},
         "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"kind": "Pod", "metadata": {"name": "a-1", "namespace": "apps", "labels": {"app": "a"}}},
        {"kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "apps"},
         "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                            "namespace": "flux-system"}],
                  "to": [{"group": "", "kind": "Service"}]}},
    ]
    route = resolve_http_route(Objects(items), "flux-system", "webhook-receiver", HOST, HOOK)
    assert (route.endpoints[0].pod_name, route.container_port) == ("a-1", 8080)


def test_every_selected_pod_is_an_endpoint():
    items = [*guide_objects(), receiver_pod("notification-controller-xyz")]
    route = resolve_load_balancer(Objects(items), "flux-system", "receiver")
    assert [e.pod_name for e in route.endpoints] == [
        "notification-controller-abc", "notification-controller-xyz"]


def test_object_without_kind_is_refused():
    with pytest.raises(RouteError, match="without kind"):
        Objects([{"metadata": {"name": "x"}}])


@pytest.mark.parametrize(("removed", "kind"), [
    ("HTTPRoute", MissingObject),  # the route itself: "routes to no pod" would be vacuous
    ("Gateway", RouteError),  # what the scenario means: the route is attached to nothing
])
def test_a_missing_route_is_told_from_a_route_that_leads_nowhere(removed, kind):
    items = [o for o in guide_objects() if o["kind"] != removed]
    with pytest.raises(RouteError) as stopped:
        resolve_http_route(Objects(items), "flux-system", "webhook-receiver", HOST, HOOK)
    assert type(stopped.value) is kind
