"""Our CRDs: well-formed on disk, and as strict as Flux's on a real API server."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness.paths import CRDS

CRD_FILES = sorted(p for p in CRDS.glob("*.yaml") if p.name != "kustomization.yaml")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
READY_PATH = '.status.conditions[?(@.type=="Ready")].status'
STATUS_PATH = '.status.conditions[?(@.type=="Ready")].message'
FLUX_GROUP = re.compile(r"(^|\.)fluxcd\.io$")

NOTIFICATION = ("notification.toolkit.fluxcd.io", "v1", "receivers")
GITREPOSITORY = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
HTTPROUTE = ("gateway.networking.k8s.io", "v1", "httproutes")


def load_crd(path: Path) -> dict[str, Any]:
    """Parse one CRD file."""
    return yaml.safe_load(path.read_text())


def receiver_crd() -> dict[str, Any]:
    """The Receiver CRD as parsed from disk."""
    return load_crd(CRDS / "notification.toolkit.fluxcd.io_receivers.yaml")


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


# --- unit tests: the files themselves -----------------------------------------------------------


def test_crd_directory_is_not_empty() -> None:
    assert len(CRD_FILES) >= 16


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.name)
def test_crd_file_is_well_formed(path: Path) -> None:
    crd = load_crd(path)
    spec = crd["spec"]
    names = spec["names"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{names['plural']}.{spec['group']}"
    assert path.name == f"{spec['group']}_{names['plural']}.yaml"
    assert names["singular"] == names["kind"].lower()
    assert names["listKind"] == names["kind"] + "List"
    assert [v["storage"] for v in spec["versions"]].count(True) == 1
    for version in spec["versions"]:
        assert version["served"] is True
        assert version["subresources"] == {"status": {}}
        root = version["schema"]["openAPIV3Schema"]
        assert root["type"] == "object"
        assert {"spec", "status"} <= root["properties"].keys()


@pytest.mark.parametrize(
    "path", [p for p in CRD_FILES if FLUX_GROUP.search(load_crd(p)["spec"]["group"])],
    ids=lambda p: p.name,
)
def test_flux_kind_has_ready_status_and_age_columns(path: Path) -> None:
    crd = load_crd(path)
    assert crd["spec"]["scope"] == "Namespaced"
    columns = {c["name"]: c for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Ready"]["jsonPath"] == READY_PATH
    assert columns["Status"]["jsonPath"] == STATUS_PATH
    assert columns["Age"] == {
        "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
    }


def test_kustomization_lists_every_crd_file() -> None:
    kustomization = yaml.safe_load((CRDS / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in CRD_FILES]


def test_receiver_kind_enum_has_a_crd_for_every_kind() -> None:
    schema = receiver_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    resource = schema["properties"]["spec"]["properties"]["resources"]["items"]
    shipped = {load_crd(p)["spec"]["names"]["kind"] for p in CRD_FILES}
    assert set(resource["properties"]["kind"]["enum"]) <= shipped
    assert len(resource["properties"]["kind"]["enum"]) == 12


@pytest.mark.parametrize(
    ("interval", "valid"),
    [
        ("10m", True), ("1h30m", True), ("500ms", True), ("1.5h", True), ("60s", True),
        ("10x", False), ("m", False), ("", False), ("10", False), ("1d", False), ("-1m", False),
    ],
)
def test_interval_pattern(interval: str, valid: bool) -> None:
    spec = receiver_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    pattern = spec["properties"]["interval"]["pattern"]
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


@pytest.mark.controlplane
@pytest.mark.parametrize(
    ("resource", "body"),
    [
        (NOTIFICATION, GUIDE_RECEIVER),
        (NOTIFICATION, GUIDE_IMAGE_RECEIVER),
        (GITREPOSITORY, GUIDE_GITREPOSITORY),
        (HTTPROUTE, GUIDE_HTTPROUTE),
        (NOTIFICATION, receiver("oidc", type="generic-oidc", secretRef=None,
                                oidcProviders=OIDC_PROVIDERS)),
        (NOTIFICATION, receiver("hourly", interval="1h30m", suspend=True)),
        (NOTIFICATION, receiver("labelled", resources=[
            {"kind": "GitRepository", "name": "*", "matchLabels": {"app": "webapp"}},
        ])),
        # Flux's API takes `*` without matchLabels; the receiver answers 500 at request time.
        (NOTIFICATION, receiver("star", resources=[{"kind": "GitRepository", "name": "*"}])),
        (NOTIFICATION, receiver("filtered", resourceFilter="res.metadata.name == 'webapp'",
                                resources=[{
                                    "apiVersion": "helm.toolkit.fluxcd.io/v2",
                                    "kind": "HelmRelease", "name": "podinfo",
                                    "namespace": "apps", "filter": "true",
                                }])),
    ],
    ids=["guide-receiver", "guide-image-receiver", "guide-gitrepository", "guide-httproute",
         "generic-oidc", "interval-and-suspend", "star-with-labels", "star-without-labels",
         "filters"],
)
def test_api_server_accepts(kube_api: client.ApiClient, namespace: str,
                            resource: tuple[str, str, str], body: dict[str, Any]) -> None:
    body = copy.deepcopy(body)
    body["metadata"]["namespace"] = namespace
    stored = create(kube_api, namespace, resource, body)
    assert stored["metadata"]["uid"]
    for key, value in body["spec"].items():
        if resource != HTTPROUTE:  # the route gets defaults written into nested entries
            assert stored["spec"][key] == value


REFUSED = {
    "bad-type": (receiver("r", type="jenkins"), "spec.type"),
    "no-type": (receiver("r", type=None), "spec.type"),
    "interval-10x": (receiver("r", interval="10x"), "spec.interval"),
    "interval-m": (receiver("r", interval="m"), "spec.interval"),
    "github-without-secretref": (receiver("r", secretRef=None), "spec"),
    "secretref-without-name": (receiver("r", secretRef={}), "spec.secretRef.name"),
    "generic-oidc-with-secretref": (
        receiver("r", type="generic-oidc", oidcProviders=OIDC_PROVIDERS), "spec",
    ),
    "generic-oidc-without-providers": (receiver("r", type="generic-oidc", secretRef=None), "spec"),
    "providers-on-github": (receiver("r", oidcProviders=OIDC_PROVIDERS), "spec"),
    "provider-without-validations": (
        receiver("r", type="generic-oidc", secretRef=None,
                 oidcProviders=[{"issuerURL": "https://issuer.example.com", "validations": []}]),
        "spec.oidcProviders[0].validations",
    ),
    "provider-not-http": (
        receiver("r", type="generic-oidc", secretRef=None,
                 oidcProviders=[{**OIDC_PROVIDERS[0], "issuerURL": "issuer.example.com"}]),
        "spec.oidcProviders[0].issuerURL",
    ),
    "kind-outside-enum": (
        receiver("r", resources=[{"kind": "Deployment", "name": "webapp"}]),
        "spec.resources[0].kind",
    ),
    "resource-without-name": (
        receiver("r", resources=[{"kind": "GitRepository"}]), "spec.resources[0].name",
    ),
    "resource-empty-name": (
        receiver("r", resources=[{"kind": "GitRepository", "name": ""}]),
        "spec.resources[0].name",
    ),
    "no-resources": (receiver("r", resources=None), "spec.resources"),
    "events-not-strings": (receiver("r", events=[{"name": "push"}]), "spec.events[0]"),
}


@pytest.mark.controlplane
@pytest.mark.parametrize(("body", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_api_server_refuses_receiver(kube_api: client.ApiClient, namespace: str,
                                     body: dict[str, Any], field: str) -> None:
    body = copy.deepcopy(body)
    body["metadata"]["namespace"] = namespace
    with pytest.raises(ApiException) as refused:
        create(kube_api, namespace, NOTIFICATION, body)
    assert refused.value.status == 422
    assert field in [f for f, _ in causes(refused.value)], causes(refused.value)


@pytest.mark.controlplane
def test_api_server_refuses_route_with_unknown_path_type(
    kube_api: client.ApiClient, namespace: str,
) -> None:
    body = copy.deepcopy(GUIDE_HTTPROUTE)
    body["metadata"]["namespace"] = namespace
    body["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"
    with pytest.raises(ApiException) as refused:
        create(kube_api, namespace, HTTPROUTE, body)
    assert refused.value.status == 422


@pytest.mark.controlplane
def test_receiver_defaults(kube_api: client.ApiClient, namespace: str) -> None:
    body = receiver("webapp")
    body["metadata"]["namespace"] = namespace
    create(kube_api, namespace, NOTIFICATION, body)
    stored = client.CustomObjectsApi(kube_api).get_namespaced_custom_object(
        *NOTIFICATION[:2], namespace, NOTIFICATION[2], "webapp",
    )
    assert stored["spec"]["interval"] == "10m"
    assert stored["status"] == {"observedGeneration": -1}


@pytest.mark.controlplane
def test_route_defaults(kube_api: client.ApiClient, namespace: str) -> None:
    body = copy.deepcopy(GUIDE_HTTPROUTE)
    body["metadata"]["namespace"] = namespace
    stored = create(kube_api, namespace, HTTPROUTE, body)
    backend = stored["spec"]["rules"][0]["backendRefs"][0]
    assert (backend["group"], backend["kind"], backend["weight"]) == ("", "Service", 1)


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


@pytest.mark.controlplane
def test_printer_columns(kube_api: client.ApiClient, namespace: str) -> None:
    body = receiver("webapp")
    body["metadata"]["namespace"] = namespace
    create(kube_api, namespace, NOTIFICATION, body)
    path = "/hook/" + "0" * 64
    patch_status(kube_api, namespace, "webapp", {
        "observedGeneration": 1, "webhookPath": path,
        "conditions": [ready_condition("True", f"Receiver initialized for path: {path}")],
    })
    table = client.CustomObjectsApi(kube_api).list_namespaced_custom_object(
        *NOTIFICATION[:2], namespace, NOTIFICATION[2], _headers={"Accept": TABLE},
    )
    assert table["kind"] == "Table"
    assert [c["name"].upper() for c in table["columnDefinitions"]] == [
        "NAME", "AGE", "READY", "STATUS",
    ]
    [row] = table["rows"]
    name, _age, ready, message = row["cells"]
    assert (name, ready, message) == ("webapp", "True", f"Receiver initialized for path: {path}")


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
    assert refused.value.status == 422
    assert field in [f for f, _ in causes(refused.value)], causes(refused.value)
