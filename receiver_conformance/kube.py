"""Small helpers over the official Kubernetes client: connect, apply, wait."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

T = TypeVar("T")

FIELD_MANAGER = "receiver-conformance"


class ManifestError(Exception):
    """A manifest that cannot be read or has no apiVersion/kind/name."""


class Timeout(AssertionError):
    """A condition did not come true before its deadline."""


def api_client(kubeconfig: Path | str, context: str | None = None) -> client.ApiClient:
    """An ApiClient for the given kubeconfig file."""
    return config.new_client_from_config(config_file=str(kubeconfig), context=context)


def load_manifests(path: Path, values: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Read every YAML document of a file, with `${NAME}` placeholders filled from `values`."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ManifestError(f"cannot read {path}: {err.strerror}") from err
    for name, value in (values or {}).items():
        text = text.replace("${" + name + "}", value)
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as err:
        raise ManifestError(f"{path} is not valid YAML: {err}") from err
    for doc in docs:
        check_manifest(doc, str(path))
    return docs


def check_manifest(doc: Any, origin: str = "manifest") -> None:
    """Raise ManifestError unless `doc` looks like a Kubernetes object."""
    if not isinstance(doc, dict):
        raise ManifestError(f"{origin}: a document is not a mapping")
    missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
    if not (doc.get("metadata") or {}).get("name"):
        missing.append("metadata.name")
    if missing:
        raise ManifestError(f"{origin}: {doc.get('kind', 'object')} lacks {', '.join(missing)}")


class Kube:
    """A connection to one cluster: typed APIs plus a dynamic client for any kind."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self._dynamic: DynamicClient | None = None

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    def resource(self, api_version: str, kind: str):
        """The dynamic resource of a kind (discovery is cached, refreshed on a miss)."""
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except Exception:
            self.dynamic.resources.invalidate_cache()
            return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(
        self, doc: Mapping[str, Any], namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply one object; `namespace` fills in a namespaced object's namespace."""
        check_manifest(doc)
        body = dict(doc)
        resource = self.resource(body["apiVersion"], body["kind"])
        meta = dict(body["metadata"])
        if resource.namespaced:
            meta.setdefault("namespace", namespace or "default")
        body["metadata"] = meta
        kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "force_conflicts": True}
        if dry_run:
            kwargs["dry_run"] = "All"
        result = resource.server_side_apply(
            body=body, name=meta["name"], namespace=meta.get("namespace"), **kwargs
        )
        return result.to_dict()

    def apply_all(
        self, docs: Iterable[Mapping[str, Any]], namespace: str | None = None,
        dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        return [self.apply(d, namespace, dry_run) for d in docs]

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object as a dict, or None when it does not exist."""
        try:
            return self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict()
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        except Exception as err:  # the dynamic client raises its own NotFoundError
            if getattr(err, "status", None) == 404:
                return None
            raise

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        meta = client.V1ObjectMeta(name=name, labels=dict(labels or {}))
        body = client.V1Namespace(metadata=meta)
        try:
            self.core.create_namespace(body)
        except ApiException as err:
            if err.status != 409:
                raise

    def delete_namespace(self, name: str) -> None:
        try:
            self.core.delete_namespace(name, propagation_policy="Background")
        except ApiException as err:
            if err.status != 404:
                raise


def reason(err: ApiException) -> str:
    """The API server's own message from an error response."""
    try:
        return json.loads(err.body)["message"]
    except (TypeError, ValueError, KeyError):
        return f"HTTP {err.status} {err.reason}"


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> T:
    """Call `probe` until it returns something truthy, or fail after `timeout` seconds.

    This is a wait on a condition with a deadline: `interval` only paces the probing.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            state = f"; last seen: {describe()}" if describe else ""
            raise Timeout(f"timed out after {timeout:g} s waiting for {what}{state}")
        time.sleep(interval)


def install_crds(kube: Kube, crd_dir: Path, timeout: float = 60.0) -> list[str]:
    """Create or update every CRD in `crd_dir` and wait until each is Established."""
    ext = client.ApiextensionsV1Api(kube.api)
    names = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for doc in load_manifests(path):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            try:
                kube.apply(doc)
            except ApiException as err:
                refusal = f"{path.name}: the API server refused it: {reason(err)}"
                raise ManifestError(refusal) from None
            names.append(doc["metadata"]["name"])

    def established(name: str) -> bool:
        crd = ext.read_custom_resource_definition(name)
        return any(
            c.type == "Established" and c.status == "True"
            for c in (crd.status.conditions or [])
        )

    for name in names:
        wait_until(lambda n=name: established(n), timeout, f"CRD {name} to be Established")
    if names:
        kube.dynamic.resources.invalidate_cache()
    return names


# Kinds `render_kustomization` leaves without a namespace, and the kustomization fields it knows.
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "GatewayClass", "PriorityClass", "StorageClass",
}
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources"}


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """`kustomize build` for the only features our kustomizations use: resources + namespace."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text()) or {}
    unsupported = set(spec) - KUSTOMIZATION_FIELDS
    if unsupported:
        raise ValueError(f"{directory}: kustomization fields {sorted(unsupported)} need kustomize")
    docs: list[dict[str, Any]] = []
    for resource in spec.get("resources") or []:
        docs += load_manifests(directory / resource)
    namespace = spec.get("namespace")
    for doc in docs:
        if namespace and doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = namespace
    return docs
