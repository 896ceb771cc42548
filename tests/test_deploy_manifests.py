"""reference/deploy/ and fixtures/exposure/: what they say, and that an API server takes them."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from receiver_conformance.controlplane.crds import crd_files, ensure_crds
from receiver_conformance.kube import Kube, load_manifests, render_kustomization
from receiver_conformance.paths import FIXTURES, REFERENCE, REFERENCE_DEPLOY

EXPOSURE = FIXTURES / "exposure"
render = render_kustomization  # the harness's renderer, under its old name here


def rendered(kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in render(REFERENCE_DEPLOY)
                if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


def container() -> dict[str, Any]:
    return rendered("Deployment")["spec"]["template"]["spec"]["containers"][0]


# --- what the manifests say (no cluster needed)


def test_renderer_agrees_with_kubectl_kustomize():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl to compare with")
    out = subprocess.run([kubectl, "kustomize", str(REFERENCE_DEPLOY)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    theirs = [d for d in yaml.safe_load_all(out) if d]

    def key(d):
        return (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])

    assert sorted(map(key, render(REFERENCE_DEPLOY))) == sorted(map(key, theirs))


def test_renderer_refuses_what_it_cannot_do(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: []\n")
    with pytest.raises(ValueError, match="patches"):
        render(tmp_path)


def test_deployment_matches_flux():
    deployment = rendered("Deployment", "notification-controller")
    assert deployment["metadata"]["namespace"] == "flux-system"
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "notification-controller"}
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "notification-controller"
    c = container()
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {
        "http-webhook": 9292, "healthz": 9440, "http-prom": 8080}
    assert set(c["args"]) >= {"--receiver-addr=:9292", "--health-addr=:9440",
                              "--metrics-addr=:8080", "--watch-all-namespaces=true",
                              "--enable-leader-election"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "healthz"}
    env = {e["name"]: e for e in c["env"]}
    assert env["RUNTIME_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_container_is_locked_down():
    sc = container()["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert "volumeMounts" not in container()  # nothing writable


def test_service_reaches_the_webhook_port():
    svc = rendered("Service", "webhook-receiver")
    assert svc["spec"]["selector"] == {"app": "notification-controller"}
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http-webhook"}]


def _crd_kinds() -> dict[str, tuple[str, str]]:
    """Kind -> (group, plural) of every Flux CRD we ship."""
    kinds = {}
    for path in crd_files(ensure_crds()):
        for doc in load_manifests(path):
            if doc["kind"] == "CustomResourceDefinition":
                spec = doc["spec"]
                kinds[spec["names"]["kind"]] = (spec["group"], spec["names"]["plural"])
    return kinds


RECEIVER_RESOURCE_KINDS = [
    "Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository",
    "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "OCIRepository",
    "ArtifactGenerator", "ExternalArtifact",
]


def _grants(group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in rendered("ClusterRole")["rules"]:
        if group in rule.get("apiGroups", []) and resource in rule.get("resources", []):
            verbs |= set(rule["verbs"])
    return verbs


@pytest.mark.parametrize("kind", RECEIVER_RESOURCE_KINDS)
def test_rbac_lets_the_receiver_annotate(kind):
    group, plural = _crd_kinds()[kind]
    assert _grants(group, plural) == {"get", "list", "patch"}


@pytest.mark.parametrize(
    ("group", "resource", "verbs"),
    [
        ("notification.toolkit.fluxcd.io", "receivers", {"get", "list", "watch", "update",
                                                          "patch"}),
        ("notification.toolkit.fluxcd.io", "receivers/status", {"get", "update", "patch"}),
        ("notification.toolkit.fluxcd.io", "receivers/finalizers", {"update"}),
        ("", "secrets", {"get", "list", "watch"}),
        ("", "events", {"create", "patch"}),
        ("events.k8s.io", "events", set()),
        ("", "configmaps", set()),
        ("", "pods", set()),
        ("notification.toolkit.fluxcd.io", "alerts", set()),
    ],
)
def test_rbac_is_least_privilege(group, resource, verbs):
    assert _grants(group, resource) == verbs


def test_rbac_has_no_wildcards_and_binds_the_service_account():
    for rule in rendered("ClusterRole")["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field]
    binding = rendered("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == rendered("ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "notification-controller",
                                    "namespace": "flux-system"}]
    deployment = rendered("Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "notification-controller"


def test_the_lease_is_granted_in_the_receivers_namespace_only():
    role = rendered("Role")
    assert role["metadata"]["namespace"] == "flux-system"
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["get", "create", "update"]}]
    binding = rendered("RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "notification-controller",
                                    "namespace": "flux-system"}]
    assert _grants("coordination.k8s.io", "leases") == set()  # nothing cluster-wide


def test_dockerfile_runs_the_reference_as_non_root_without_writes():
    text = (REFERENCE / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not line.startswith("#")]
    assert lines[0].startswith("FROM python:3.11-slim")
    assert 'ENTRYPOINT ["python", "-m", "receiver_conformance.reference"]' in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("root", "0"))
    assert "PYTHONDONTWRITEBYTECODE=1" in text


# --- an API server takes them


@pytest.fixture
def exposure_namespaces(kube: Kube):
    for name in ("flux-system", "gateway-namespace"):
        kube.create_namespace(name)
    return kube


@pytest.mark.controlplane
def test_reference_deploy_passes_server_side_dry_run(exposure_namespaces: Kube):
    kube = exposure_namespaces
    docs = render(REFERENCE_DEPLOY)
    try:
        results = kube.apply_all(docs, dry_run=True)
    except ApiException as err:
        pytest.fail(f"the API server refused reference/deploy: {err.body}")
    assert [r["kind"] for r in results] == [d["kind"] for d in docs]
    # a dry run writes nothing
    assert kube.get("apps/v1", "Deployment", "notification-controller", "flux-system") is None


def _exposure_docs() -> list[dict[str, Any]]:
    return [d for p in sorted(EXPOSURE.glob("*.yaml")) for d in load_manifests(p)]


@pytest.mark.controlplane
def test_exposure_fixtures_apply_for_real(exposure_namespaces: Kube):
    kube = exposure_namespaces
    docs = _exposure_docs()
    kinds = {d["kind"] for d in docs}
    assert kinds >= {"Service", "Ingress", "HTTPRoute", "Gateway", "NetworkPolicy"}
    kube.apply_all(docs)
    for doc in docs:
        meta = doc["metadata"]
        stored = kube.get(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace"))
        assert stored is not None, f"{doc['kind']} {meta['name']} was not stored"
    lb = kube.get("v1", "Service", "receiver", "flux-system")
    assert lb["spec"]["type"] == "LoadBalancer"
    assert lb["spec"]["ports"][0]["targetPort"] == 9292
    webhooks = kube.get("networking.k8s.io/v1", "NetworkPolicy", "allow-webhooks", "flux-system")
    assert webhooks["spec"]["policyTypes"] == ["Ingress"]
