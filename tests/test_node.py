"""A real data plane: a node (containerd, kubelet, kube-proxy, kube-network-policies) runs
pods from an image built here, a Service's ClusterIP carries a real packet between two pods,
NetworkPolicies are enforced on real connections (a default deny, a namespace let in,
Flux's own `allow-webhooks`), and stopping the node, Ctrl-C or killing its owner leaves no
process, namespace, mount, veth, cgroup or rule.

Not in CI yet (root, Debian packages, minutes of build): runs only with RC_NODE_TESTS=1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.controlplane.processes import pid_alive
from receiver_conformance.flux import manifests
from receiver_conformance.kube import Kube, load_manifests, wait_until
from receiver_conformance.node import cgroups, images, packages, policies
from receiver_conformance.node.configs import NodeDirs, kubelet_config
from receiver_conformance.node.netns import link_exists
from receiver_conformance.node.node import Node
from tests.checkout import REPO_ROOT

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(os.environ.get("RC_NODE_TESTS") != "1",
                       reason="node tests run only with RC_NODE_TESTS=1 (root, Debian packages)"),
]

HOST_RULE_MARKERS = ("KUBE-", "CNI-", "cni0", "rcn", policies.TABLE, policies.POD_SET,
                     "NFQUEUE", f"queue num {policies.QUEUE}")


@pytest.fixture(scope="module", params=["iptables", "nftables"])
def node(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[Node]:
    with Node(control_plane, proxy_mode=request.param) as started:
        yield started


def server_pod(name: str, image: str, ports: tuple[int, ...] = (8080,),
               labels: dict[str, str] | None = None) -> client.V1Pod:
    """busybox httpd answering `hello from NAME` on each of `ports`."""
    serve = "".join(f"httpd -f -p {port} -h /www & " for port in ports)
    script = f"mkdir -p /www; echo hello from {name} > /www/index.html; {serve}wait"
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": name}),
        spec=client.V1PodSpec(
            termination_grace_period_seconds=0,
            containers=[client.V1Container(
                name="httpd", image=image, command=["sh", "-c", script],
                ports=[client.V1ContainerPort(container_port=port) for port in ports],
                readiness_probe=client.V1Probe(
                    tcp_socket=client.V1TCPSocketAction(port=ports[-1]), period_seconds=1),
            )],
        ),
    )


def client_pod(name: str, image: str, url: str, attempts: int = 40) -> client.V1Pod:
    """A pod that fetches `url` (up to `attempts` times, 5 s each) and leaves the answer in
    its termination message; it fails if no attempt got one."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            restart_policy="Never",
            termination_grace_period_seconds=0,
            containers=[client.V1Container(
                name="wget", image=image,
                # Retried: kube-proxy programs the Service a moment after the endpoint is
                # ready. (Not wget -T: busybox 1.35's wget crashes on a refused connection.)
                command=["sh", "-c", f"for i in $(seq {attempts}); do "
                         f"timeout 5 wget -q -O /dev/termination-log {url} && exit 0; "
                         "sleep 0.5; done; exit 1"],
                termination_message_policy="FallbackToLogsOnError",
            )],
        ),
    )


def service(name: str, ports: dict[int, int] | None = None,
            selector: dict[str, str] | None = None) -> client.V1Service:
    """A ClusterIP Service: `ports` maps its ports to the pods' (default 80 -> 8080)."""
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ServiceSpec(selector=selector or {"app": name}, ports=[
            client.V1ServicePort(name=f"p{port}", port=port, target_port=target)
            for port, target in (ports or {80: 8080}).items()]),
    )


def wait_running(core: client.CoreV1Api, namespace: str, name: str, timeout: float = 60,
                 node: Node | None = None) -> None:
    def running() -> bool:
        pod = core.read_namespaced_pod(name, namespace)
        return pod.status.phase == "Running" and all(
            c.ready for c in pod.status.container_statuses or [None] if c is not None)

    def state() -> str:
        pod = core.read_namespaced_pod(name, namespace)
        seen = f"{pod.status.phase} at {pod.status.pod_ip}, {pod.status.container_statuses}"
        if node is not None and policies.PROGRAM in node.children:
            seen += (f"\nchecked by kube-network-policies: {node.policy_targets()}\nits log:\n"
                     f"{node.children[policies.PROGRAM].log_tail(30)}")
        return seen
    wait_until(running, timeout, f"pod {name} to be running and ready", describe=state)


