"""The Docker engine the harness owns (`receiver_conformance.kind.engine`), its capability
shim, the probe that boots systemd in a privileged container as kind runs a node, and a
kind cluster created from the node image built here.

The shim's arithmetic, the engine's and the cluster's configuration are checked always. The
engine itself needs root and Debian's docker.io, and the cluster the Go builds of
`python -m receiver_conformance.kind.binary`, so those tests run only with RC_KIND_TESTS=1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from receiver_conformance import cli, versions
from receiver_conformance.controlplane.processes import pid_alive
from receiver_conformance.gobuild import cache_root
from receiver_conformance.kind import base, caps, engine, probe
from receiver_conformance.kind.cluster import KindCluster, cluster_config
from receiver_conformance.kind.engine import Engine
from receiver_conformance.kube import api_client
from receiver_conformance.node import cgroups
from tests.checkout import REPO_ROOT
from tests.test_node import host_rules, leftovers

ALL = (1 << 41) - 1
WITHOUT_SYS_RESOURCE = ALL & ~(1 << caps.NUMBERS["SYS_RESOURCE"])
# What dockerd would leave on the host if it ran there instead of in its namespace.
ENGINE_RULE_MARKERS = ("DOCKER", "docker0")

engine_tests = pytest.mark.skipif(
    os.environ.get("RC_KIND_TESTS") != "1",
    reason="engine tests run only with RC_KIND_TESTS=1 (root, Debian's docker.io)",
)


@pytest.mark.parametrize(
    ("names", "bounding", "dropped"),
    [
        (["CAP_CHOWN", "CAP_SYS_RESOURCE"], WITHOUT_SYS_RESOURCE, {"CAP_SYS_RESOURCE"}),
        (["CAP_CHOWN", "CAP_SYS_RESOURCE"], ALL, set()),
        (["CAP_CHECKPOINT_RESTORE"], ALL >> 1, {"CAP_CHECKPOINT_RESTORE"}),
        (["CAP_SOMETHING_NEW"], 0, set()),  # unknown here: runc decides
    ],
    ids=["outside-the-set", "all-granted", "highest-bit", "unknown-name"],
)
def test_the_shim_drops_exactly_the_capabilities_outside_the_bounding_set(
    names: list[str], bounding: int, dropped: set[str],
) -> None:
    assert caps.unbounded(names, bounding) == dropped


def test_every_set_of_a_process_loses_them_and_nothing_else() -> None:
    process: dict[str, Any] = {"capabilities": {
        kind: ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
        for kind in ("bounding", "effective", "permitted", "inheritable", "ambient")}}
    assert caps.drop_unbounded(process, WITHOUT_SYS_RESOURCE) == ["CAP_SYS_RESOURCE"]
    assert {tuple(v) for v in process["capabilities"].values()} == {
        ("CAP_CHOWN", "CAP_NET_ADMIN")}
    assert caps.drop_unbounded({}, WITHOUT_SYS_RESOURCE) == []


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--root", "/r", "create", "--bundle", "/b", "id"], (Path("/b/config.json"), True)),
        (["create", "--bundle=/b", "id"], (Path("/b/config.json"), True)),
        (["run", "id"], (Path("config.json"), True)),
        (["exec", "--process", "/tmp/p.json", "id"], (Path("/tmp/p.json"), False)),
        (["exec", "-p", "/tmp/p.json", "id"], (Path("/tmp/p.json"), False)),
        (["exec", "id", "sh"], None),
        (["--root", "/r", "kill", "id", "9"], None),
    ],
    ids=["create", "create-equals", "run-here", "exec", "exec-short", "exec-argv", "kill"],
)
def test_the_shim_finds_the_file_runc_reads(args: list[str],
                                            found: tuple[Path, bool] | None) -> None:
    assert caps.spec_file(args) == found


def test_the_bounding_set_is_read_from_proc_status() -> None:
    assert caps.bounding_set("Name:\tx\nCapBnd:\t000001fffeffffff\n") == WITHOUT_SYS_RESOURCE
    with pytest.raises(ValueError):
        caps.bounding_set("Name:\tx\n")


def test_the_engine_keeps_everything_in_its_directory_and_cgroup(tmp_path: Path) -> None:
    config = engine.daemon_config(tmp_path, "rc-engine-x", tmp_path / "rc-runc")
    paths = [config["data-root"], config["exec-root"], config["pidfile"],
             *config["hosts"]]  # type: ignore[misc]
    assert all(str(tmp_path) in str(p) for p in paths), paths
    assert config["cgroup-parent"] == "/rc-engine-x/containers"
    assert config["default-runtime"] == engine.RUNTIME
    assert config["runtimes"] == {engine.RUNTIME: {"path": str(tmp_path / "rc-runc")}}


def test_the_cluster_is_one_node_on_cgroup_v1_reached_at_the_engines_address() -> None:
    config = cluster_config("10.250.3.2")
    networking = config["networking"]
    assert networking["apiServerAddress"] == "10.250.3.2"  # type: ignore[index]
    assert networking["disableDefaultCNI"] is True  # type: ignore[index]
    assert config["nodes"] == [{"role": "control-plane"}]
    patches = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]  # type: ignore[union-attr]
    assert {"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "failCgroupV1": False} in patches


def test_a_missing_engine_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(engine, "DOCKERD", "/nonexistent/dockerd")
    monkeypatch.setattr(engine.packages, "check", lambda: None)
    assert cli.main(["kind", "probe"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "apt-get install --no-install-recommends docker.io" in err


# -- the engine itself (RC_KIND_TESTS=1) -------------------------------------------------


def engine_leftovers(footprint: dict[str, Any]) -> list[str]:
    found = leftovers(footprint)
    rules = host_rules()
    found += [f"host rule mentioning {m}" for m in ENGINE_RULE_MARKERS if m in rules]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {m}" for m in ("docker0", "br-") if f": {m}" in links]
    return found


@engine_tests
def test_the_engine_runs_kinds_node_container_and_stop_leaves_nothing() -> None:
    rootfs = base.ensure_rootfs()
    before = host_rules()
    with Engine() as running:
        assert running.dir is not None
        info = json.loads(running.docker("info", "--format", "{{json .}}").stdout)
        assert info["DockerRootDir"] == str(running.dir / "data")
        assert info["DefaultRuntime"] == engine.RUNTIME
        base.import_image(running, rootfs, base.image_name())
        running.docker("run", "--detach", "--name", "held", *probe.RUN_ARGS,
                       base.image_name(), "/sbin/init")
        # the container's processes are in the engine's cgroup, so they go with it
        pid = int(running.docker("inspect", "--format", "{{.State.Pid}}", "held").stdout)
        assert pid in engine.cgroups.pids(running.dir.name)
        booted, state, detail, _ = probe.boot(running, base.image_name())
        assert booted, f"{state}: {detail}"
        footprint = running.footprint()
        assert engine_leftovers(footprint), "the footprint shows nothing while running"
    assert engine_leftovers(footprint) == []
    assert host_rules() == before


OWNER = """
import json, sys
from receiver_conformance.kind import base, probe
from receiver_conformance.kind.engine import Engine
with Engine() as running:
    base.import_image(running, base.ensure_rootfs(), base.image_name())
    running.docker("run", "--detach", "--name", "owned", *probe.RUN_ARGS, base.image_name(),
                   "/sbin/init")
    print(json.dumps(running.footprint()), flush=True)
    sys.stdin.read()
