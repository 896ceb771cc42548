"""Real traffic on a cluster with a data plane (the kind target).

Two jobs:

- send a webhook to an entry point of the cluster (a LoadBalancer address, the Ingress
  controller, the Gateway) with the Host header the guide's Ingress and HTTPRoute route on;
- probe one pod-to-pod connection from a short-lived client pod, to see NetworkPolicy at
  work: the pod runs ``curl --max-time`` once and its exit code tells whether it connected,
  timed out (the packets were dropped) or was refused. A connection that must fail is proven
  by that bounded timeout, never by a sleep.

Probe pods comply with the "restricted" Pod Security Standard; :func:`run_probe` deletes its
pod once the exit code is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests
from kubernetes.client.rest import ApiException

from harness import versions
from harness.kube import Kube, wait_until
from harness.senders.delivery import Delivery

RECEIVER_NAMESPACE = "flux-system"  # where the kind target (and `flux install`) runs it
RECEIVER_SELECTOR = "app=notification-controller"
SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
CONNECT_TIMEOUT = 3  # seconds a probe waits for a connection
POD_DEADLINE = 120.0  # seconds a probe pod may take, image pull included
NOBODY = 65534
PULL_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})


class Outcome(Enum):
    """What one connection attempt came to."""

    CONNECTED = "connected"
    TIMED_OUT = "timed out"
    REFUSED = "refused"
    FAILED = "failed otherwise"


CURL_OUTCOMES = {0: Outcome.CONNECTED, 7: Outcome.REFUSED, 28: Outcome.TIMED_OUT}


@dataclass(frozen=True)
class Probe:
    """The result of one probe pod."""

    namespace: str
    address: str
    port: int
    exit_code: int

    @property
    def outcome(self) -> Outcome:
        return CURL_OUTCOMES.get(self.exit_code, Outcome.FAILED)

    def __str__(self) -> str:
        return (f"from {self.namespace} to {self.address}:{self.port}: {self.outcome.value} "
                f"(curl exit {self.exit_code}, --max-time {CONNECT_TIMEOUT})")


class ProbeError(AssertionError):
    """A probe pod did not run to its end: no verdict about the connection."""


# -- webhooks through an entry point ------------------------------------------------------


def send_via(base_url: str, path: str, delivery: Delivery, host: str | None = None,
             timeout: float = 10) -> requests.Response:
    """POST `delivery` to `base_url` + `path`, naming `host` in the Host header if given."""
    if not path.startswith("/"):
        raise ValueError("the path must start with '/'")
    headers = dict(delivery.headers)
    if host:
        headers["Host"] = host
    return requests.post(base_url.rstrip("/") + path, data=delivery.body, headers=headers,
                         timeout=timeout, allow_redirects=False)


def load_balancer_url(kube: Kube, namespace: str, service: str) -> str:
    """The http:// address the cloud gave the LoadBalancer Service, read from its status."""
    obj = kube.core.read_namespaced_service(service, namespace)
    ingress = (obj.status.load_balancer.ingress if obj.status.load_balancer else None) or []
    for entry in ingress:
        if entry.ip or entry.hostname:
            return f"http://{_host(entry.ip or entry.hostname)}"
    raise AssertionError(f"the Service {namespace}/{service} has no LoadBalancer address")


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# -- pods ---------------------------------------------------------------------------------


def _restricted() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True}


def _pod(name: str, labels: dict[str, str], container: dict[str, Any],
         restart: str) -> dict[str, Any]:
    container = {**container, "securityContext": _restricted(),
                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                               "limits": {"cpu": "100m", "memory": "32Mi"}}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of":
                                                  "receiver-conformance", **labels}},
        "spec": {
            "restartPolicy": restart,
            "automountServiceAccountToken": False,
            "activeDeadlineSeconds": int(POD_DEADLINE),
            "terminationGracePeriodSeconds": 0,
            "securityContext": {"runAsNonRoot": True, "runAsUser": NOBODY,
                                "runAsGroup": NOBODY,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
        },
    }


def probe_pod(name: str, address: str, port: int) -> dict[str, Any]:
    """A pod that tries one HTTP connection to `address`:`port` and exits with curl's code."""
    url = f"http://{_host(address)}:{port}/"
    return _pod(name, {"app": "traffic-probe"}, {
        "name": "probe", "image": versions.PROBE_IMAGE,
        "command": ["curl", "--silent", "--output", "/dev/null",
                    "--max-time", str(CONNECT_TIMEOUT), url],
    }, restart="Never")