def wait_finished(core: client.CoreV1Api, namespace: str, name: str,
                  timeout: float = 60) -> client.V1Pod:
    def finished() -> bool:
        return core.read_namespaced_pod(name, namespace).status.phase in ("Succeeded", "Failed")
    wait_until(finished, timeout, f"pod {name} to finish")
    return core.read_namespaced_pod(name, namespace)


def test_a_pod_reaches_another_through_a_cluster_ip(node: Node, kube: Kube,
                                                    namespace: str) -> None:
    core = kube.core
    core.create_namespaced_pod(namespace, server_pod("server", node.busybox_image))
    svc = core.create_namespaced_service(namespace, service("server"))
    wait_running(core, namespace, "server")
    cluster_ip = svc.spec.cluster_ip
    core.create_namespaced_pod(
        namespace, client_pod("client", node.busybox_image, f"http://{cluster_ip}/"))
    pod = wait_finished(core, namespace, "client")
    state = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Succeeded", state
    assert state.message.strip() == "hello from server"
    server = core.read_namespaced_pod("server", namespace)
    assert server.spec.node_name == pod.spec.node_name == node.name
    assert server.status.pod_ip != pod.status.pod_ip
    # kube-proxy's rules for the Service, inside the node only
    assert node.netns is not None
    rules = node.netns.run(*(["iptables-save", "-t", "nat"] if node.proxy_mode == "iptables"
                             else ["nft", "list", "table", "ip", "kube-proxy"]))
    assert cluster_ip in rules
    assert cluster_ip not in host_rules()


def on_node(pod: client.V1Pod, node: Node) -> client.V1Pod:
    """`pod` bound to `node` (other tests' nodes may be up too)."""
    pod.spec.node_name = node.name
    return pod


def fetch(kube: Kube, node: Node, namespace: str, name: str, url: str,
          attempts: int) -> str | None:
    """Run a client pod in `namespace` that fetches `url`: the answer, or None if every
    attempt (5 s each) went unanswered."""
    core = kube.core
    core.create_namespaced_pod(namespace, on_node(
        client_pod(name, node.busybox_image, url, attempts), node))
    pod = wait_finished(core, namespace, name, timeout=30 + 6 * attempts)
    if pod.status.phase != "Succeeded":
        return None
    return pod.status.container_statuses[0].state.terminated.message.strip()


def network_policy(name: str, pod_selector: dict[str, str], ingress: list[dict]) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": pod_selector} if pod_selector else {},
                     "policyTypes": ["Ingress"], "ingress": ingress}}


def wait_enforced(node: Node, kube: Kube, namespace: str, pod: str) -> None:
    """Until kube-network-policies checks the connections of `pod` (a policy selects it)."""
    ip = kube.core.read_namespaced_pod(pod, namespace).status.pod_ip
    wait_until(lambda: ip in node.policy_targets(), 30,
               f"kube-network-policies to check connections of {pod} ({ip})")


@pytest.fixture
def other_namespace(kube: Kube) -> Iterator[str]:
    name = f"rc-client-{os.urandom(4).hex()}"
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def test_a_default_deny_drops_the_connection_and_a_namespace_policy_lets_it_in(
        node: Node, kube: Kube, namespace: str, other_namespace: str) -> None:
    core = kube.core
    core.create_namespaced_pod(namespace, on_node(server_pod("web", node.busybox_image), node))
    svc = core.create_namespaced_service(namespace, service("web"))
    wait_running(core, namespace, "web", node=node)
    url = f"http://{svc.spec.cluster_ip}/"
    assert fetch(kube, node, other_namespace, "before", url, 40) == "hello from web"

    kube.apply(network_policy("default-deny-ingress", {}, []), namespace)
    wait_enforced(node, kube, namespace, "web")
    assert fetch(kube, node, other_namespace, "denied", url, 2) is None

    kube.apply(network_policy("allow-client-namespace", {"app": "web"}, [{"from": [
        {"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": other_namespace}}}]}]), namespace)
    assert fetch(kube, node, other_namespace, "admitted", url, 40) == "hello from web"


