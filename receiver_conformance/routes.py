"""Follow a request through LoadBalancer, Ingress or HTTPRoute to a receiver pod's port.

Works over plain dicts as the API returns them (see :func:`load_objects`), so the exposure
scenarios can check on any API server, kubelet or not, that each of the guide's routes ends
on the receiver's container port. A route is a list of hops and the endpoints it reaches:
(pod, container port) pairs, the named ``targetPort`` resolved per pod.

Matching follows the APIs: Ingress hosts (exact or ``*.`` one-label wildcard), paths by
``Exact`` or ``Prefix`` (whole path elements; ``ImplementationSpecific`` is treated as
``Prefix``), longest path first, ``defaultBackend`` last; HTTPRoute parentRefs (Gateway,
listener ``sectionName``/``port``, ``allowedRoutes`` Same/All/Selector), hostnames,
``PathPrefix``/``Exact``/``RegularExpression`` matches, backendRefs with a ReferenceGrant for
other namespaces, weight 0 skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from receiver_conformance.netpol import selector_matches

GATEWAY_GROUP = "gateway.networking.k8s.io"


class RouteError(LookupError):
    """The request does not reach a pod; the message says at which hop it stops."""


class MissingObject(RouteError):
    """An object a hop names is not there at all."""

    def __init__(self, kind: str, namespace: str, name: str) -> None:
        super().__init__(f"{kind} {namespace}/{name} not found")
        self.kind, self.namespace, self.name = kind, namespace, name


@dataclass(frozen=True)
class Hop:
    kind: str
    namespace: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.namespace}/{self.name}{tail}"


@dataclass(frozen=True)
class Endpoint:
    pod: Mapping[str, Any]
    container_port: int

    @property
    def pod_name(self) -> str:
        return self.pod["metadata"]["name"]


@dataclass(frozen=True)
class Route:
    hops: tuple[Hop, ...]
    endpoints: tuple[Endpoint, ...]  # sorted by pod name; never empty

    @property
    def pod(self) -> Mapping[str, Any]:
        return self.endpoints[0].pod

    @property
    def container_port(self) -> int:
        return self.endpoints[0].container_port

    def __str__(self) -> str:
        ends = ", ".join(f"{e.pod_name}:{e.container_port}" for e in self.endpoints)
        return " -> ".join([*map(str, self.hops), f"pods [{ends}]"])


class Objects:
    """The API objects a route may cross, indexed by kind, namespace and name."""

    def __init__(self, items: Iterable[Mapping[str, Any]]):
        self._by_key: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self._by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for obj in items:
            kind, meta = obj.get("kind"), obj.get("metadata") or {}
            if not kind or not meta.get("name"):
                raise RouteError(f"an object without kind or name: {str(obj)[:80]}")
            self._by_key[(kind, meta.get("namespace") or "", meta["name"])] = obj
            self._by_kind.setdefault(kind, []).append(obj)

    def get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any]:
        try:
            return self._by_key[(kind, namespace, name)]
        except KeyError:
            raise MissingObject(kind, namespace, name) from None

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Mapping[str, Any]]:
        items = self._by_kind.get(kind, [])
        if namespace is None:
            return list(items)
        return [o for o in items if o["metadata"].get("namespace") == namespace]

    def plus(self, items: Iterable[Mapping[str, Any]]) -> Objects:
        """These objects and `items` (which replace any of the same kind, namespace, name)."""
        return Objects([*self._by_key.values(), *items])

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        labels = dict(self._by_key.get(("Namespace", "", name), {}).get("metadata", {}).get(
            "labels") or {})
        labels.setdefault("kubernetes.io/metadata.name", name)
        return labels


def load_objects(api_client: Any, namespaces: Iterable[str]) -> Objects:
    """Read what routes cross from an API server (a ``kubernetes.client.ApiClient``).

    Gateway API kinds are read only when their CRDs are served.
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    net = client.NetworkingV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    items: list[Mapping[str, Any]] = []

    def add(kind: str, listing: Any) -> None:
        for obj in api_client.sanitize_for_serialization(listing)["items"]:
            items.append({**obj, "kind": kind})

    add("Namespace", core.list_namespace())
    for ns in namespaces:
        add("Service", core.list_namespaced_service(ns))
        add("Pod", core.list_namespaced_pod(ns))
        add("Ingress", net.list_namespaced_ingress(ns))
        for kind, plural in (("Gateway", "gateways"), ("HTTPRoute", "httproutes"),
                             ("ReferenceGrant", "referencegrants")):
            version = "v1beta1" if kind == "ReferenceGrant" else "v1"
            try:
                listing = custom.list_namespaced_custom_object(GATEWAY_GROUP, version, ns, plural)
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            items.extend({**o, "kind": kind} for o in listing["items"])
    return Objects(items)


# --- Service -> pods