"""


@engine_tests
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["sigint", "sigterm", "sigkill"])
def test_nothing_of_the_engine_survives_its_owner(sig: signal.Signals) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], cwd=REPO_ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = owner.stdout.readline() if owner.stdout else ""
        assert line, "the owner did not start an engine"
        footprint = json.loads(line)
        assert all(pid_alive(p) for p in footprint["pids"])
        owner.send_signal(sig)
        owner.wait(60)
    finally:
        if owner.poll() is None:
            owner.kill()
    deadline = time.monotonic() + 30
    while engine_leftovers(footprint) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert engine_leftovers(footprint) == []


@engine_tests
def test_a_kind_cluster_built_here_runs_its_pods_and_goes_with_the_engine() -> None:
    with Engine() as running:
        cluster = KindCluster(running).create()
        assert cluster.kubeconfig is not None
        # CoreDNS reaches the API server through kube-proxy's ClusterIP over the bridge
        probe.coredns_ready(cluster)
        with api_client(cluster.kubeconfig) as api:
            nodes = client.CoreV1Api(api).list_node().items
            pods = client.CoreV1Api(api).list_namespaced_pod("kube-system").items
        assert [n.status.node_info.kubelet_version for n in nodes] == [versions.KUBERNETES]
        images = {c.image for p in pods for c in p.spec.containers}
        assert all(i.startswith("registry.k8s.io/") for i in images), images
        footprint = running.footprint()
    assert engine_leftovers(footprint) == []


@engine_tests
def test_ctrl_c_during_a_probe_leaves_nothing() -> None:
    """SIGINT to the whole `kind probe` process group once its cluster is up."""
    command = [sys.executable, "-m", "receiver_conformance.cli", "kind", "probe"]
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        # SIGINT as from a terminal, even when this test runs in a background job (CI),
        # whose shell ignores SIGINT and passes that on
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if "kind cluster" in line and "Ready" in line:
                break
        assert any("Ready" in line for line in seen), "".join(seen[-5:])
        engines = list((cache_root() / "kind").glob("rc-engine-*"))
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    deadline = time.monotonic() + 30
    while any(e.exists() for e in engines) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [str(e) for e in engines if e.exists()] == []
    assert any_engine_left() == []


def any_engine_left() -> list[str]:
    """Whatever of any engine is on the host: a process, mount or cgroup named after one."""
    found = [f"cgroup {m / d.name}" for m in cgroups.hierarchies(v2=True)
             for d in m.glob("rc-engine-*")]
    found += [f"mount {line.split()[1]}" for line in Path("/proc/mounts").read_text().splitlines()
              if "rc-engine-" in line]
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"rc-engine-" in (proc / "cmdline").read_bytes():
                found.append(f"process {proc.name}")
        except OSError:
            pass
    return found
