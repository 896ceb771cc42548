"""Real traffic on a cluster with a data plane (the kind target).

Two jobs:

- send a webhook to an entry point of the cluster (a LoadBalancer address, the Ingress
  controller, the Gateway) with the Host header the guide's Ingress and HTTPRoute route on;
- probe one pod-to-pod connection from a short-lived client pod, to see NetworkPolicy at
  work: the pod runs ``curl --max-time`` once and its exit code tells whether it connected,
  timed out (the packets were dropped) or was refused. A connection that must fail is proven
  by that bounded timeout, never by a sleep. On a target without a registry (the node target)
  the target names a local busybox image (``Target.probe_image``): the probe is then busybox's
  ``nc -w`` with the same bound, its result reported in curl's exit codes.

Probe pods comply with the "restricted" Pod Security Standard; :func:`run_probe` deletes its
pod once the exit code is read. :class:`Traffic` does both for one scenario: the receiver and
the guide's exposure objects and policies live in flux-system, set up by the target
(receiver_conformance/targets/kind.py); probe pods run in namespaces the scenario creates, and a policy
the scenario lifts is put back when it ends.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import requests
from kubernetes.client.rest import ApiException

from receiver_conformance import senders, versions
from receiver_conformance.exposure import FLUX_POLICIES, POLICY_API
from receiver_conformance.kube import Kube, Timeout, wait_until
from receiver_conformance.scenario import Scenario
from receiver_conformance.senders.delivery import Delivery

RECEIVER_NAMESPACE = "flux-system"  # where the kind target (and `flux install`) runs it
RECEIVER_SELECTOR = "app=notification-controller"
RECEIVER_LABELS = {"app": "notification-controller"}
SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
CONNECT_TIMEOUT = 3  # seconds a probe waits for a connection
POD_DEADLINE = 120.0  # seconds a probe pod may take, image pull included
NOBODY = 65534
PULL_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
SETTLE = 45.0  # seconds a changed policy may take to reach the data plane
ENTRY_DETAILS = {"Ingress": "ingress_url", "HTTPRoute": "gateway_url"}  # Target.details keys
STATUS_LINE = re.compile(r"HTTP/1\.[01] (\d{3})")
OUTSIDE_POLICY = "allow-webhooks-from-outside"  # what users add (fluxcd/website#359)


class Outcome(Enum):
    """What one connection attempt came to."""

    CONNECTED = "connected"
    TIMED_OUT = "timed out"
    REFUSED = "refused"
    FAILED = "failed otherwise"


CURL_OUTCOMES = {0: Outcome.CONNECTED, 7: Outcome.REFUSED, 28: Outcome.TIMED_OUT}
# busybox's nc has no curl: one connection attempt bounded by -w, and on success a no-op
# program run on the connection (-e true), so nc exits at once. Its messages are turned into
# curl's exit codes (refused 7, timed out 28); anything else is printed and exits 1.
NC_PROBE = """out=$(nc -w {timeout} {address} {port} -e true 2>&1) && exit 0
case "$out" in
  *refused*) exit 7 ;;
  *"timed out"*) exit 28 ;;
  *) echo "$out"; exit 1 ;;
esac"""


@dataclass(frozen=True)
class Probe:
    """The result of one probe pod."""

    namespace: str
    address: str
    port: int
    exit_code: int
    client: str = "curl"  # or "nc": busybox's, its result in curl's exit codes

    @property
    def outcome(self) -> Outcome:
        return CURL_OUTCOMES.get(self.exit_code, Outcome.FAILED)

    def __str__(self) -> str:
        bound = (f"--max-time {CONNECT_TIMEOUT}" if self.client == "curl"
                 else f"nc -w {CONNECT_TIMEOUT}, in curl's exit codes")
        return (f"from {self.namespace} to {self.address}:{self.port}: {self.outcome.value} "
                f"({self.client} exit {self.exit_code}, {bound})")


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


def probe_pod(name: str, address: str, port: int,
              busybox: str | None = None) -> dict[str, Any]:
    """A pod that tries one HTTP connection to `address`:`port` and exits with curl's code:
    curl from the pinned image, or busybox's nc from the image `busybox` when given."""
    if busybox:
        script = NC_PROBE.format(timeout=CONNECT_TIMEOUT, address=address, port=port)
        container = {"name": "probe", "image": busybox, "command": ["sh", "-c", script]}
    else:
        url = f"http://{_host(address)}:{port}/"
        container = {"name": "probe", "image": versions.PROBE_IMAGE,
                     "command": ["curl", "--silent", "--output", "/dev/null",
                                 "--max-time", str(CONNECT_TIMEOUT), url]}
    return _pod(name, {"app": "traffic-probe"}, container, restart="Never")


