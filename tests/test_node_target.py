"""The node target (receiver_conformance/targets/node.py): what it applies, checked without a node; and,
with RC_NODE_TESTS=1 (root, Debian packages, the node's builds), the target itself: its
capabilities, the host's requests through the node port (dropped without the one extra
policy), the two NetworkPolicy scenarios of features/09 passing on real packets through
`receiver-conformance run --target node`, and Ctrl-C in the middle of such a run leaving
nothing of the node behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from receiver_conformance import traffic, versions
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.kube import Kube, Timeout, wait_until
from receiver_conformance.node import cgroups, reaper
from receiver_conformance.targets.node import (
    HOST_POLICY,
    JWKS_CONFIGMAP,
    NO_EDGE,
    RECEIVER_NAMESPACE,
    NodeTarget,
    exposure_objects,
    flux_receiver_objects,
    host_policy,
    jwks_configmap,
    reference_objects,
)
from tests.checkout import REPO_ROOT

node_only = pytest.mark.skipif(
    os.environ.get("RC_NODE_TESTS") != "1",
    reason="node tests run only with RC_NODE_TESTS=1 (root, Debian packages)")

NETPOL_SCENARIOS = ("--scenario", "traffic-netpol-enforced", "--scenario", "traffic-acme-solver")


# -- what the target applies (no node needed) ---------------------------------------------


def test_the_reference_runs_the_local_image_on_the_node_and_trusts_the_test_keys() -> None:
    docs = reference_objects("rc-node-x", "rc.local/reference:abc")
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["nodeName"] == "rc-node-x"
    assert container["image"] == "rc.local/reference:abc"
    assert container["imagePullPolicy"] == "Never"
    assert "--google-jwks=/etc/receiver-conformance/google-jwks.json" in container["args"]
    assert {"name": "google-jwks", "configMap": {"name": JWKS_CONFIGMAP}} in pod["volumes"]
    assert container["volumeMounts"][-1]["readOnly"] is True
    # Everything else as reference/deploy/ has it.
    assert "--watch-all-namespaces=true" in container["args"]
    assert {d["kind"] for d in docs} >= {"Namespace", "Deployment", "Service",
                                         "ServiceAccount", "ClusterRole"}
    assert all(d["metadata"].get("namespace") in (None, RECEIVER_NAMESPACE) for d in docs)


@pytest.mark.parametrize("version", list(versions.NOTIFICATION_RELEASES))
def test_flux_runs_from_its_own_module_objects_on_the_node(version: str) -> None:
    docs = flux_receiver_objects("rc-node-x", f"rc.local/notification-controller:{version}",
                                 version)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", RECEIVER_NAMESPACE), ("Deployment", "notification-controller"),
        ("Service", "notification-controller"), ("Service", "webhook-receiver"),
        ("ServiceAccount", "notification-controller"), ("ClusterRole", "crd-controller"),
        ("ClusterRoleBinding", "crd-controller")]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["nodeName"] == "rc-node-x"
    assert pod["serviceAccountName"] == "notification-controller"
    assert (container["image"], container["imagePullPolicy"]) == (
        f"rc.local/notification-controller:{version}", "Never")
    # Flux's own arguments, nothing of the reference's
    assert "--enable-leader-election" in container["args"]
    assert not any("google-jwks" in arg for arg in container["args"])
    assert all(d["metadata"].get("namespace") == RECEIVER_NAMESPACE
               for d in docs if d["kind"] not in ("Namespace", "ClusterRole",
                                                  "ClusterRoleBinding"))
    [binding] = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert {"kind": "ServiceAccount", "name": "notification-controller",
            "namespace": RECEIVER_NAMESPACE} in binding["subjects"]
    [role] = [d for d in docs if d["kind"] == "ClusterRole"]
    assert {"apiGroups": ["source.toolkit.fluxcd.io"], "resources": ["*"],
            "verbs": ["*"]} in role["rules"]  # to annotate the sources


def test_the_jwks_configmap_holds_the_keys_as_json() -> None:
    cm = jwks_configmap({"keys": [{"kid": "k"}]})
    assert cm["metadata"] == {"name": JWKS_CONFIGMAP, "namespace": RECEIVER_NAMESPACE}
    assert cm["data"]["google-jwks.json"] == '{"keys": [{"kid": "k"}]}'


def test_the_exposure_objects_are_the_guides_with_namespaces_first() -> None:
    docs = exposure_objects()
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert names >= {("NetworkPolicy", "allow-webhooks"), ("NetworkPolicy", "allow-egress"),
                     ("NetworkPolicy", "allow-scraping"),
                     ("NetworkPolicy", "allow-cert-manager-resolver"),
                     ("Service", "receiver"), ("Ingress", "webhook-receiver"),
                     ("Gateway", "internet-gateway"), ("HTTPRoute", "webhook-receiver")}


def test_the_extra_policy_admits_the_host_alone_on_the_webhook_port() -> None:
    policy = host_policy("10.250.3.1")
    assert policy["metadata"]["name"] == HOST_POLICY == "allow-webhooks-from-host"
    assert policy["metadata"]["namespace"] == RECEIVER_NAMESPACE
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "notification-controller"}}
    assert policy["spec"]["ingress"] == [{"from": [{"ipBlock": {"cidr": "10.250.3.1/32"}}],
                                          "ports": [{"protocol": "TCP", "port": 9292}]}]


def test_node_is_a_target_of_the_cli_and_the_plugin() -> None:
    from receiver_conformance.cli import build_parser
    from receiver_conformance.targets.registry import PLACEMENTS

    assert PLACEMENTS["node"].receivers == ("reference", "flux")
    args = build_parser().parse_args(["run", "--target", "node", "--profile", "all"])
    assert args.target == "node"


# -- busybox probes, for a cluster without a registry --------------------------------------


def test_a_busybox_probe_makes_one_bounded_nc_attempt() -> None:
    pod = traffic.probe_pod("probe-1", "10.244.0.7", 9292, busybox="rc.local/busybox:1")
    [container] = pod["spec"]["containers"]
    assert container["image"] == "rc.local/busybox:1"
    assert container["command"][:2] == ["sh", "-c"]
    assert f"nc -w {traffic.CONNECT_TIMEOUT} 10.244.0.7 9292 -e true" in container["command"][2]
    solver = traffic.solver_pod("solver", 8089, busybox="rc.local/busybox:1")
    assert solver["spec"]["containers"][0]["image"] == "rc.local/busybox:1"
    probe = traffic.Probe("ns", "10.244.0.7", 9292, 28, "nc")
    assert "timed out" in str(probe) and "nc -w 3" in str(probe)


@pytest.mark.skipif(shutil.which("busybox") is None, reason="no busybox here")
def test_the_busybox_probe_reports_in_curls_exit_codes() -> None:
    """The probe's script, run by this host's busybox: connected 0, refused 7."""
    listener = subprocess.Popen(["busybox", "nc", "-ll", "-p", "0", "-e", "true"],
                                stderr=subprocess.DEVNULL)
    try:
        port = wait_until(lambda: _listening_port(listener.pid), 5, "nc to listen")

        def probe(port: int) -> int:
            script = traffic.NC_PROBE.format(timeout=1, address="127.0.0.1", port=port)
            return subprocess.run(["busybox", "sh", "-c", script], capture_output=True,
                                  timeout=10).returncode

        assert traffic.CURL_OUTCOMES[probe(port)] is traffic.Outcome.CONNECTED
        # Refused: a port bound but not listening, held so that no other process takes it.
        with socket.socket() as bound:
            bound.bind(("127.0.0.1", 0))
            closed = bound.getsockname()[1]
            assert traffic.CURL_OUTCOMES[probe(closed)] is traffic.Outcome.REFUSED
    finally:
        listener.kill()
        listener.wait()


def _listening_port(pid: int) -> int | None:
    """The TCP port the process `pid` listens on (from /proc/net/tcp{,6} and its fds)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                return int(fields[1].rsplit(":", 1)[1], 16)
    return None