def test_fluxs_allow_webhooks_admits_any_namespace_on_the_webhook_port_only(
        node: Node, kube: Kube, namespace: str, other_namespace: str) -> None:
    """Flux v2.9.4's own policies (fluxcd/flux2 manifests/policies): `allow-webhooks` lets
    any namespace reach notification-controller's pods on TCP 9292, `allow-scraping` any
    pod on 8080, `allow-egress` the namespace's own pods; any other port stays shut."""
    core = kube.core
    pod = server_pod("receiver", node.busybox_image, ports=(9090, 9292),
                     labels={"app": "notification-controller"})
    core.create_namespaced_pod(namespace, on_node(pod, node))
    svc = core.create_namespaced_service(namespace, service(
        "webhook-receiver", {80: 9292, 9090: 9090}, {"app": "notification-controller"}))
    wait_running(core, namespace, "receiver", node=node)
    webhook = f"http://{svc.spec.cluster_ip}/"
    other_port = f"http://{svc.spec.cluster_ip}:9090/"
    assert fetch(kube, node, other_namespace, "other-port-open", other_port, 40) \
        == "hello from receiver"

    for path in manifests.policy_files():
        kube.apply_all(load_manifests(path), namespace)
    webhooks = kube.get("networking.k8s.io/v1", "NetworkPolicy", "allow-webhooks", namespace)
    assert webhooks is not None  # as v2.9.4 ships it: any namespace, TCP 9292 only
    assert webhooks["spec"]["ingress"] == [{"from": [{"namespaceSelector": {}}],
                                            "ports": [{"protocol": "TCP", "port": 9292}]}]
    wait_enforced(node, kube, namespace, "receiver")
    assert fetch(kube, node, other_namespace, "webhook", webhook, 40) == "hello from receiver"
    assert fetch(kube, node, other_namespace, "other-port-shut", other_port, 2) is None


def host_rules() -> str:
    """The host's iptables (both backends) and nft rules."""
    out = []
    for argv in (["iptables-save"], ["iptables-legacy-save"], ["nft", "list", "ruleset"]):
        proc = subprocess.run(argv, capture_output=True, text=True)
        out.append(proc.stdout)
    return "\n".join(out)


def leftovers(footprint: dict) -> list[str]:
    """Whatever of a node's footprint is still on the host."""
    found = [f"process {p}" for p in footprint["pids"] if pid_alive(p)]
    found += [f"process {p} in the cgroup" for p in cgroups.pids(footprint["cgroup"])]
    found += [f"cgroup {m / footprint['cgroup']}" for m in cgroups.hierarchies(v2=True)
              if (m / footprint["cgroup"]).exists()]
    if link_exists(footprint["veth"]):
        found.append(f"veth {footprint['veth']}")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        for kind in ("net", "mnt"):
            try:
                if os.stat(proc / "ns" / kind).st_ino == footprint[f"{kind}ns"]:
                    found.append(f"{kind} namespace held by {proc.name}")
            except OSError:
                pass
        try:
            if footprint["dir"].encode() in (proc / "cmdline").read_bytes():
                found.append(f"process {proc.name} using {footprint['dir']}")
        except OSError:
            pass
    mounts = Path("/proc/mounts").read_text()
    found += [f"mount {line.split()[1]}" for line in mounts.splitlines()
              if footprint["dir"] in line or footprint["name"] in line]
    if Path(footprint["dir"]).exists():
        found.append(footprint["dir"])
    rules = host_rules()
    found += [f"host rule mentioning {m}" for m in HOST_RULE_MARKERS if m in rules]
    routes = subprocess.run(["ip", "route", "show"], capture_output=True, text=True).stdout
    found += [f"route {line}" for line in routes.splitlines() if footprint["veth"] in line]
    return sorted(set(found))


