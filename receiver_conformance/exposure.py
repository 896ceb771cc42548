"""The guide's exposure objects and network policies in one scenario's namespaces.

The guide's objects (fixtures/exposure/) are applied to the target's API server as written,
moved from flux-system into the scenario's namespace (and gateway-namespace into one of its
own); routes and policy verdicts are then computed, statically, over what the API server
stored (receiver_conformance.routes, receiver_conformance.netpol).

The receiver's side comes from the implementation under test:

- a target with a live receiver (`Target.receiver_namespace`: kind, or an external cluster
  where the Deployment and Service were found) gives its running pods labelled
  `app: notification-controller` (else its Deployment's pod template), its Service
  `webhook-receiver` and its NetworkPolicies. They are read, never changed, and considered
  as if in the scenario's namespace, where the guide's objects stand for flux-system;
- the reference on the embedded control plane has no Deployment: reference/deploy/'s
  ServiceAccount, pod and Service are stored in the scenario's namespace (never run), and
  Flux's default policies come from fixtures/exposure/.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from receiver_conformance import netpol, routes
from receiver_conformance.kube import load_manifests
from receiver_conformance.paths import FIXTURES, REFERENCE_DEPLOY
from receiver_conformance.scenario import Scenario
from receiver_conformance.targets.base import RECEIVER_POD_LABELS, RECEIVER_SERVICE

EXPOSURE = FIXTURES / "exposure"
HOOK_PATH = "/hook/" + "0" * 64  # any hook path: routes do not depend on the token
POLICY_API = "networking.k8s.io/v1"
FLUX_POLICIES = ("allow-egress", "allow-webhooks", "allow-scraping")  # Flux's default ones
GUIDE_KINDS = {"LoadBalancer Service": "Service", "Ingress": "Ingress", "HTTPRoute": "HTTPRoute",
               "Gateway": "Gateway", "policy": "NetworkPolicy"}  # the guide's word -> kind
PEER_IP = "10.244.9.9"  # the client pod of a verdict


@dataclass
class Exposure:
    """The exposure objects of one scenario and the pods they lead to."""

    scenario: Scenario
    gateway_namespace: str
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> Pod
    receiver_pods: list[dict[str, Any]] = field(default_factory=list)
    live: list[dict[str, Any]] = field(default_factory=list)  # the target's, relocated
    live_policies: list[dict[str, Any]] = field(default_factory=list)  # relocated, if used
    left_out: set[str] = field(default_factory=set)  # policies the verdicts ignore

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> Exposure:
        """The scenario's exposure, its Gateway namespace named after the scenario's."""
        return cls(scenario, f"{scenario.namespace}-gw-{uuid.uuid4().hex[:4]}")

    def close(self) -> None:
        """Delete the Gateway namespace (the scenario's own goes with the scenario)."""
        self.scenario.kube.delete_namespace(self.gateway_namespace)

    @property
    def namespace(self) -> str:
        return self.scenario.namespace

    # -- objects ------------------------------------------------------------------------

    def moved(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The guide's object with its namespaces replaced by the scenario's."""
        names = {"flux-system": self.namespace, "gateway-namespace": self.gateway_namespace}
        return _replace_strings(copy.deepcopy(obj), names)

    def apply_guide(self, kind: str, name: str) -> dict[str, Any]:
        """Apply the guide's `kind` `name` from fixtures/exposure/, moved to the scenario.

        A Gateway first gets the namespace of its own that the guide gives it.
        """
        docs = [d for p in sorted(EXPOSURE.glob("*.yaml")) for d in load_manifests(p)]
        found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
        if not found:
            raise AssertionError(f"fixtures/exposure/ has no {kind} {name}")
        if kind == "Gateway":
            self.scenario.kube.create_namespace(self.gateway_namespace)
        obj = self.moved(found[0])
        self.scenario.apply(obj)
        self.scenario.evidence(f"applied {kind} {name}", obj)
        return obj

    def apply_flux_policies(self) -> None:
        """Flux's default network policies in the receiver's namespace: the target's own when
        it has a live receiver (they must be there), else applied from fixtures/exposure/."""
        if self.receiver_namespace is None:
            for name in FLUX_POLICIES:
                self.apply_guide("NetworkPolicy", name)
            return
        listing = client.NetworkingV1Api(self.scenario.kube.api).list_namespaced_network_policy(
            self.receiver_namespace)
        found = [self._relocated(p, "NetworkPolicy") for p in listing.items]
        names = sorted(p["metadata"]["name"] for p in found)
        self.scenario.evidence(f"NetworkPolicies in {self.receiver_namespace}", names)
        missing = [n for n in FLUX_POLICIES if n not in names]
        assert not missing, (f"the target's {self.receiver_namespace} lacks Flux's default "
                             f"policies {missing}; it has {names}")
        self.live_policies = found

    def leave_out_policy(self, name: str) -> None:
        """Leave the policy `name` out of the verdicts (nothing is deleted)."""
        assert name in {p["metadata"]["name"] for p in self.policies()}, f"no policy {name}"
        self.left_out.add(name)

    def objects(self) -> routes.Objects:
        """What the API server stored in the scenario's namespaces, with the target's live
        receiver objects, for routing."""
        stored = routes.load_objects(self.scenario.kube.api, [self.namespace,
                                                              self.gateway_namespace])
        return stored.plus(self.live)

    def policies(self) -> list[dict[str, Any]]:
        """The NetworkPolicies of the receiver's namespace the verdicts consider."""
        listing = self.scenario.kube.api.sanitize_for_serialization(
            self.scenario.kube.resource(POLICY_API, "NetworkPolicy")
            .get(namespace=self.namespace).to_dict())
        return [p for p in [*self.live_policies, *listing["items"]]
                if p["metadata"]["name"] not in self.left_out]

    # -- pods ---------------------------------------------------------------------------

    @property
    def receiver_namespace(self) -> str | None:
        """Where the target's live receiver runs, or None (reference/deploy/ stands in)."""
        return self.scenario.target.receiver_namespace

    def use_receiver(self) -> None:
        """The receiver's pods and its Service webhook-receiver: the target's live ones, or
        reference/deploy/'s stored in the scenario's namespace."""
        if self.receiver_namespace is None:
            self.store_receiver()
        else:
            self.read_live_receiver(self.receiver_namespace)
        self.pods["receiver"] = self.receiver_pods[0]

    def read_live_receiver(self, namespace: str) -> None:
        """Read the target's receiver pods (running, else its Deployment's template) and its
        Service; consider them as if in the scenario's namespace."""
        api = self.scenario.kube.api
        selector = ",".join(f"{k}={v}" for k, v in RECEIVER_POD_LABELS.items())
        pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
        source = f"running pods {selector} in {namespace}"
        found = [self._relocated(p, "Pod") for p in pods]
        if not found:
            deployments = client.AppsV1Api(api).list_namespaced_deployment(namespace).items
            templates = [api.sanitize_for_serialization(d.spec.template) for d in deployments
                         if RECEIVER_POD_LABELS.items()
                         <= (d.spec.template.metadata.labels or {}).items()]
            assert templates, f"{namespace} has no pod or Deployment labelled {selector}"
            found = [_pod_from_template(f"notification-controller-{i}", t) for i, t in
                     enumerate(templates)]
            for pod in found:
                pod["metadata"]["namespace"] = self.namespace
            source = f"the pod template of the Deployment labelled {selector} in {namespace}"
        service = client.CoreV1Api(api).read_namespaced_service(RECEIVER_SERVICE, namespace)
        self.receiver_pods = found
        self.live = [*found, self._relocated(service, "Service")]
        self.scenario.evidence("the target's receiver", {
            "pods": f"{len(found)} from {source}",
            "ports": [c.get("ports") for p in found for c in p["spec"]["containers"]],
            "service": self.live[-1]["spec"],
        })

    def _relocated(self, obj: Any, kind: str) -> dict[str, Any]:
        """A live object as a dict, its namespace the scenario's."""
        data = self.scenario.kube.api.sanitize_for_serialization(obj)
        data["kind"] = kind
        data["metadata"]["namespace"] = self.namespace
        return data

    def store_receiver(self) -> None:
        """Store the receiver's pod, its ServiceAccount and its Service as reference/deploy/
        has them."""
        for doc in load_manifests(REFERENCE_DEPLOY / "rbac.yaml"):
            if doc["kind"] == "ServiceAccount":
                self.scenario.apply(doc)
        [deployment] = load_manifests(REFERENCE_DEPLOY / "deployment.yaml")
        pod = _pod_from_template("notification-controller-0", deployment["spec"]["template"])
        self._store_pod("receiver", pod)
        self.receiver_pods = [self.pods["receiver"]]
        [service] = load_manifests(REFERENCE_DEPLOY / "service.yaml")
        service["metadata"]["namespace"] = self.namespace
        self.scenario.apply(service)

    def store_solver(self) -> None:
        """Store a pod labelled as cert-manager's HTTP-01 solver, serving on port 8089."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "cm-acme-http-solver",
                            "labels": {"acme.cert-manager.io/http01-solver": "true"}},
               "spec": {"automountServiceAccountToken": False,
                        "serviceAccountName": "acme-solver", "containers": [{
                   "name": "acmesolver", "image": "example.invalid/acmesolver",
                   "ports": [{"name": "http", "containerPort": 8089}]}]}}
        # Its own account: the namespace's default one may not be made yet.
        self.scenario.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "acme-solver"}})
        self._store_pod("solver", pod)

    def _store_pod(self, role: str, pod: dict[str, Any]) -> None:
        pod["metadata"]["namespace"] = self.namespace
        self.scenario.apply(pod)
        stored = self.scenario.kube.get("v1", "Pod", pod["metadata"]["name"], self.namespace)
        if stored is None:
            raise AssertionError(f"the {role} pod was not stored")
        self.pods[role] = self.scenario.kube.api.sanitize_for_serialization(stored)

    # -- routes and verdicts ------------------------------------------------------------

    def route(self, how: str, name: str, host: str) -> routes.Route:
        """Follow a webhook for `host` through the `how` ("LoadBalancer Service", "Ingress",
        "HTTPRoute") `name`; record where it ends. Raises routes.RouteError where it stops."""
        try:
            route = self._resolve(how, name, host)
        except routes.RouteError as stopped:
            self.scenario.evidence(f"route through {how} {name}", str(stopped))
            raise
        self.scenario.evidence(f"route through {how} {name}", str(route))
        return route

    def _resolve(self, how: str, name: str, host: str) -> routes.Route:
        objects = self.objects()
        if how == "LoadBalancer Service":
            return routes.resolve_load_balancer(objects, self.namespace, name)
        if how == "Ingress":
            return routes.resolve_ingress(objects, self.namespace, name, host, HOOK_PATH)
        if how == "HTTPRoute":
            return routes.resolve_http_route(objects, self.namespace, name, host, HOOK_PATH)
        raise AssertionError(f"no route kind {how!r}")

    def verdict(self, where: str, role: str, port: int) -> netpol.Verdict:
        """Whether the stored policies let a pod in `where` (the sentence's words) connect to
        the `role` pod on `port`; the verdict is recorded."""
        client, namespaces = peer(where, self.namespace)
        verdict = netpol.allowed(self.policies(), namespaces, client, self.pods[role], port)
        self.scenario.evidence(f"{where} -> {role} pod :{port}", str(verdict))
        return verdict


def peer(where: str, namespace: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """A client pod in `where` ("the receiver's namespace", 'a namespace labelled "k=v"',
    "another namespace", ...), and the labels of the namespaces a verdict looks at."""
    namespaces: dict[str, dict[str, str]] = {namespace: {}}
    if where == "the receiver's namespace":
        ns = namespace
    elif where.startswith("a namespace labelled "):
        ns = "peer-labelled"
        key, _, value = where.removeprefix("a namespace labelled ").strip('"').partition("=")
        namespaces[ns] = {key: value}
    else:  # "another namespace", "a namespace without that label"
        ns = "peer-other"
        namespaces[ns] = {}
    pod = {"metadata": {"name": "client", "namespace": ns, "labels": {"app": "client"}},
           "status": {"podIP": PEER_IP}}
    return pod, namespaces


def _replace_strings(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _replace_strings(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_strings(v, names) for v in node]
    return names.get(node, node) if isinstance(node, str) else node


def _pod_from_template(name: str, template: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(template["spec"])
    spec["automountServiceAccountToken"] = False  # the pod is stored, never run
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(template["metadata"]["labels"])},
            "spec": spec}
