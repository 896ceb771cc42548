"""Any implementation already running somewhere: a kubeconfig plus the receiver's URL.

Nothing is assumed about how it was installed. The suite creates a namespace per scenario
unless a namespace to work in is given; then it creates its objects there under the guide's
names and deletes them afterwards.

Capabilities come from two places: those declared (`--capability`, `RC_CAPABILITIES`), taken
on trust, and those probed cheaply here: the exposure kinds by API discovery, kubectl on PATH,
the receiver's Deployment and Service by the guide's labels and names, and a source controller
by a throwaway GitRepository whose reconcile request must be acknowledged in its status.
What cannot be probed honestly (traffic, policy enforcement, gcr test keys,
no-cross-namespace-refs) is only ever declared. Given the file the receiver writes its log to
(`--receiver-log`), the suite reads it: that is the capability receiver-log.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance.capabilities import parse_capabilities
from receiver_conformance.kube import Kube, api_client, wait_until
from receiver_conformance.senders.gcr import TestGoogleIssuer
from receiver_conformance.targets.base import (
    RECEIVER_POD_LABELS,
    RECEIVER_SERVICE,
    LogFile,
    Target,
)
from receiver_conformance.targets.preflight import Unreachable, check_external

EXPOSURE_KINDS = (
    ("networking.k8s.io/v1", "Ingress"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
)
RECEIVER_NAMESPACE = "flux-system"  # where the guide's receiver runs
GIT_API = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
SOURCE_PROBE_TIMEOUT = 5.0  # a source controller acknowledges in well under a second


def _serves(kube: Kube, api_version: str, kind: str) -> bool:
    """Whether the API server serves `kind` (API discovery)."""
    try:
        kube.resource(api_version, kind)
    except Exception:  # the dynamic client raises ResourceNotFoundError, or a discovery error
        return False
    return True


def has_deployed_receiver(kube: Kube, namespace: str) -> bool:
    """Whether `namespace` holds the guide's receiver: the Service webhook-receiver and a
    Deployment whose pods carry app: notification-controller."""
    try:
        kube.core.read_namespaced_service(RECEIVER_SERVICE, namespace)
        deployments = client.AppsV1Api(kube.api).list_namespaced_deployment(namespace).items
    except ApiException:
        return False
    return any(
        RECEIVER_POD_LABELS.items() <= (d.spec.template.metadata.labels or {}).items()
        for d in deployments
    )


def has_source_controller(kube: Kube, namespace: str | None,
                          timeout: float = SOURCE_PROBE_TIMEOUT) -> bool:
    """Create a throwaway GitRepository with a reconcile request and wait (up to `timeout`)
    for status.lastHandledReconcileAt to echo it; delete it (and its namespace) after."""
    probe_ns = namespace or f"rc-probe-{uuid.uuid4().hex[:6]}"
    name = f"rc-probe-{uuid.uuid4().hex[:6]}"
    stamp = f"rc-probe-{uuid.uuid4().hex}"
    body = {"apiVersion": "/".join(GIT_API[:2]), "kind": "GitRepository",
            "metadata": {"name": name, "annotations": {REQUESTED_AT: stamp}},
            "spec": {"interval": "60m", "url": "https://127.0.0.1:9/probe.git",
                     "ref": {"branch": "main"}}}
    custom = client.CustomObjectsApi(kube.api)
    try:
        if namespace is None:
            kube.create_namespace(probe_ns)
        custom.create_namespaced_custom_object(*GIT_API[:2], probe_ns, GIT_API[2], body)
    except ApiException:
        if namespace is None:
            kube.delete_namespace(probe_ns)
        return False  # no GitRepository kind, or no right to create one: not provable

    def acknowledged() -> bool:
        obj = custom.get_namespaced_custom_object(*GIT_API[:2], probe_ns, GIT_API[2], name)
        return (obj.get("status") or {}).get("lastHandledReconcileAt") == stamp

    try:
        wait_until(acknowledged, timeout, "a source controller to handle the probe")
        return True
    except AssertionError:
        return False
    finally:
        with contextlib.suppress(ApiException):
            custom.delete_namespaced_custom_object(*GIT_API[:2], probe_ns, GIT_API[2], name)
        if namespace is None:
            kube.delete_namespace(probe_ns)


def external_target(
    kubeconfig: str | None, receiver_url: str | None, namespace: str | None,
    declared: Iterable[str] = (), receiver_namespace: str = RECEIVER_NAMESPACE,
    probe: bool = True, receiver_log: str | None = None, metrics_url: str | None = None,
    gcr_keys: Path | None = None, disposable: bool = False,
) -> Target:
    """Check that the target answers, then describe what it can do: what was declared (each
    name checked, else UnknownCapability) plus, unless `probe` is false, what the probes of
    a deployed receiver and a source controller find, plus receiver-log when the receiver's
    log file is given (it must exist). A `disposable` cluster keeps the scenarios'
    namespaces: it is thrown away after the run."""
    capabilities = set(parse_capabilities(declared))
    log_file = Path(receiver_log).expanduser() if receiver_log else None
    if log_file is not None:
        if not log_file.is_file():
            raise Unreachable(f"--receiver-log {log_file}: no such file")
        capabilities.add("receiver-log")
    elif "receiver-log" in capabilities:
        raise Unreachable("receiver-log is declared, but no --receiver-log FILE to read")
    if metrics_url:
        capabilities.add("receiver-metrics")
    elif "receiver-metrics" in capabilities:
        raise Unreachable("receiver-metrics is declared, but no --metrics-url to scrape")
    issuer = None
    if gcr_keys is not None:
        try:
            issuer = TestGoogleIssuer.load(gcr_keys)
        except ValueError as exc:
            raise Unreachable(f"--gcr-keys: {exc}") from None
        capabilities.add("gcr-test-keys")
    elif "gcr-test-keys" in capabilities:
        raise Unreachable("gcr-test-keys is declared, but no --gcr-keys DIR: the receiver "
                          "must trust keys the suite holds ('receiver-conformance gcr-keys')")
    path = Path(kubeconfig).expanduser() if kubeconfig else None
    check_external(path, receiver_url, namespace)
    assert path is not None and receiver_url is not None
    capabilities.add("api")
    if namespace is None:
        capabilities.add("fresh-namespaces")
    with api_client(path) as api:
        kube = Kube(api)
        if all(_serves(kube, *kind) for kind in EXPOSURE_KINDS):
            capabilities.add("exposure-objects")
        if probe and "deployed-receiver" not in capabilities and has_deployed_receiver(
                kube, receiver_namespace):
            capabilities.add("deployed-receiver")
        if probe and "source-controller" not in capabilities and has_source_controller(
                kube, namespace):
            capabilities.add("source-controller")
    kubectl = shutil.which("kubectl")
    if kubectl:
        capabilities.add("kubectl")
    return Target(
        name="external",
        kubeconfig=path,
        receiver_url=receiver_url.rstrip("/"),
        capabilities=frozenset(capabilities),
        namespace=namespace,
        details={"receiver": receiver_url, "namespace": namespace or "(one per scenario)",
                 "receiver namespace": receiver_namespace,
                 "receiver log": str(log_file) if log_file else "(not read)",
                 "metrics": metrics_url or "(not scraped)",
                 "gcr test keys": str(gcr_keys) if gcr_keys else "(none)",
                 "scenario namespaces": "left to the disposable cluster" if disposable
                 else "deleted"},
        log_tail=LogFile(log_file) if log_file else None,
        kubectl=Path(kubectl) if kubectl else None,
        receiver_namespace=receiver_namespace,
        metrics_url=metrics_url,
        google_issuer=issuer,
        disposable=disposable,
    )


__all__ = ["Unreachable", "external_target"]