# -- the target itself (RC_NODE_TESTS=1) --------------------------------------------------


@pytest.fixture(scope="module")
def started(control_plane: ControlPlane) -> Iterator[tuple[NodeTarget, Any]]:
    target = NodeTarget(control_plane)
    try:
        yield target, target.start()
    finally:
        target.stop()


@node_only
def test_the_target_has_the_node_capabilities(started: tuple[NodeTarget, Any]) -> None:
    node_target, target = started
    assert target.name == "node"
    assert {"api", "deployed-receiver", "network-policy-enforcement", "gcr-test-keys",
            "receiver-log", "source-controller"} <= target.capabilities
    assert not {"receiver-metrics", "oidc-test-issuer"} & target.capabilities
    assert target.receiver_namespace == RECEIVER_NAMESPACE
    assert node_target.node is not None
    assert target.probe_image == node_target.node.busybox_image
    if node_target.with_edge:
        assert "traffic" in target.capabilities
    else:
        assert "traffic" not in target.capabilities
        assert target.details["traffic"] == NO_EDGE
    assert HOST_POLICY in target.details["extra policy"]
    # the reference answers the host (404 at /), and its log is read inside the node
    assert requests.get(target.receiver_url + "/", timeout=5).status_code == 404
    assert "receiver server listening" in node_target.log_tail(200)