def solver_pod(name: str, port: int = 8089, busybox: str | None = None) -> dict[str, Any]:
    """A pod labelled as cert-manager's HTTP-01 solver, answering HTTP on `port` (busybox's
    httpd, from the pinned image or from `busybox`)."""
    pod = _pod(name, SOLVER_LABELS, {
        "name": "acmesolver", "image": busybox or versions.SOLVER_IMAGE,
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


def run_to_end(kube: Kube, namespace: str, pod: dict[str, Any],
               timeout: float = POD_DEADLINE, read_log: bool = False) -> tuple[int, str]:
    """Run a one-shot pod in `namespace` until its container exits; its exit code and, with
    `read_log`, its log (else ""). The pod is deleted afterwards."""
    name = pod["metadata"]["name"]
    create_pod(kube, namespace, pod)
    try:
        def finished() -> int | None:
            obj = kube.core.read_namespaced_pod(name, namespace)
            if failure := _pull_failure(obj):
                raise ProbeError(f"pod {namespace}/{name} cannot start: {failure}")
            for status in (obj.status.container_statuses or []):
                done = status.state.terminated if status.state else None
                if done is not None:
                    return done.exit_code + 1  # 0 is a result, not "not yet"
            if obj.status.phase == "Failed":  # e.g. activeDeadlineSeconds hit
                raise ProbeError(f"pod {namespace}/{name} failed: {obj.status.reason}")
            return None

        code = wait_until(finished, timeout, f"pod {namespace}/{name} to finish",
                          interval=0.5, describe=lambda: _describe(kube, namespace, name)) - 1
        log = kube.core.read_namespaced_pod_log(name, namespace) if read_log else ""
    finally:
        delete_pod(kube, namespace, name)
    return code, log


def run_probe(kube: Kube, namespace: str, name: str, address: str, port: int,
              timeout: float = POD_DEADLINE, busybox: str | None = None) -> Probe:
    """Run a probe pod in `namespace` against `address`:`port`, read its exit code, delete it
    (`busybox`: the image of a busybox probe, see `probe_pod`)."""
    code, _ = run_to_end(kube, namespace, probe_pod(name, address, port, busybox), timeout)
    return Probe(namespace, address, port, code, "nc" if busybox else "curl")


def client_pod(name: str, url: str, delivery: Delivery, host: str | None,
               busybox: str | None = None) -> dict[str, Any]:
    """A pod that POSTs `delivery` to `url` once (naming `host` in the Host header if given),
    gives up after CONNECT_TIMEOUT seconds, and prints the answer's status line
    "HTTP/1.1 <code>": curl from the pinned image, or busybox's wget from `busybox`."""
    headers = {**delivery.headers, **({"Host": host} if host else {})}
    flags = " ".join(f"--header {shlex.quote(f'{k}: {v}')}" for k, v in headers.items())
    if busybox:  # wget -S prints the status line, or "server returned error: HTTP/1.1 <code>"
        # (busybox 1.35's wget -T crashes: the bound is timeout's). Not the script's last
        # command: sh would exec it, busybox's timeout execs wget in its own place, and wget,
        # the container's PID 1, would ignore timeout's SIGTERM.
        script = (f'timeout {CONNECT_TIMEOUT} wget -S -O /dev/null {flags} '
                  f'--post-data "$BODY" "$URL" 2>&1; exit $?')
        image = busybox
    else:
        script = (f"curl --silent --output /dev/null --max-time {CONNECT_TIMEOUT} "
                  f"--write-out 'HTTP/1.1 %{{http_code}}\\n' {flags.replace('--header', '-H')} "
                  f'--data-binary "$BODY" "$URL"')
        image = versions.PROBE_IMAGE
    return _pod(name, {"app": "traffic-client"}, {
        "name": "client", "image": image, "command": ["sh", "-c", script],
        "env": [{"name": "BODY", "value": delivery.body.decode()},
                {"name": "URL", "value": url}],
    }, restart="Never")


def answer_of(log: str) -> requests.Response | None:
    """The answer a client pod printed (its status, as a Response), or None: no answer."""
    found = STATUS_LINE.search(log)
    if not found or found.group(1) == "000":  # curl's code when nothing answered
        return None
    answer = requests.Response()
    answer.status_code = int(found.group(1))
    answer._content = b""  # the client pod keeps no body
    return answer


# -- one scenario's traffic ---------------------------------------------------------------


@dataclass
class Traffic:
    """What a traffic scenario created outside its own namespace, to undo at the end."""

    scenario: Scenario
    namespaces: list[str] = field(default_factory=list)
    pods: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)
    lifted: dict[str, dict[str, Any]] = field(default_factory=dict)  # policy name -> object
    added: list[str] = field(default_factory=list)  # policies it added, deleted at the end
    solver: str | None = None  # the solver pod's IP

    @property
    def kube(self) -> Kube:
        return self.scenario.kube

    @property
    def busybox(self) -> str | None:
        """The target's local busybox image for probe and solver pods, if it names one."""
        return self.scenario.target.probe_image

    def close(self) -> None:
        """Put back every lifted policy; delete the scenario's pods and namespaces."""
        for name in self.added:
            with contextlib.suppress(ApiException):
                self.kube.resource(POLICY_API, "NetworkPolicy").delete(
                    name=name, namespace=RECEIVER_NAMESPACE)
        for name in list(self.lifted):
            self.restore(name)
        for namespace, pod in self.pods:
            delete_pod(self.kube, namespace, pod)
        for namespace in self.namespaces:
            self.kube.delete_namespace(namespace)

    # -- webhooks through an entry point --------------------------------------------------

    def entry_point(self, entry: str, name: str | None) -> tuple[str, str | None]:
        """The base URL and Host header of an entry point ("LoadBalancer Service" `name`, or
        the "Ingress"/"HTTPRoute" for the host `name`)."""
        if entry == "LoadBalancer Service":
            return load_balancer_url(self.kube, RECEIVER_NAMESPACE, name or "receiver"), None
        target = self.scenario.target
        url = target.details.get(ENTRY_DETAILS[entry])
        if not url:
            raise AssertionError(f"target {target.name} names no {ENTRY_DETAILS[entry]}")
        return url, name

    def deliver(self, entry: str, name: str | None, sender_type: str, origin: str,
                **context: Any) -> requests.Response | None:
        """Send a valid webhook of `sender_type` to the scenario's Receiver through the entry
        point, after a snapshot of the sources, from `origin`: "a pod" (a client pod in a
        fresh namespace) or "outside the cluster" (this process). Keep the answer as the
        scenario's response; None when none came within CONNECT_TIMEOUT seconds."""
        scenario = self.scenario
        base_url, host = self.entry_point(entry, name)
        path = scenario.webhook_path()
        delivery = senders.delivery(sender_type, "valid", scenario.token, **context)
        scenario.snapshot()
        scenario.evidence(f"request sent from {origin} through the {entry}",
                          f"POST {base_url}{senders.short_path(path)} Host: {host or '(as URL)'}\n"
                          f"{delivery.describe()}")
        if origin == "a pod":
            pod = client_pod(f"client-{uuid.uuid4().hex[:6]}", base_url.rstrip("/") + path,
                             delivery, host, self.busybox)
            code, log = run_to_end(self.kube, self.namespace(), pod, read_log=True)
            scenario.response = answer_of(log)
            shown = log.replace(path, senders.short_path(path))[-2000:]
            scenario.evidence("client pod", f"exit {code}\n{shown}")
        else:
            try:
                scenario.response = send_via(base_url, path, delivery, host,
                                             timeout=CONNECT_TIMEOUT)
            except requests.RequestException as err:
                scenario.evidence("no answer", f"{type(err).__name__}: {err}")
                scenario.response = None
        if scenario.response is not None:
            scenario.evidence("response observed", {"status": scenario.response.status_code,
                                                    "body": scenario.response.text[:2000]})
        return scenario.response

    # -- a policy for sources outside the cluster -----------------------------------------

    def only_flux_policies(self) -> None:
        """Lift every policy of the receiver's namespace that is not one of Flux's and selects
        the receiver's pods (e.g. a target's own), so that only Flux's admit traffic to them."""
        for policy in self.kube.resource(POLICY_API, "NetworkPolicy").get(
                namespace=RECEIVER_NAMESPACE).to_dict()["items"]:
            name = policy["metadata"]["name"]
            wanted = (policy["spec"].get("podSelector") or {}).get("matchLabels") or {}
            if name not in FLUX_POLICIES and wanted.items() <= RECEIVER_LABELS.items():
                self.lift(name)

    def admit_outside(self, port: int) -> None:
        """Add the policy users add for sources outside the cluster: every source, to the
        receiver's pods on TCP `port`. It is deleted when the scenario ends."""
        self.kube.apply({
            "apiVersion": POLICY_API, "kind": "NetworkPolicy",
            "metadata": {"name": OUTSIDE_POLICY, "namespace": RECEIVER_NAMESPACE},
            "spec": {"podSelector": {"matchLabels": dict(RECEIVER_LABELS)},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"protocol": "TCP", "port": port}]}]},
        }, RECEIVER_NAMESPACE)
        self.added.append(OUTSIDE_POLICY)
        address = load_balancer_url(self.kube, RECEIVER_NAMESPACE, "receiver")
        host = address.removeprefix("http://").strip("[]")

        def connects() -> bool:
            try:
                socket.create_connection((host, 80), timeout=1).close()
            except OSError:
                return False
            return True

        wait_until(connects, SETTLE, f"the policy {OUTSIDE_POLICY} to let this host connect "
                   f"to {address}")

    # -- policies in the receiver's namespace ---------------------------------------------

    def policy(self, name: str) -> dict[str, Any] | None:
        return self.kube.get(POLICY_API, "NetworkPolicy", name, RECEIVER_NAMESPACE)

    def standing_policy(self, name: str) -> dict[str, Any]:
        """The NetworkPolicy `name` in the receiver's namespace; it must exist."""
        policy = self.policy(name)
        if not policy:
            raise AssertionError(f"the NetworkPolicy {RECEIVER_NAMESPACE}/{name} does not exist")
        return policy

    def lift(self, name: str) -> None:
        """Delete the policy `name`, keeping it to put back."""
        policy = self.standing_policy(name)
        meta = policy["metadata"]
        self.lifted[name] = {
            "apiVersion": POLICY_API, "kind": "NetworkPolicy", "spec": policy["spec"],
            "metadata": {k: meta[k] for k in ("name", "namespace", "labels", "annotations")
                         if meta.get(k)},
        }
        self.kube.resource(POLICY_API, "NetworkPolicy").delete(name=name,
                                                               namespace=RECEIVER_NAMESPACE)

    def restore(self, name: str) -> None:
        """Put back the lifted policy `name`."""
        self.kube.apply(self.lifted.pop(name), RECEIVER_NAMESPACE)

    # -- pods and probes ------------------------------------------------------------------

    def start_solver(self, port: int) -> None:
        """Run a cert-manager HTTP-01 solver pod on `port` in the receiver's namespace; wait
        until it is Ready."""
        name = f"cm-acme-http-solver-{uuid.uuid4().hex[:5]}"
        create_pod(self.kube, RECEIVER_NAMESPACE, solver_pod(name, port, self.busybox))
        self.pods.append((RECEIVER_NAMESPACE, name))
        self.solver = wait_ready(self.kube, RECEIVER_NAMESPACE, name)

    def address(self, role: str) -> str:
        """The IP of the "solver pod" or of one of the "receiver pods"."""
        if role == "solver pod":
            if not self.solver:
                raise AssertionError("the scenario has no solver pod")
            return self.solver
        addresses = pod_addresses(self.kube, RECEIVER_NAMESPACE, RECEIVER_SELECTOR)
        if not addresses:
            raise AssertionError(f"no running pod {RECEIVER_SELECTOR} in {RECEIVER_NAMESPACE}")
        return addresses[0]

    def namespace(self, labels: dict[str, str] | None = None) -> str:
        """A fresh namespace with `labels`, deleted when the scenario ends."""
        name = f"{self.scenario.namespace}-p{len(self.namespaces)}"
        fresh_namespace(self.kube, name, labels)
        self.namespaces.append(name)
        return name

    def probe_namespace(self, where: str, labels: str | None = None) -> str:
        """The namespace a probe runs in: the receiver's, or a fresh one labelled "k=v"."""
        if where == "the receiver's namespace":
            return RECEIVER_NAMESPACE
        if labels:
            key, _, value = labels.partition("=")
            return self.namespace({key: value})
        return self.namespace()

    def probe_until(self, namespace: str, address: str, port: int, expected: Outcome,
                    settle: float = SETTLE) -> list[Probe]:
        """Probe until two probes in a row come to `expected`. Every probe is bounded by curl's
        --max-time; the `settle` window for a changed policy to reach the data plane opens
        after the first probe, whose pod may have waited for its image."""
        probes: list[Probe] = []

        def twice_expected() -> bool:
            probe = run_probe(self.kube, namespace, f"probe-{uuid.uuid4().hex[:6]}",
                              address, port, busybox=self.busybox)
            probes.append(probe)
            self.scenario.evidence("probe", str(probe))
            return len(probes) >= 2 and probes[-1].outcome == probes[-2].outcome == expected

        twice_expected()
        try:
            wait_until(twice_expected, settle, f"two probes in a row to be {expected.value}",
                       describe=lambda: str(probes[-1]))
        except Timeout as err:
            raise AssertionError(f"expected {expected.value}, got "
                                 f"{[p.outcome.value for p in probes]}: {err}") from None
        return probes
