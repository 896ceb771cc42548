"""Flux's and Gateway API's real CRDs, as the control plane installs them: what the files
declare, and what a real API server accepts and refuses with them installed.

The files come from `receiver_conformance.controlplane.crds.ensure_crds()` (the pinned Go modules, then the
cache). The acceptance and refusal tables document Flux's own validation of a Receiver.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver_conformance import versions
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.controlplane.crds import CRDsNotFound, crd_files, ensure_crds
from receiver_conformance.kube import load_manifests
from receiver_conformance.suite_run import release_receivers

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
READY_PATH = '.status.conditions[?(@.type=="Ready")].status'
STATUS_PATH = '.status.conditions[?(@.type=="Ready")].message'
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

NOTIFICATION = ("notification.toolkit.fluxcd.io", "v1", "receivers")
GITREPOSITORY = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
HTTPROUTE = ("gateway.networking.k8s.io", "v1", "httproutes")
GATEWAY_RESOURCE = ("gateway.networking.k8s.io", "v1", "gateways")

# Every kind a Receiver may point at (its `spec.resources[].kind` enum), with the group,
# storage version and plural of its CRD.
RECEIVER_TARGETS = {
    "Bucket": ("source.toolkit.fluxcd.io", "v1", "buckets"),
    "GitRepository": GITREPOSITORY,
    "HelmChart": ("source.toolkit.fluxcd.io", "v1", "helmcharts"),
    "HelmRepository": ("source.toolkit.fluxcd.io", "v1", "helmrepositories"),
    "OCIRepository": ("source.toolkit.fluxcd.io", "v1", "ocirepositories"),
    "ExternalArtifact": ("source.toolkit.fluxcd.io", "v1", "externalartifacts"),
    "ArtifactGenerator": ("source.extensions.fluxcd.io", "v1beta1", "artifactgenerators"),
    "Kustomization": ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
    "HelmRelease": ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    "ImageRepository": ("image.toolkit.fluxcd.io", "v1", "imagerepositories"),
    "ImagePolicy": ("image.toolkit.fluxcd.io", "v1", "imagepolicies"),
    "ImageUpdateAutomation": ("image.toolkit.fluxcd.io", "v1", "imageupdateautomations"),
}

# The API group(s) whose CRDs each pinned module brings.
MODULE_GROUPS = {
    "github.com/fluxcd/source-controller": {"source.toolkit.fluxcd.io"},
    "github.com/fluxcd/kustomize-controller": {"kustomize.toolkit.fluxcd.io"},
    "github.com/fluxcd/helm-controller": {"helm.toolkit.fluxcd.io"},
    "github.com/fluxcd/notification-controller": {"notification.toolkit.fluxcd.io"},
    "github.com/fluxcd/image-reflector-controller": {"image.toolkit.fluxcd.io"},
    "github.com/fluxcd/image-automation-controller": {"image.toolkit.fluxcd.io"},
    "github.com/fluxcd/source-watcher/v2": {"source.extensions.fluxcd.io"},
    "sigs.k8s.io/gateway-api": {"gateway.networking.k8s.io"},
}


@pytest.fixture(scope="module")
def crds() -> dict[str, dict[str, Any]]:
    """Every CRD the control plane installs, by kind."""
    try:
        directory = ensure_crds()
    except CRDsNotFound as err:
        pytest.fail(str(err))
    found: dict[str, dict[str, Any]] = {}
    for path in crd_files(directory):
        for doc in load_manifests(path):
            found[doc["spec"]["names"]["kind"]] = doc | {"file": path.name}
    return found


def storage_version(crd: dict[str, Any]) -> dict[str, Any]:
    """The one version a CRD stores."""
    (stored,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    return stored


def receiver_spec_schema(crds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The schema of a Receiver's spec, as Flux's CRD declares it."""
    return storage_version(crds["Receiver"])["schema"]["openAPIV3Schema"]["properties"]["spec"]


# --- the guide's objects (namespace replaced per test) ------------------------------------------

