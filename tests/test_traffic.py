"""receiver_conformance/traffic.py and the traffic scenarios, as far as this machine can run them.

Without a data plane here, the API-server parts run against the embedded control plane, the
test standing in for the kubelet where a pod would have to run; the scenarios themselves must
be skipped on the embedded target, naming the capability it lacks.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException
from pytest_bdd.feature import get_feature
from pytest_bdd.steps import step_function_context_registry

import receiver_conformance.steps.conftest
import receiver_conformance.traffic
from receiver_conformance.invocation import pytest_argv
from receiver_conformance.kube import Kube, Timeout, wait_until
from receiver_conformance.paths import FEATURES
from receiver_conformance.scenario import Scenario
from receiver_conformance.senders import Delivery
from receiver_conformance.targets.base import Target
from receiver_conformance.traffic import (
    CONNECT_TIMEOUT,
    SOLVER_LABELS,
    Outcome,
    Probe,
    ProbeError,
    Traffic,
    answer_of,
    client_pod,
    fresh_namespace,
    load_balancer_url,
    pod_addresses,
    probe_pod,
    run_probe,
    send_via,
    solver_pod,
)
from tests.checkout import REPO_ROOT

FEATURE = "09_traffic.feature"
DELIVERY = Delivery("github", "valid", {"Content-Type": "application/json",
                                        "X-GitHub-Event": "push"}, b'{"ref":"refs/heads/main"}')


# -- a webhook through an entry point, against a real local HTTP server ------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append({"path": self.path, "host": self.headers["Host"], "body": body,
                          "event": self.headers["X-GitHub-Event"]})
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def entry_point() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("host", ["webhook-receiver.example.com", "elsewhere.example.com", None])
def test_send_via_names_the_host(entry_point: tuple[str, list], host: str | None) -> None:
    url, seen = entry_point
    response = send_via(url + "/", "/hook/abc", DELIVERY, host)
    assert response.status_code == 202
    [request] = seen
    assert request["host"] == (host or url.removeprefix("http://"))
    assert request["path"] == "/hook/abc"
    assert request["body"] == DELIVERY.body
    assert request["event"] == "push"
    assert "Host" not in DELIVERY.headers  # the delivery itself is left as it was


@pytest.mark.parametrize(("log", "status"), [
    ("Connecting to 10.251.0.2:80\n  HTTP/1.1 200 OK\n  Content-Length: 0\n", 200),
    ("wget: server returned error: HTTP/1.1 404 Not Found\n", 404),
    ("HTTP/1.1 500\n", 500),  # curl's --write-out
    ("HTTP/1.1 000\n", None),  # curl: nothing answered
    ("Terminated\n", None),  # busybox timeout stopped wget
    ("", None),
])
def test_the_answer_a_client_pod_printed(log: str, status: int | None) -> None:
    answer = answer_of(log)
    assert (answer.status_code if answer is not None else None) == status


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="no busybox here")
@pytest.mark.parametrize("host", [None, "webhook-receiver.example.com"])
def test_the_busybox_client_posts_the_delivery_and_prints_the_status(
        entry_point: tuple[str, list[dict[str, Any]]], host: str | None) -> None:
    """The client pod's script, run by this host's busybox against a local server."""
    url, seen = entry_point
    pod = client_pod("client-1", f"{url}/hook/abc", DELIVERY, host, busybox="rc.local/bb:1")
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    done = subprocess.run(["/bin/busybox", *container["command"]], env=env,
                          capture_output=True, text=True, timeout=30)
    answer = answer_of(done.stdout + done.stderr)
    assert answer is not None and answer.status_code == 202, done.stdout + done.stderr
    assert seen == [{"path": "/hook/abc", "host": host or url.removeprefix("http://"),
                     "body": DELIVERY.body, "event": "push"}]


def test_send_via_wants_an_absolute_path() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        send_via("http://127.0.0.1:9", "hook/abc", DELIVERY)


# -- probe results and manifests ----------------------------------------------------------


@pytest.mark.parametrize(("exit_code", "outcome"), [
    (0, Outcome.CONNECTED), (28, Outcome.TIMED_OUT), (7, Outcome.REFUSED),
    (6, Outcome.FAILED), (1, Outcome.FAILED),
])
def test_probe_outcome_from_curl_exit_code(exit_code: int, outcome: Outcome) -> None:
    probe = Probe("ns", "10.244.0.7", 9292, exit_code)
    assert probe.outcome is outcome
    assert outcome.value in str(probe) and f"--max-time {CONNECT_TIMEOUT}" in str(probe)


@pytest.mark.parametrize(("address", "url"), [
    ("10.244.0.7", "http://10.244.0.7:9292/"),
    ("fd00:10:244::7", "http://[fd00:10:244::7]:9292/"),
])
def test_probe_pod_makes_one_bounded_attempt(address: str, url: str) -> None:
    pod = probe_pod("probe-1", address, 9292)
    [container] = pod["spec"]["containers"]
    command = container["command"]
    assert command[0] == "curl" and command[-1] == url
    assert command[command.index("--max-time") + 1] == str(CONNECT_TIMEOUT)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["activeDeadlineSeconds"] > CONNECT_TIMEOUT


def test_solver_pod_is_labelled_as_cert_managers() -> None:
    pod = solver_pod("solver", 8089)
    assert SOLVER_LABELS.items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8089}]
    assert "8089" in container["command"]


# -- against the embedded API server ------------------------------------------------------

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


@pytest.fixture
def pod_namespace(kube: Kube, namespace: str) -> str:
    """The test's namespace under the restricted Pod Security Standard, once the
    controller-manager has given it its default ServiceAccount."""
    kube.core.patch_namespace(namespace, {"metadata": {"labels": RESTRICTED}})
    fresh_namespace(kube, namespace)  # it exists already: this waits for the account
    return namespace


@pytest.mark.controlplane
@pytest.mark.parametrize("pod", [probe_pod("probe-1", "10.244.0.7", 9292),
                                 solver_pod("solver-1", 8089)], ids=["probe", "solver"])
def test_pods_pass_the_restricted_standard(kube: Kube, pod_namespace: str,
                                           pod: dict[str, Any]) -> None:
    stored = kube.apply(pod, pod_namespace, dry_run=True)
    assert stored["metadata"]["namespace"] == pod_namespace


@pytest.mark.controlplane
def test_a_root_pod_would_be_refused_there(kube: Kube, pod_namespace: str) -> None:
    """The check above has teeth: the same namespace refuses a pod that may run as root."""
    pod = probe_pod("probe-root", "10.244.0.7", 9292)
    del pod["spec"]["securityContext"]["runAsNonRoot"]
    del pod["spec"]["securityContext"]["runAsUser"]
    with pytest.raises(ApiException) as refused:
        kube.apply(pod, pod_namespace, dry_run=True)
    assert refused.value.status == 403 and "runAsNonRoot" in refused.value.body


def _play_kubelet(kube: Kube, namespace: str, name: str, state: dict[str, Any]) -> None:
    """Give the pod the container state a kubelet would report, once the pod exists."""

    def exists() -> bool:
        try:
            kube.core.read_namespaced_pod(name, namespace)
        except ApiException:
            return False
        return True

    wait_until(exists, 10, f"pod {name} to be created")
    status = {"name": "probe", "image": "curl", "imageID": "", "ready": False,
              "restartCount": 0, "state": state}
    ended = state.get("terminated")
    phase = "Pending" if ended is None else "Failed" if ended["exitCode"] else "Succeeded"
    kube.core.patch_namespaced_pod_status(name, namespace, {"status": {
        "phase": phase, "containerStatuses": [status]}})


@pytest.mark.controlplane
@pytest.mark.parametrize("exit_code", [0, 28])
def test_run_probe_reads_the_exit_code_and_deletes_the_pod(
    kube: Kube, pod_namespace: str, exit_code: int
) -> None:
    state = {"terminated": {"exitCode": exit_code, "reason": "Completed"}}
    kubelet = threading.Thread(target=_play_kubelet,
                               args=(kube, pod_namespace, "probe-x", state))
    kubelet.start()
    probe = run_probe(kube, pod_namespace, "probe-x", "10.244.0.7", 9292, timeout=15)
    kubelet.join()
    assert probe == Probe(pod_namespace, "10.244.0.7", 9292, exit_code)
    assert kube.core.list_namespaced_pod(pod_namespace).items == []


@pytest.mark.controlplane
def test_run_probe_stops_at_an_image_that_cannot_be_pulled(kube: Kube,
                                                           pod_namespace: str) -> None:
    state = {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}
    kubelet = threading.Thread(target=_play_kubelet,
                               args=(kube, pod_namespace, "probe-y", state))
    kubelet.start()
    with pytest.raises(ProbeError, match="ImagePullBackOff"):
        run_probe(kube, pod_namespace, "probe-y", "10.244.0.7", 9292, timeout=15)
    kubelet.join()
    assert kube.core.list_namespaced_pod(pod_namespace).items == []


@pytest.mark.controlplane
def test_run_probe_gives_up_at_its_deadline(kube: Kube, pod_namespace: str) -> None:
    with pytest.raises(Timeout, match=r"pod .*probe-z to finish"):
        run_probe(kube, pod_namespace, "probe-z", "10.244.0.7", 9292, timeout=1)
    assert kube.core.list_namespaced_pod(pod_namespace).items == []


class Kubelet(threading.Thread):
    """Ends each probe pod created in a namespace with the next of the given curl exit codes,
    as a kubelet would report it."""

    def __init__(self, kube: Kube, namespace: str, exit_codes: list[int]) -> None:
        super().__init__(daemon=True)
        self.kube, self.namespace, self.exit_codes = kube, namespace, list(exit_codes)

    def run(self) -> None:
        stream = watch.Watch().stream(self.kube.core.list_namespaced_pod, self.namespace,
                                      timeout_seconds=30)
        for event in stream:
            if event["type"] == "ADDED" and self.exit_codes:
                state = {"terminated": {"exitCode": self.exit_codes.pop(0)}}
                _play_kubelet(self.kube, self.namespace, event["object"].metadata.name, state)
            if not self.exit_codes:
                return


@pytest.mark.controlplane
@pytest.mark.parametrize(("exit_codes", "expected", "seen"), [
    ([0, 28, 28], Outcome.TIMED_OUT, ["connected", "timed out", "timed out"]),
    ([28, 0, 0], Outcome.CONNECTED, ["timed out", "connected", "connected"]),
    ([0, 0], Outcome.CONNECTED, ["connected", "connected"]),
])
def test_probe_until_two_in_a_row(kube: Kube, control_plane: Any, pod_namespace: str,
                                  exit_codes: list[int], expected: Outcome,
                                  seen: list[str]) -> None:
    target = Target("embedded", control_plane.kubeconfig, "http://127.0.0.1:9")
    traffic = Traffic(Scenario(target, kube, pod_namespace))
    kubelet = Kubelet(kube, pod_namespace, exit_codes)
    kubelet.start()
    probes = traffic.probe_until(pod_namespace, "10.244.0.7", 9292, expected)
    kubelet.join()
    assert [p.outcome.value for p in probes] == seen


@pytest.mark.controlplane
def test_probe_until_fails_when_the_outcome_never_settles(
    kube: Kube, control_plane: Any, pod_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = Target("embedded", control_plane.kubeconfig, "http://127.0.0.1:9")
    traffic = Traffic(Scenario(target, kube, pod_namespace))
    kubelet = Kubelet(kube, pod_namespace, [0, 28])
    kubelet.start()
    with pytest.raises(AssertionError, match=r"expected timed out, got \['connected', 'timed"):
        traffic.probe_until(pod_namespace, "10.244.0.7", 9292, Outcome.TIMED_OUT, settle=0.1)
    kubelet.join()


@pytest.mark.controlplane
def test_pod_addresses_are_those_of_running_pods(kube: Kube, pod_namespace: str) -> None:
    for name, phase, ip in [("a", "Running", "10.244.0.5"), ("b", "Pending", "")]:
        pod = solver_pod(name)
        pod["metadata"]["labels"]["app"] = "notification-controller"
        kube.core.create_namespaced_pod(pod_namespace, pod)
        kube.core.patch_namespaced_pod_status(name, pod_namespace, {"status": {
            "phase": phase, **({"podIP": ip, "podIPs": [{"ip": ip}]} if ip else {})}})
    assert pod_addresses(kube, pod_namespace, "app=notification-controller") == ["10.244.0.5"]
    assert pod_addresses(kube, pod_namespace, "app=other") == []


@pytest.mark.controlplane
def test_load_balancer_url_is_read_from_the_service_status(kube: Kube, namespace: str) -> None:
    service = {"metadata": {"name": "receiver"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "notification-controller"},
        "ports": [{"port": 80, "targetPort": 9292}]}}
    kube.core.create_namespaced_service(namespace, service)
    with pytest.raises(AssertionError, match="has no LoadBalancer address"):
        load_balancer_url(kube, namespace, "receiver")
    kube.core.patch_namespaced_service_status("receiver", namespace, {"status": {
        "loadBalancer": {"ingress": [{"ip": "172.18.0.9", "ipMode": "VIP"}]}}})
    assert load_balancer_url(kube, namespace, "receiver") == "http://172.18.0.9"


@pytest.mark.controlplane
def test_fresh_namespace_waits_for_its_default_account(kube: Kube, namespace: str) -> None:
    name = f"{namespace}-p0"
    try:
        fresh_namespace(kube, name, {"team": "x"})
        # The controller-manager made the account; it was there when fresh_namespace returned.
        assert kube.core.read_namespaced_service_account("default", name).metadata.uid
        assert kube.core.read_namespace(name).metadata.labels["team"] == "x"
    finally:
        kube.delete_namespace(name)


@pytest.mark.controlplane
def test_fresh_namespace_gives_up_after_its_deadline(
    kube: Kube, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never_there(name: str, namespace: str) -> None:
        raise ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(kube.core, "read_namespaced_service_account", never_there)
    with pytest.raises(Timeout, match="default account"):
        fresh_namespace(kube, namespace, timeout=0.5)


# -- the scenarios ------------------------------------------------------------------------


def _pytest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*pytest_argv(), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def _steps() -> Iterator[tuple[str, str]]:
    """(type, text) of every step of the traffic scenarios, examples filled in."""
    feature = get_feature(str(FEATURES), FEATURE)
    for template in feature.scenarios.values():
        for examples in template.examples or [None]:
            for context in (examples.as_contexts() if examples else [{}]):
                for step in template.render(context).steps:
                    yield step.type, step.name


def test_every_step_binds_to_exactly_one_definition() -> None:
    definitions = list(step_function_context_registry.values())
    sentences = list(_steps())
    assert len(sentences) > 30 and all("<" not in text for _, text in sentences)
    for kind, text in sentences:
        matches = [d.step_func.__name__ for d in definitions
                   if d.type == kind and d.parser.is_matching(text)]
        assert len(matches) == 1, f"{kind} {text!r} matches {matches or 'no definition'}"


def test_an_undefined_step_would_be_noticed() -> None:
    """The check above has teeth: a sentence no definition reads matches nothing."""
    text = 'GitHub sends a signed "push" event through the Gateway "internet-gateway"'
    assert not any(d.parser.is_matching(text) for d in step_function_context_registry.values())


@pytest.mark.controlplane  # the embedded target starts its own control plane
def test_the_scenarios_are_skipped_on_the_embedded_target_with_the_reason() -> None:
    run = _pytest("-q", "-rs", "--target", "embedded",
                  "-k", "cap-traffic or cap-network-policy-enforcement")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert re.search(r"\b10 skipped\b", output) and " passed" not in output, output[-3000:]
    skips = {capability: int(count) for count, capability in re.findall(
        r"SKIPPED \[(\d+)\] .*target embedded lacks ([\w-]+) \(", output)}
    assert skips == {"traffic": 8, "network-policy-enforcement": 2}, output[-3000:]


@pytest.mark.controlplane
def test_only_flux_policies_are_left_for_the_receivers_pods_until_the_scenario_ends(
        kube: Kube, control_plane: Any, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver_conformance.traffic, "RECEIVER_NAMESPACE", namespace)
    selectors = {
        "allow-webhooks": {"matchLabels": {"app": "notification-controller"}},  # Flux's
        "allow-egress": {},  # Flux's
        "allow-webhooks-from-host": {"matchLabels": {"app": "notification-controller"}},
        "allow-everything": {},
        "allow-cert-manager-resolver": {
            "matchLabels": {"acme.cert-manager.io/http01-solver": "true"}},
    }
    for name, selector in selectors.items():
        kube.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"podSelector": selector, "policyTypes": ["Ingress"],
                             "ingress": [{}]}}, namespace)

    def standing() -> set[str]:
        items = kube.resource("networking.k8s.io/v1", "NetworkPolicy").get(
            namespace=namespace).to_dict()["items"]
        return {item["metadata"]["name"] for item in items}

    target = Target("embedded", control_plane.kubeconfig, "http://127.0.0.1:9")
    traffic = Traffic(Scenario(target, kube, namespace))
    traffic.only_flux_policies()
    assert standing() == {"allow-webhooks", "allow-egress", "allow-cert-manager-resolver"}
    traffic.close()
    assert standing() == set(selectors)


@pytest.mark.skipif(not Path("/bin/busybox").exists() or os.geteuid() != 0
                    or shutil.which("unshare") is None,
                    reason="needs busybox, root and unshare")
def test_the_busybox_client_gives_up_on_a_silent_server_as_a_pods_first_process() -> None:
    """In a pod the script's shell is PID 1, which ignores SIGTERM; the bound must still
    hold against a server that takes the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the handshake; nobody reads or writes
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook/abc"
        pod = client_pod("client-1", url, DELIVERY, None, busybox="rc.local/bb:1")
        container = pod["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in container["env"]}
        began = time.monotonic()
        done = subprocess.run(["unshare", "--pid", "--fork", "/bin/busybox",
                               *container["command"]], env=env, capture_output=True,
                              text=True, timeout=30)
    assert time.monotonic() - began < CONNECT_TIMEOUT + 5, done.stdout + done.stderr
    assert answer_of(done.stdout + done.stderr) is None