@node_only
def test_flux_policies_drop_the_host_without_the_extra_policy(
        started: tuple[NodeTarget, Any], kube: Kube) -> None:
    """Issue 14, part 3: allow-webhooks admits pods only; the host's request is dropped
    (a connect timeout, not a refusal) until allow-webhooks-from-host admits it."""
    node_target, target = started
    policy = kube.get("networking.k8s.io/v1", "NetworkPolicy", HOST_POLICY, RECEIVER_NAMESPACE)
    assert policy is not None
    kube.resource("networking.k8s.io/v1", "NetworkPolicy").delete(
        name=HOST_POLICY, namespace=RECEIVER_NAMESPACE)
    try:
        def dropped() -> bool:
            try:
                requests.get(target.receiver_url + "/", timeout=3)
            except requests.ConnectTimeout:
                return True
            return False

        wait_until(dropped, 30, "the host's request to be dropped")
    finally:
        assert node_target.node is not None and node_target.node.netns is not None
        kube.apply(host_policy(node_target.node.netns.link.host_ip))

    def answered() -> bool:
        try:
            return requests.get(target.receiver_url + "/", timeout=3).status_code == 404
        except requests.RequestException:
            return False

    wait_until(answered, 30, "the host's request to be answered again")


def run_command(report_dir: Path, *selection: str) -> list[str]:
    return [sys.executable, "-m", "receiver_conformance.cli", "run", "--target", "node", "--profile", "all",
            "--report-dir", str(report_dir), *selection]  # = receiver-conformance run ...


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RC_") and k not in ("KUBECONFIG", "PYTEST_ADDOPTS")}
    return {**env, "PYTHONPATH": str(REPO_ROOT)}


@node_only
def test_the_network_policy_scenarios_pass_on_real_packets(tmp_path: Path) -> None:
    import json

    done = subprocess.run(run_command(tmp_path, *NETPOL_SCENARIOS),
                          cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True,
                          timeout=1800)
    results = json.loads((tmp_path / "results.json").read_text())
    outcomes = {s["name"]: s["outcome"] for s in results["scenarios"]}
    assert len(outcomes) == 2, (outcomes, done.stdout[-3000:])
    assert set(outcomes.values()) == {"passed"}, (outcomes, done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-3000:]
    # Real packets dropped: each "times out" step waited for (at least) two probes in a row
    # that gave up after their bounded connect timeout.
    dropped = [step for s in results["scenarios"] for step in s["steps"]
               if "times out connecting" in step["text"]]
    assert len(dropped) == 2
    assert all(step["duration"] >= 2 * traffic.CONNECT_TIMEOUT for step in dropped), dropped