def resolve_service(
    objects: Objects, namespace: str, name: str, port: int | str, hops: tuple[Hop, ...] = ()
) -> Route:
    """A Service port (number or name) to the pods it selects and their container port."""
    svc = objects.get("Service", namespace, name)
    spec = svc.get("spec") or {}
    svc_port = next(
        (p for p in spec.get("ports") or [] if port in (p.get("port"), p.get("name"))), None
    )
    if svc_port is None:
        raise RouteError(f"Service {namespace}/{name} has no port {port!r}")
    selector = spec.get("selector") or {}
    if not selector:
        raise RouteError(f"Service {namespace}/{name} selects no pods (no selector)")
    target = svc_port.get("targetPort", svc_port["port"])
    hop = Hop("Service", namespace, name,
              f"{spec.get('type', 'ClusterIP')} port {svc_port['port']} -> targetPort {target}")
    protocol = svc_port.get("protocol") or "TCP"
    pods = sorted(
        (p for p in objects.of_kind("Pod", namespace)
         if selector_matches({"matchLabels": selector}, p["metadata"].get("labels") or {})),
        key=lambda p: p["metadata"]["name"],
    )
    if not pods:
        raise RouteError(f"Service {namespace}/{name} selects no pod (selector {selector})")
    endpoints = []
    for pod in pods:
        container_port = _container_port(pod, target, protocol)
        if container_port is not None:
            endpoints.append(Endpoint(pod, container_port))
    if not endpoints:
        raise RouteError(
            f"Service {namespace}/{name}: no selected pod has a container port {target!r}"
        )
    return Route((*hops, hop), tuple(endpoints))


def resolve_load_balancer(objects: Objects, namespace: str, name: str, port: int = 80) -> Route:
    """A LoadBalancer Service's port to its pods."""
    svc = objects.get("Service", namespace, name)
    if (svc.get("spec") or {}).get("type") != "LoadBalancer":
        raise RouteError(f"Service {namespace}/{name} is not of type LoadBalancer")
    return resolve_service(objects, namespace, name, port)


def _container_port(pod: Mapping[str, Any], target: int | str, protocol: str) -> int | None:
    if isinstance(target, int) or str(target).isdigit():
        return int(target)  # a numeric targetPort need not be declared by the container
    for container in (pod.get("spec") or {}).get("containers") or []:
        for p in container.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None


# --- Ingress


def resolve_ingress(objects: Objects, namespace: str, name: str, host: str, path: str) -> Route:
    """A request for ``host`` + ``path`` through the Ingress to its backend Service's pods."""
    ing = objects.get("Ingress", namespace, name)
    spec = ing.get("spec") or {}
    rule_host = None
    candidates: list[tuple[int, int, Mapping[str, Any], str]] = []
    for rule in spec.get("rules") or []:
        if not _host_matches(rule.get("host"), host):
            continue
        for p in (rule.get("http") or {}).get("paths") or []:
            ptype, ppath = p.get("pathType"), p.get("path") or "/"
            if ptype not in ("Exact", "Prefix", "ImplementationSpecific"):
                raise RouteError(f"Ingress {namespace}/{name}: unknown pathType {ptype!r}")
            bare = path.split("?")[0]
            if bare == ppath if ptype == "Exact" else _prefix(ppath, bare):
                # longest path first; Exact wins over Prefix at equal length
                candidates.append((len(ppath), ptype == "Exact", p["backend"], f"{ptype} {ppath}"))
                rule_host = rule.get("host") or "*"
    if candidates:
        _, _, backend, how = max(candidates, key=lambda c: (c[0], c[1]))
        detail = f"host {rule_host}, path {how}"
    elif spec.get("defaultBackend"):
        backend, detail = spec["defaultBackend"], "defaultBackend"
    else:
        raise RouteError(f"Ingress {namespace}/{name} has no rule for {host}{path}")
    service = backend.get("service")
    if not service:
        raise RouteError(f"Ingress {namespace}/{name}: backend is not a Service")
    port = service.get("port") or {}
    hop = Hop("Ingress", namespace, name, detail)
    return resolve_service(
        objects, namespace, service["name"], port.get("number", port.get("name")), (hop,)
    )


def _host_matches(pattern: str | None, host: str) -> bool:
    if not pattern:
        return True
    host = host.lower().split(":")[0]
    pattern = pattern.lower()
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


def _prefix(prefix: str, path: str) -> bool:
    """Prefix match by whole path elements: /foo matches /foo and /foo/bar, not /foobar."""
    want = [e for e in prefix.split("/") if e]
    have = [e for e in path.split("?")[0].split("/") if e]
    return have[: len(want)] == want


# --- HTTPRoute