def solver_pod(name: str, port: int = 8089) -> dict[str, Any]:
    """A pod labelled as cert-manager's HTTP-01 solver, answering HTTP on `port`."""
    pod = _pod(name, SOLVER_LABELS, {
        "name": "acmesolver", "image": versions.SOLVER_IMAGE,
        "command": ["httpd", "-f", "-p", str(port), "-h", "/tmp"],
        "ports": [{"name": "http", "containerPort": port}],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    }, restart="Always")
    del pod["spec"]["activeDeadlineSeconds"]  # it serves until the scenario deletes it
    return pod


def fresh_namespace(kube: Kube, name: str, labels: dict[str, str] | None = None,
                    timeout: float = 30.0) -> None:
    """Create a namespace and wait for its default ServiceAccount, which pods need."""
    kube.create_namespace(name, labels)

    def has_default_account() -> bool:
        try:
            kube.core.read_namespaced_service_account("default", name)
        except ApiException as err:
            if err.status != 404:
                raise
            return False
        return True

    wait_until(has_default_account, timeout, f"namespace {name} to get its default account")


def create_pod(kube: Kube, namespace: str, pod: dict[str, Any]) -> None:
    kube.core.create_namespaced_pod(namespace, pod)


def delete_pod(kube: Kube, namespace: str, name: str) -> None:
    """Delete a pod now; one already gone is fine."""
    try:
        kube.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except ApiException as err:
        if err.status != 404:
            raise


def _pull_failure(pod: Any) -> str | None:
    for status in (pod.status.container_statuses or []):
        waiting = status.state.waiting if status.state else None
        if waiting and waiting.reason in PULL_FAILURES:
            return f"{waiting.reason}: {waiting.message or status.image}"
    return None


def _describe(kube: Kube, namespace: str, name: str) -> str:
    try:
        pod = kube.core.read_namespaced_pod(name, namespace)
    except ApiException as err:
        return f"pod unreadable: HTTP {err.status}"
    return f"phase {pod.status.phase}; {pod.status.container_statuses or 'no container status'}"


def wait_ready(kube: Kube, namespace: str, name: str, timeout: float = POD_DEADLINE) -> str:
    """Wait until the pod is Ready; return its IP."""

    def ready() -> str | None:
        pod = kube.core.read_namespaced_pod(name, namespace)
        if failure := _pull_failure(pod):
            raise ProbeError(f"pod {namespace}/{name} cannot start: {failure}")
        conditions = pod.status.conditions or []
        if any(c.type == "Ready" and c.status == "True" for c in conditions):
            return pod.status.pod_ip
        return None

    return wait_until(ready, timeout, f"pod {namespace}/{name} to be Ready", interval=0.5,
                      describe=lambda: _describe(kube, namespace, name))


def pod_addresses(kube: Kube, namespace: str, selector: str) -> list[str]:
    """The IPs of the running pods matching the label `selector`."""
    pods = kube.core.list_namespaced_pod(namespace, label_selector=selector).items
    return [p.status.pod_ip for p in pods if p.status.phase == "Running" and p.status.pod_ip]


def run_probe(kube: Kube, namespace: str, name: str, address: str, port: int,
              timeout: float = POD_DEADLINE) -> Probe:
    """Run a probe pod in `namespace` against `address`:`port`, read its exit code, delete it."""
    create_pod(kube, namespace, probe_pod(name, address, port))
    try:
        def finished() -> int | None:
            pod = kube.core.read_namespaced_pod(name, namespace)
            if failure := _pull_failure(pod):
                raise ProbeError(f"probe pod {namespace}/{name} cannot start: {failure}")
            for status in (pod.status.container_statuses or []):
                done = status.state.terminated if status.state else None
                if done is not None:
                    return done.exit_code + 1  # 0 is a result, not "not yet"
            if pod.status.phase == "Failed":  # e.g. activeDeadlineSeconds hit
                raise ProbeError(f"probe pod {namespace}/{name} failed: {pod.status.reason}")
            return None

        code = wait_until(finished, timeout, f"probe pod {namespace}/{name} to finish",
                          interval=0.5, describe=lambda: _describe(kube, namespace, name)) - 1
    finally:
        delete_pod(kube, namespace, name)
    return Probe(namespace, address, port, code)