@node_only
def test_the_replicas_scenario_fails_a_receiver_without_leader_election(tmp_path: Path) -> None:
    """The broken receiver of features/15: two replicas that both reconcile, holding no
    Lease (the reference with --enable-leader-election=false)."""
    import json

    done = subprocess.run(
        run_command(tmp_path, "--scenario", "replicas-every-pod-answers",
                    "--reference-arg=--enable-leader-election=false"),
        cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=1800)
    results = json.loads((tmp_path / "results.json").read_text())
    [scenario] = results["scenarios"]
    assert scenario["outcome"] == "failed", done.stdout[-3000:]
    assert "names nobody, not a pod of the receiver" in scenario["error"], scenario["error"]
    assert done.returncode == 1


def test_reference_args_reach_the_reference_on_the_node() -> None:
    docs = reference_objects("rc-node-x", "rc.local/reference:abc",
                             ["--enable-leader-election=false"])
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-1] == "--enable-leader-election=false"  # last: it wins over the deploy's own


# -- Ctrl-C in the middle of a run ---------------------------------------------------------


def node_dirs_owned_by(pid: int) -> list[Path]:
    """The directories of the nodes whose owner is `pid` or one of its descendants (read
    from their reapers' command lines: python -m receiver_conformance.node.reaper DIR OWNER)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"receiver_conformance.node.reaper" in argv and len(argv) >= 5:
            directory, owner = argv[-3].decode(), int(argv[-2])
            if _descends_from(owner, pid):
                found.append(Path(directory))
    return found


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def footprint_of(directory: Path) -> dict[str, object] | None:
    """A running node's footprint as Node.footprint() gives it, read from the host: its
    record (cgroup, veth), its cgroup's processes and the namespaces they are in."""
    record = reaper.read(directory)
    if not record.get("veth"):
        return None
    pids = sorted(cgroups.pids(record["cgroup"]))
    host_net = os.stat("/proc/self/ns/net").st_ino
    for pid in pids:
        try:
            net = os.stat(f"/proc/{pid}/ns/net").st_ino
            mnt = os.stat(f"/proc/{pid}/ns/mnt").st_ino
        except OSError:
            continue
        if net != host_net:
            return {"name": directory.name.lower().replace("_", "0"), "dir": str(directory),
                    "cgroup": record["cgroup"], "pids": pids, "veth": record["veth"],
                    "netns": net, "mntns": mnt}
    return None


@node_only
def test_ctrl_c_mid_run_leaves_nothing_of_the_node(tmp_path: Path) -> None:
    from tests.test_node import leftovers

    run = subprocess.Popen(run_command(tmp_path, *NETPOL_SCENARIOS),
                           cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True,
                           # as from a terminal even when this test runs in the background,
                           # where the shell has SIGINT ignored and that is inherited
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    footprint: dict[str, object] | None = None
    output = ""
    try:
        # Mid-run: once the first scenario has finished, the second is on its way.
        assert run.stdout is not None
        for line in run.stdout:
            output += line
            dirs = node_dirs_owned_by(run.pid)
            if dirs and footprint is None:
                footprint = footprint_of(dirs[0])
            if line.startswith(("PASS", "FAIL", "SKIP")):  # the run's line per scenario
                break
        assert footprint is not None, "no node was seen running"
        [directory] = node_dirs_owned_by(run.pid)
        footprint = footprint_of(directory) or footprint  # now with the pods' processes
        assert len(footprint["pids"]) >= 10  # type: ignore[arg-type]
        os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole group
        output += run.communicate(timeout=120)[0]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 130, output  # the run's "interrupted"
    try:
        wait_until(lambda: not leftovers(footprint), 30, "the node's footprint to be gone")
    except Timeout:
        assert leftovers(footprint) == []
    assert node_dirs_owned_by(run.pid) == []  # no reaper of the run's is left either