def run_a_pod(node: Node, kube_api: client.ApiClient, namespace: str, name: str) -> None:
    """A pod on `node` (bound to it directly: other tests' nodes may be up too)."""
    core = client.CoreV1Api(kube_api)
    pod = server_pod(name, node.busybox_image)
    pod.spec.node_name = node.name
    core.create_namespaced_pod(namespace, pod)
    wait_running(core, namespace, name)


def test_stop_leaves_nothing(control_plane: ControlPlane, kube_api: client.ApiClient,
                             namespace: str) -> None:
    assert not any(m in host_rules() for m in HOST_RULE_MARKERS)
    node = Node(control_plane).start()
    try:
        run_a_pod(node, kube_api, namespace, "stop-check")
        footprint = node.footprint()
        # holder, apiproxy, containerd, kubelet, kube-proxy, kube-network-policies,
        # kube-scheduler, shim, pause, sh, httpd
        assert len(footprint["pids"]) >= 11
        assert node.netns is not None
        assert f"queue num {policies.QUEUE}" in node.netns.run(
            "nft", "list", "table", "inet", policies.TABLE)
        found = " ".join(leftovers(footprint))
        for thing in ("process", "cgroup", "veth", "net namespace", "mnt namespace",
                      footprint["dir"]):
            assert thing in found or footprint["cgroup"] in found, thing
        started = time.monotonic()
    finally:
        node.stop()
    assert time.monotonic() - started < 10
    node.stop()
    assert leftovers(footprint) == []
    assert client.CoreV1Api(kube_api).list_node(
        field_selector=f"metadata.name={footprint['name']}").items == []
    slices = client.DiscoveryV1Api(kube_api).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=kubernetes").items
    assert [s.metadata.name for s in slices if footprint["name"] in s.metadata.name] == []
    rbac = client.RbacAuthorizationV1Api(kube_api)
    assert [r.metadata.name for r in rbac.list_cluster_role().items
            if footprint["name"] in r.metadata.name] == []


OWNER = """
import json, sys, time
from kubernetes import client
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.kube import api_client
from receiver_conformance.node.node import Node
from tests.test_node import run_a_pod
with ControlPlane(install=False) as plane, Node(plane) as node:
    run_a_pod(node, api_client(plane.kubeconfig), "default", "owned")
    print(json.dumps(node.footprint()), flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_nothing_survives_the_owner(sig: signal.Signals) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], cwd=REPO_ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        # SIGINT as from a terminal, even when this test runs in a background job, whose
        # shell ignores SIGINT and passes that on
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = owner.stdout.readline()
        assert line, "the owner did not start a node"
        footprint = json.loads(line)
        assert all(pid_alive(p) for p in footprint["pids"])
        owner.send_signal(sig)
        owner.wait(60)
    finally:
        if owner.poll() is None:
            owner.kill()
    deadline = time.monotonic() + 30
    while leftovers(footprint) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftovers(footprint) == []


def test_missing_packages_are_named_with_the_command_to_install_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(packages.REQUIRED, "no-such-command-here", "no-such-package")
    with pytest.raises(packages.PackagesMissing,
                       match="apt-get install --no-install-recommends no-such-package"):
        packages.check()


def test_the_image_archive_is_an_oci_layout_with_both_tags(tmp_path: Path) -> None:
    import tarfile

    busybox, pause = images.busybox_images()
    archive = images.oci_archive(images.busybox_rootfs(tmp_path / "rootfs"), (busybox, pause),
                                 tmp_path / "images.tar")
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        names = [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]]
        assert names == [busybox.name, pause.name]
        assert "oci-layout" in tar.getnames()
    again = images.oci_archive(tmp_path / "rootfs", (busybox, pause), tmp_path / "again.tar")
    assert again.read_bytes() == archive.read_bytes()  # reproducible


def test_kubelet_runs_on_cgroup_v1_with_cgroupfs_under_the_nodes_root(tmp_path: Path) -> None:
    import yaml

    config = yaml.safe_load(kubelet_config(NodeDirs(tmp_path), "10.250.0.2", "/rc-node-x",
                                           tmp_path / "ca.crt"))
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupRoot"] == "/rc-node-x"
    assert config["containerRuntimeEndpoint"] == f"unix://{tmp_path}/containerd/containerd.sock"