GUIDE_RECEIVER = yaml.safe_load("""
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: webapp
spec:
  type: github
  events: ["ping", "push"]
  secretRef:
    name: webhook-token
  resources:
    - kind: GitRepository
      name: webapp
""")

GUIDE_IMAGE_RECEIVER = yaml.safe_load("""
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: webapp-image
spec:
  type: github
  events: ["ping", "package"]
  secretRef:
    name: webhook-token
  resources:
    - kind: ImageRepository
      name: webapp
""")

GUIDE_GITREPOSITORY = yaml.safe_load("""
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: webapp
spec:
  interval: 60m
  url: https://github.com/<GH-ORG>/<GH-REPO>
  ref:
    branch: master
""")

GUIDE_HTTPROUTE = yaml.safe_load("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: webhook-receiver
spec:
  parentRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: internet-gateway
      namespace: gateway-namespace
  hostnames:
    - "webhook-receiver.example.com"
  rules:
    - matches:
      - path:
          type: PathPrefix
          value: /
      backendRefs:
        - name: webhook-receiver
          namespace: flux-system
          port: 80
""")

OIDC_PROVIDERS = [
    {
        "issuerURL": "https://token.actions.githubusercontent.com",
        "validations": [
            {"expression": "claims.repository_owner == 'example'", "message": "wrong owner"},
        ],
    }
]


def receiver(name: str, **spec: Any) -> dict[str, Any]:
    """The guide's GitHub Receiver under another name, with spec fields replaced (None drops)."""
    body = copy.deepcopy(GUIDE_RECEIVER)
    body["metadata"]["name"] = name
    for key, value in spec.items():
        if value is None:
            body["spec"].pop(key, None)
        else:
            body["spec"][key] = value
    return body


# --- the files themselves -----------------------------------------------------------------


def test_every_pinned_module_brings_its_crds(crds: dict[str, dict[str, Any]]) -> None:
    assert set(MODULE_GROUPS) == {module for module, _ in
                                  [*versions.FLUX_MODULES.values(), versions.GATEWAY_API]}
    groups = {crd["spec"]["group"] for crd in crds.values()}
    assert groups == set().union(*MODULE_GROUPS.values())


def test_every_file_is_one_crd_named_after_its_group_and_plural(
    crds: dict[str, dict[str, Any]],
) -> None:
    assert len(crds) == len(crd_files(ensure_crds()))  # one CRD a file, no two of one kind
    for crd in crds.values():
        spec = crd["spec"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["kind"] == "CustomResourceDefinition"
        assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
        assert crd["file"] == f"{spec['group']}_{spec['names']['plural']}.yaml"
        assert storage_version(crd)["served"] is True


def test_receiver_kind_enum_is_exactly_the_targets_listed_here(
    crds: dict[str, dict[str, Any]],
) -> None:
    kind = receiver_spec_schema(crds)["properties"]["resources"]["items"]["properties"]["kind"]
    assert sorted(kind["enum"]) == sorted(RECEIVER_TARGETS)


@pytest.mark.parametrize("kind", [*RECEIVER_TARGETS, "Receiver"])
def test_flux_kind_has_a_crd_with_ready_status_and_age_columns(
    crds: dict[str, dict[str, Any]], kind: str,
) -> None:
    crd = crds[kind]
    group, version, plural = RECEIVER_TARGETS.get(kind, NOTIFICATION)
    stored = storage_version(crd)
    assert (crd["spec"]["group"], stored["name"], crd["spec"]["names"]["plural"]) == (
        group, version, plural)
    assert crd["spec"]["scope"] == "Namespaced"
    assert stored["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in stored["additionalPrinterColumns"]}
    assert columns["Ready"]["jsonPath"] == READY_PATH
    assert columns["Status"]["jsonPath"] == STATUS_PATH
    assert columns["Age"] == AGE_COLUMN


@pytest.mark.parametrize(
    ("interval", "valid"),
    [
        ("10m", True), ("1h30m", True), ("500ms", True), ("1.5h", True), ("60s", True),
        ("10x", False), ("m", False), ("", False), ("10", False), ("1d", False), ("-1m", False),
        ("1us", False), (".5h", False),
    ],
)
def test_interval_pattern(crds: dict[str, dict[str, Any]], interval: str, valid: bool) -> None:
    pattern = receiver_spec_schema(crds)["properties"]["interval"]["pattern"]
    assert bool(re.search(pattern, interval)) is valid


# --- control plane: what the API server accepts and refuses -------------------------------------


def create(api: client.ApiClient, namespace: str, resource: tuple[str, str, str],
           body: dict[str, Any]) -> dict[str, Any]:
    """Create one custom object in the namespace and return what the server stored."""
    group, version, plural = resource
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        group, version, namespace, plural, body,
    )


def causes(error: ApiException) -> list[tuple[str, str]]:
    """(field, message) for every cause in a refusal."""
    details = json.loads(error.body).get("details", {})
    return [(c.get("field", ""), c.get("message", "")) for c in details.get("causes", [])]


# Receiver types that authenticate with a Secret (generic-oidc, with OIDC, is its own case).
SECRET_TYPES = ["generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor",
                "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents"]

ACCEPTED = {
    "guide-receiver": (NOTIFICATION, GUIDE_RECEIVER),
    "guide-image-receiver": (NOTIFICATION, GUIDE_IMAGE_RECEIVER),
    "guide-gitrepository": (GITREPOSITORY, GUIDE_GITREPOSITORY),
    "guide-httproute": (HTTPROUTE, GUIDE_HTTPROUTE),
    **{f"type-{kind}": (NOTIFICATION, receiver(kind, type=kind)) for kind in SECRET_TYPES},
    "generic-oidc": (NOTIFICATION, receiver("oidc", type="generic-oidc", secretRef=None,
                                            oidcProviders=OIDC_PROVIDERS)),
    "generic-oidc-audience-and-variables": (NOTIFICATION, receiver(
        "oidc-vars", type="generic-oidc", secretRef=None, oidcProviders=[{
            **OIDC_PROVIDERS[0], "audience": "webhooks",
            "variables": [{"name": "owner", "expression": "claims.repository_owner"}],
        }])),
    "two-oidc-issuers": (NOTIFICATION, receiver(
        "oidc-two", type="generic-oidc", secretRef=None,
        oidcProviders=[OIDC_PROVIDERS[0], {**OIDC_PROVIDERS[0], "issuerURL": "http://a.test"}])),
    "interval-and-suspend": (NOTIFICATION, receiver("hourly", interval="1h30m", suspend=True)),
    "star-with-labels": (NOTIFICATION, receiver("labelled", resources=[
        {"kind": "GitRepository", "name": "*", "matchLabels": {"app": "webapp"}},
    ])),
    # Flux's API takes `*` without matchLabels; the receiver answers 500 at request time.
    "star-without-labels": (NOTIFICATION, receiver("star", resources=[
        {"kind": "GitRepository", "name": "*"}])),
    # Nor does it check that an apiVersion fits the kind: that too is left to the receiver.
    "filters-and-other-namespace": (NOTIFICATION, receiver(
        "filtered", resourceFilter="res.metadata.name == 'webapp'", resources=[{
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "name": "podinfo",
            "namespace": "apps", "filter": "true",
        }])),
    "no-events": (NOTIFICATION, receiver("quiet", events=None)),
}


@pytest.mark.controlplane
@pytest.mark.parametrize(("resource", "body"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_api_server_accepts(kube_api: client.ApiClient, namespace: str,
                            resource: tuple[str, str, str], body: dict[str, Any]) -> None:
    body = copy.deepcopy(body)
    body["metadata"]["namespace"] = namespace
    stored = create(kube_api, namespace, resource, body)
    assert stored["metadata"]["uid"]
    for key, value in body["spec"].items():
        if resource != HTTPROUTE:  # the route gets defaults written into nested entries
            assert stored["spec"][key] == value


def oidc_receiver(*providers: dict[str, Any]) -> dict[str, Any]:
    """A generic-oidc Receiver with these providers."""
    return receiver("r", type="generic-oidc", secretRef=None, oidcProviders=list(providers))


REFUSED = {
    "bad-type": (receiver("r", type="jenkins"), "spec.type", "Unsupported value"),
    "type-in-capitals": (receiver("r", type="GitHub"), "spec.type", "Unsupported value"),
    "no-type": (receiver("r", type=None), "spec.type", "Required"),
    "interval-10x": (receiver("r", interval="10x"), "spec.interval", "should match"),
    "interval-m": (receiver("r", interval="m"), "spec.interval", "should match"),
    "interval-days": (receiver("r", interval="1d"), "spec.interval", "should match"),
    "github-without-secretref": (
        receiver("r", secretRef=None), "spec",
        "secretRef is required when type is not generic-oidc",
    ),
    "secretref-without-name": (receiver("r", secretRef={}), "spec.secretRef.name", "Required"),
    "generic-oidc-with-secretref": (
        receiver("r", type="generic-oidc", oidcProviders=OIDC_PROVIDERS), "spec",
        "secretRef cannot be set when type is generic-oidc",
    ),
    "generic-oidc-without-providers": (
        receiver("r", type="generic-oidc", secretRef=None), "spec",
        "generic-oidc receivers must define at least one oidcProvider",
    ),
    "generic-oidc-empty-providers": (
        oidc_receiver(), "spec", "generic-oidc receivers must define at least one oidcProvider",
    ),
    "providers-on-github": (
        receiver("r", oidcProviders=OIDC_PROVIDERS), "spec",
        "oidcProviders can only be set when type is generic-oidc",
    ),
    "provider-without-validations": (
        oidc_receiver({"issuerURL": "https://issuer.example.com", "validations": []}),
        "spec.oidcProviders[0].validations", "at least 1",
    ),
    "provider-not-http": (
        oidc_receiver({**OIDC_PROVIDERS[0], "issuerURL": "issuer.example.com"}),
        "spec.oidcProviders[0].issuerURL", "should match",
    ),
    "provider-twice": (
        oidc_receiver(OIDC_PROVIDERS[0], OIDC_PROVIDERS[0]), "spec.oidcProviders[1]",
        "Duplicate value",
    ),
    "validation-without-message": (
        oidc_receiver({**OIDC_PROVIDERS[0], "validations": [{"expression": "true"}]}),
        "spec.oidcProviders[0].validations[0].message", "Required",
    ),
    "variable-without-name": (
        oidc_receiver({**OIDC_PROVIDERS[0], "variables": [{"expression": "claims.sub"}]}),
        "spec.oidcProviders[0].variables[0].name", "Required",
    ),
    "kind-outside-enum": (
        receiver("r", resources=[{"kind": "Deployment", "name": "webapp"}]),
        "spec.resources[0].kind", "Unsupported value",
    ),
    "resource-without-kind": (
        receiver("r", resources=[{"name": "webapp"}]), "spec.resources[0].kind", "Required",
    ),
    "resource-without-name": (
        receiver("r", resources=[{"kind": "GitRepository"}]), "spec.resources[0].name", "Required",
    ),
    "resource-empty-name": (
        receiver("r", resources=[{"kind": "GitRepository", "name": ""}]),
        "spec.resources[0].name", "at least 1",
    ),
    "resource-name-too-long": (
        receiver("r", resources=[{"kind": "GitRepository", "name": "a" * 254}]),
        "spec.resources[0].name", "Too long",
    ),
    "resource-empty-namespace": (
        receiver("r", resources=[{"kind": "GitRepository", "name": "webapp", "namespace": ""}]),
        "spec.resources[0].namespace", "at least 1",
    ),
    "no-resources": (receiver("r", resources=None), "spec.resources", "Required"),
    "events-not-strings": (
        receiver("r", events=[{"name": "push"}]), "spec.events[0]", "must be of type string",
    ),
    "match-labels-not-strings": (
        receiver("r", resources=[{"kind": "GitRepository", "name": "*",
                                  "matchLabels": {"replicas": 2}}]),
        "spec.resources[0].matchLabels.replicas", "must be of type string",
    ),
}


def assert_refused(error: ApiException, field: str, words: str) -> None:
    """The API server said 422 and blamed `field` in a message containing `words`."""
    assert error.status == 422, error.body
    assert any(f == field and words in m for f, m in causes(error)), causes(error)


@pytest.mark.controlplane
@pytest.mark.parametrize(("body", "field", "words"), REFUSED.values(), ids=REFUSED.keys())
def test_api_server_refuses_receiver(kube_api: client.ApiClient, namespace: str,
                                     body: dict[str, Any], field: str, words: str) -> None:
    body = copy.deepcopy(body)
    body["metadata"]["namespace"] = namespace
    with pytest.raises(ApiException) as refused:
        create(kube_api, namespace, NOTIFICATION, body)
    assert_refused(refused.value, field, words)


def route(**changes: Any) -> dict[str, Any]:
    """The guide's HTTPRoute with its first match path and first backend updated."""
    body = copy.deepcopy(GUIDE_HTTPROUTE)
    body["spec"]["rules"][0]["matches"][0]["path"].update(changes.get("path", {}))
    backend = body["spec"]["rules"][0]["backendRefs"][0]
    backend.update(changes.get("backend", {}))
    for key in changes.get("drop", ()):
        backend.pop(key)
    return body


GATEWAY = yaml.safe_load("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: internet-gateway
spec:
  gatewayClassName: example
  listeners:
    - name: http
      hostname: "*.example.com"
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: All
""")

GATEWAY_REFUSED = {
    "route-path-type": (HTTPROUTE, route(path={"type": "Prefix"}),
                        "spec.rules[0].matches[0].path.type", "Unsupported value"),
    "route-path-not-absolute": (HTTPROUTE, route(path={"value": "hook"}),
                                "spec.rules[0].matches[0].path",
                                "must be an absolute path and start with '/'"),
    "route-service-without-port": (HTTPROUTE, route(drop=["port"]),
                                   "spec.rules[0].backendRefs[0]",
                                   "Must have port for Service reference"),
    "route-port-zero": (HTTPROUTE, route(backend={"port": 0}),
                        "spec.rules[0].backendRefs[0].port", "greater than or equal to 1"),
    "route-bad-hostname": (HTTPROUTE, {**GUIDE_HTTPROUTE, "spec": {
        **GUIDE_HTTPROUTE["spec"], "hostnames": ["Webhook_Receiver"]}},
        "spec.hostnames[0]", "should match"),
    "gateway-no-listeners": (GATEWAY_RESOURCE, {**GATEWAY, "spec": {"gatewayClassName": "example"}},
                             "spec.listeners", "Required"),
    "gateway-no-class": (GATEWAY_RESOURCE, {**GATEWAY, "spec": {
        "listeners": GATEWAY["spec"]["listeners"]}}, "spec.gatewayClassName", "Required"),
}


@pytest.mark.controlplane
def test_api_server_accepts_gateway(kube_api: client.ApiClient, namespace: str) -> None:
    body = copy.deepcopy(GATEWAY)
    body["metadata"]["namespace"] = namespace
    stored = create(kube_api, namespace, GATEWAY_RESOURCE, body)
    assert stored["spec"]["listeners"][0]["allowedRoutes"] == {"namespaces": {"from": "All"}}


@pytest.mark.controlplane
@pytest.mark.parametrize(("resource", "body", "field", "words"), GATEWAY_REFUSED.values(),
                         ids=GATEWAY_REFUSED.keys())
def test_api_server_refuses_gateway_api_object(
    kube_api: client.ApiClient, namespace: str, resource: tuple[str, str, str],
    body: dict[str, Any], field: str, words: str,
) -> None:
    body = copy.deepcopy(body)
    body["metadata"]["namespace"] = namespace
    with pytest.raises(ApiException) as refused:
        create(kube_api, namespace, resource, body)
    assert_refused(refused.value, field, words)


@pytest.mark.controlplane
def test_gatewayclass_is_cluster_scoped(kube_api: client.ApiClient, namespace: str) -> None:
    objects = client.CustomObjectsApi(kube_api)
    name = f"class-{namespace}"
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": name}, "spec": {"controllerName": "example.com/gateway"},
    }
    stored = objects.create_cluster_custom_object("gateway.networking.k8s.io", "v1",
                                                  "gatewayclasses", body)
    try:
        assert "namespace" not in stored["metadata"]
        bad = {**body, "metadata": {"name": f"{name}-bad"}, "spec": {"controllerName": "none"}}
        with pytest.raises(ApiException) as refused:
            objects.create_cluster_custom_object("gateway.networking.k8s.io", "v1",
                                                 "gatewayclasses", bad)
        assert_refused(refused.value, "spec.controllerName", "should match")
    finally:
        objects.delete_cluster_custom_object("gateway.networking.k8s.io", "v1",
                                             "gatewayclasses", name)


def dig(obj: Any, path: str) -> Any:
    """The value at a dotted path; a number indexes a list (`spec.rules.0.backendRefs`)."""
    for key in path.split("."):
        obj = obj[int(key)] if key.isdigit() else obj[key]
    return obj


DEFAULTS = {
    "receiver-interval": (NOTIFICATION, GUIDE_RECEIVER, "spec.interval", "10m"),
    "receiver-status": (NOTIFICATION, GUIDE_RECEIVER, "status", {"observedGeneration": -1}),
    "gitrepository-timeout": (GITREPOSITORY, GUIDE_GITREPOSITORY, "spec.timeout", "60s"),
    "gitrepository-status": (GITREPOSITORY, GUIDE_GITREPOSITORY, "status",
                             {"observedGeneration": -1}),
    "route-backend": (HTTPROUTE, GUIDE_HTTPROUTE, "spec.rules.0.backendRefs.0",
                      {**GUIDE_HTTPROUTE["spec"]["rules"][0]["backendRefs"][0],
                       "group": "", "kind": "Service", "weight": 1}),
    "route-parent-as-given": (HTTPROUTE, GUIDE_HTTPROUTE, "spec.parentRefs.0",
                              GUIDE_HTTPROUTE["spec"]["parentRefs"][0]),
}


@pytest.mark.controlplane
@pytest.mark.parametrize(("resource", "body", "path", "expected"), DEFAULTS.values(),
                         ids=DEFAULTS.keys())
def test_api_server_fills_in_defaults(kube_api: client.ApiClient, namespace: str,
                                      resource: tuple[str, str, str], body: dict[str, Any],
                                      path: str, expected: Any) -> None:
    body = copy.deepcopy(body)
    body["metadata"]["namespace"] = namespace
    create(kube_api, namespace, resource, body)
    group, version, plural = resource
    stored = client.CustomObjectsApi(kube_api).get_namespaced_custom_object(
        group, version, namespace, plural, body["metadata"]["name"],
    )
    assert dig(stored, path) == expected


def ready_condition(status: str, message: str, **fields: Any) -> dict[str, Any]:
    """A Ready condition in the metav1.Condition shape."""
    return {
        "type": "Ready", "status": status, "reason": "Succeeded", "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1, **fields,
    }


def patch_status(api: client.ApiClient, namespace: str, name: str,
                 status: dict[str, Any]) -> dict[str, Any]:
    """Merge-patch a Receiver's status subresource."""
    return client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        *NOTIFICATION[:2], namespace, NOTIFICATION[2], name, {"status": status},
        _content_type="application/merge-patch+json",
    )


def table(api: client.ApiClient, namespace: str, resource: tuple[str, str, str]) -> dict[str, Any]:
    """List a namespace's objects as the server-side Table kubectl prints."""
    group, version, plural = resource
    # The typed client's own Accept would win over one passed in its `_headers`.
    response = api.call_api(f"/apis/{group}/{version}/namespaces/{namespace}/{plural}", "GET",
                            header_params={"Accept": TABLE}, auth_settings=["BearerToken"],
                            _preload_content=False, _request_timeout=30)
    listed = json.loads(response.data)
    assert listed["kind"] == "Table"
    return listed


@pytest.mark.controlplane
def test_receiver_printer_columns(kube_api: client.ApiClient, namespace: str) -> None:
    body = receiver("webapp")
    body["metadata"]["namespace"] = namespace
    create(kube_api, namespace, NOTIFICATION, body)
    path = "/hook/" + "0" * 64
    patch_status(kube_api, namespace, "webapp", {
        "observedGeneration": 1, "webhookPath": path,
        "conditions": [ready_condition("True", f"Receiver initialized for path: {path}")],
    })
    listed = table(kube_api, namespace, NOTIFICATION)
    assert [c["name"].upper() for c in listed["columnDefinitions"]] == [
        "NAME", "AGE", "READY", "STATUS",
    ]
    [row] = listed["rows"]
    name, _age, ready, message = row["cells"]
    assert (name, ready, message) == ("webapp", "True", f"Receiver initialized for path: {path}")


@pytest.mark.controlplane
def test_gitrepository_printer_columns(kube_api: client.ApiClient, namespace: str) -> None:
    body = copy.deepcopy(GUIDE_GITREPOSITORY)
    body["metadata"]["namespace"] = namespace
    create(kube_api, namespace, GITREPOSITORY, body)
    listed = table(kube_api, namespace, GITREPOSITORY)
    assert [c["name"].upper() for c in listed["columnDefinitions"]] == [
        "NAME", "URL", "AGE", "READY", "STATUS",
    ]
    [row] = listed["rows"]
    assert row["cells"][:2] == ["webapp", GUIDE_GITREPOSITORY["spec"]["url"]]


@pytest.mark.controlplane
@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({k: v for k, v in ready_condition("True", "ok").items() if k != "reason"},
         "status.conditions[0].reason"),
        (ready_condition("Yes", "ok"), "status.conditions[0].status"),
        (ready_condition("True", "ok", reason="not a reason"), "status.conditions[0].reason"),
    ],
    ids=["no-reason", "status-not-enum", "reason-with-spaces"],
)
def test_api_server_refuses_malformed_condition(kube_api: client.ApiClient, namespace: str,
                                                condition: dict[str, Any], field: str) -> None:
    body = receiver("webapp")
    body["metadata"]["namespace"] = namespace
    create(kube_api, namespace, NOTIFICATION, body)
    with pytest.raises(ApiException) as refused:
        patch_status(kube_api, namespace, "webapp", {"conditions": [condition]})
    assert_refused(refused.value, field, "")


@pytest.mark.controlplane
@pytest.mark.parametrize("kind", RECEIVER_TARGETS)
def test_api_server_serves_every_receiver_target(kube_api: client.ApiClient, namespace: str,
                                                 kind: str) -> None:
    listed = table(kube_api, namespace, RECEIVER_TARGETS[kind])
    names = [c["name"] for c in listed["columnDefinitions"]]
    assert {"Name", "Age", "Ready", "Status"} <= set(names), names
    assert listed["rows"] == []


@pytest.mark.controlplane
def test_release_receivers_deletes_every_receiver_a_finalizer_holds(
    control_plane: ControlPlane, kube_api: client.ApiClient, namespace: str,
) -> None:
    """No receiver runs here, so only `release_receivers` can drop Flux's finalizer: what it
    leaves is exactly what the next receiver on a throwaway plane would have to reconcile."""
    for name, finalizers in (("held", ["finalizers.fluxcd.io"]), ("free", [])):
        body = receiver(name)
        body["metadata"].update(namespace=namespace, finalizers=finalizers)
        create(kube_api, namespace, NOTIFICATION, body)

    assert release_receivers(control_plane.kubeconfig) >= 2
    left = client.CustomObjectsApi(kube_api).list_cluster_custom_object(*NOTIFICATION)
    assert [item["metadata"]["name"] for item in left["items"]] == []