def resolve_http_route(objects: Objects, namespace: str, name: str, host: str, path: str) -> Route:
    """A request through a Gateway and the HTTPRoute attached to it to the backend pods."""
    route = objects.get("HTTPRoute", namespace, name)
    spec = route.get("spec") or {}
    gateway_hop = _attached_gateway(objects, namespace, name, spec.get("parentRefs") or [], host)
    hostnames = spec.get("hostnames") or []
    if hostnames and not any(_host_matches(h, host) for h in hostnames):
        raise RouteError(f"HTTPRoute {namespace}/{name} does not serve host {host}")
    for i, rule in enumerate(spec.get("rules") or []):
        matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
        if not any(_path_match(m.get("path") or {"type": "PathPrefix", "value": "/"}, path)
                   for m in matches):
            continue
        refs = [r for r in rule.get("backendRefs") or [] if r.get("weight", 1) != 0]
        if not refs:
            raise RouteError(f"HTTPRoute {namespace}/{name} rule {i} has no backend")
        hop = Hop("HTTPRoute", namespace, name, f"rule {i}")
        routes = [_backend(objects, namespace, name, ref, (gateway_hop, hop)) for ref in refs]
        endpoints = tuple(e for r in routes for e in r.endpoints)
        return Route(routes[0].hops, endpoints)
    raise RouteError(f"HTTPRoute {namespace}/{name} has no rule matching {path}")


def _attached_gateway(
    objects: Objects, namespace: str, name: str, parent_refs: list[Mapping[str, Any]], host: str
) -> Hop:
    problems = []
    for ref in parent_refs:
        if ref.get("group", GATEWAY_GROUP) != GATEWAY_GROUP or ref.get("kind", "Gateway") != (
            "Gateway"
        ):
            problems.append(f"parentRef {ref.get('kind')} is not a Gateway")
            continue
        gw_ns = ref.get("namespace") or namespace
        try:
            gateway = objects.get("Gateway", gw_ns, ref["name"])
        except RouteError as exc:
            problems.append(str(exc))
            continue
        for listener in (gateway.get("spec") or {}).get("listeners") or []:
            if ref.get("sectionName") and listener.get("name") != ref["sectionName"]:
                continue
            if ref.get("port") and listener.get("port") != ref["port"]:
                continue
            if listener.get("protocol") not in ("HTTP", "HTTPS"):
                continue
            if not _host_matches(listener.get("hostname"), host):
                continue
            if not _allows_routes_from(objects, listener, gw_ns, namespace):
                problems.append(f"listener {listener.get('name')} of Gateway {gw_ns}/{ref['name']}"
                                f" does not admit routes from {namespace}")
                continue
            return Hop("Gateway", gw_ns, ref["name"],
                       f"listener {listener.get('name')} {listener.get('protocol')}"
                       f":{listener.get('port')}")
        problems.append(f"no listener of Gateway {gw_ns}/{ref['name']} takes {host}")
    detail = "; ".join(problems) or "no parentRefs"
    raise RouteError(f"HTTPRoute {namespace}/{name} is attached to no Gateway: {detail}")


def _allows_routes_from(
    objects: Objects, listener: Mapping[str, Any], gw_ns: str, route_ns: str
) -> bool:
    allowed = ((listener.get("allowedRoutes") or {}).get("namespaces") or {})
    source = allowed.get("from", "Same")
    if source == "All":
        return True
    if source == "Same":
        return gw_ns == route_ns
    if source == "Selector":
        return selector_matches(allowed.get("selector") or {}, objects.namespace_labels(route_ns))
    raise RouteError(f"allowedRoutes.namespaces.from {source!r} is not Same/All/Selector")


def _path_match(match: Mapping[str, Any], path: str) -> bool:
    kind, value = match.get("type", "PathPrefix"), match.get("value", "/")
    path = path.split("?")[0]
    if kind == "PathPrefix":
        return _prefix(value, path)
    if kind == "Exact":
        return path == value
    if kind == "RegularExpression":
        return re.fullmatch(value, path) is not None
    raise RouteError(f"HTTPRoute path match type {kind!r} is unknown")


def _backend(
    objects: Objects, route_ns: str, route_name: str, ref: Mapping[str, Any],
    hops: tuple[Hop, ...],
) -> Route:
    if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service":
        raise RouteError(f"HTTPRoute {route_ns}/{route_name}: backend {ref.get('kind')} "
                         "is not a Service")
    ns = ref.get("namespace") or route_ns
    if ns != route_ns and not _granted(objects, route_ns, ns, ref["name"]):
        raise RouteError(f"HTTPRoute {route_ns}/{route_name}: no ReferenceGrant in {ns} "
                         f"lets it reach Service {ref['name']}")
    if "port" not in ref:
        raise RouteError(
            f"HTTPRoute {route_ns}/{route_name}: backendRef {ref['name']} needs a port"
        )
    return resolve_service(objects, ns, ref["name"], ref["port"], hops)


def _granted(objects: Objects, route_ns: str, target_ns: str, service: str) -> bool:
    for grant in objects.of_kind("ReferenceGrant", target_ns):
        spec = grant.get("spec") or {}
        from_ok = any(
            f.get("group") == GATEWAY_GROUP and f.get("kind") == "HTTPRoute"
            and f.get("namespace") == route_ns
            for f in spec.get("from") or []
        )
        to_ok = any(
            t.get("group", "") == "" and t.get("kind") == "Service"
            and t.get("name") in (None, "", service)
            for t in spec.get("to") or []
        )
        if from_ok and to_ok:
            return True
    return False
