"""The kind target's plan and its failures, without Docker (this machine has no engine)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from receiver_conformance import versions
from receiver_conformance.paths import KIND_FIXTURES, PACKAGE, REFERENCE_DEPLOY
from receiver_conformance.targets import kind
from receiver_conformance.targets.kind import (
    KindError,
    KindOptions,
    KindTarget,
    Step,
    execute,
    preflight,
    setup_plan,
    teardown_plan,
)
from tests.checkout import REPO_ROOT


class Recorder:
    """A runner that records argv and answers from a table of (argv prefix, result)."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str, str]] | None = None):
        self.calls: list[tuple[str, ...]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
        argv = tuple(argv)
        self.calls.append(argv)
        for prefix, (rc, out, err) in self.answers.items():
            if argv[: len(prefix)] == prefix:
                return subprocess.CompletedProcess(argv, rc, out, err)
        return subprocess.CompletedProcess(argv, 0, "", "")

    def ran(self, *words: str) -> bool:
        return any(all(w in call for w in words) for call in self.calls)


def all_there(_: str) -> str:
    return "/usr/bin/x"


def opts(tmp_path: Path, **kw) -> KindOptions:
    return KindOptions(workdir=tmp_path, **kw)


def argvs(steps: list[Step]) -> list[tuple[str, ...]]:
    return [s.argv for s in steps]


def index_of(steps: list[Step], *words: str) -> int:
    for i, s in enumerate(steps):
        if all(w in s.argv for w in words):
            return i
    raise AssertionError(f"no step with {words}")


# --- the plan


def test_plan_is_a_pure_function_of_the_options(tmp_path):
    assert setup_plan(opts(tmp_path)) == setup_plan(opts(tmp_path))
    assert setup_plan(opts(tmp_path)) != setup_plan(opts(tmp_path, implementation="flux"))


@pytest.mark.parametrize(
    ("implementation", "present", "absent"),
    [
        pytest.param("reference", [("docker", "build"), ("kind", "load", "docker-image"),
                                   ("apply", "-k")], [("flux", "install")], id="reference"),
        pytest.param("flux", [("flux", "install")],
                     [("docker", "build"), ("kind", "load", "docker-image"), ("apply", "-k")],
                     id="flux"),
    ],
)
def test_plan_installs_the_implementation(tmp_path, implementation, present, absent):
    steps = setup_plan(opts(tmp_path, implementation=implementation))
    for words in present:
        index_of(steps, *words)
    for words in absent:
        with pytest.raises(AssertionError):
            index_of(steps, *words)


@pytest.mark.parametrize("implementation", ["reference", "flux"])
def test_plan_order(tmp_path, implementation):
    steps = setup_plan(opts(tmp_path, implementation=implementation))
    create = index_of(steps, "kind", "create", "cluster")
    for words in [("docker", "run"), ("ingress-nginx", "wait"), ("rollout", "status"),
                  ("--force-conflicts",), ("service/receiver",)]:
        assert create < index_of(steps, *words), words
    assert index_of(steps, "rollout", "status") < index_of(steps, "--force-conflicts")
    if implementation == "reference":
        build = index_of(steps, "docker", "build")
        load = index_of(steps, "kind", "load", "docker-image")
        assert build < create < load < index_of(steps, "apply", "-k")


def test_plan_pins_every_component(tmp_path):
    flat = " ".join(" ".join(a) for a in argvs(setup_plan(opts(tmp_path, implementation="flux"))))
    flat += " ".join(" ".join(a) for a in argvs(setup_plan(opts(tmp_path))))
    for pin in (versions.CLOUD_PROVIDER_KIND_IMAGE, versions.INGRESS_NGINX,
                versions.ENVOY_GATEWAY, f"--version={versions.FLUX}"):
        assert pin in flat
    assert "latest" not in flat


def test_every_kubectl_uses_the_targets_kubeconfig(tmp_path):
    o = opts(tmp_path)
    for argv in argvs(setup_plan(o) + kind.address_plan(o)):
        if argv[0] == "kubectl":
            assert argv[1:3] == ("--kubeconfig", str(o.kubeconfig))
    create = setup_plan(o)[index_of(setup_plan(o), "kind", "create")]
    assert str(o.kubeconfig) in create.argv  # never the user's ~/.kube/config


def test_plan_files_exist(tmp_path):
    for argv in argvs(setup_plan(opts(tmp_path))):
        for a in argv:
            if a.startswith(str(PACKAGE)) and a != str(PACKAGE):
                assert Path(a).exists(), a


def test_reference_crds_leave_gateway_api_to_envoy_gateway(tmp_path):
    steps = setup_plan(opts(tmp_path))
    crds = steps[index_of(steps, "apply", "--server-side") + 1:]
    step = next(s for s in crds if "CRDs" in s.what)
    files = [Path(a).name for a in step.argv if a.endswith(".yaml")]
    assert "notification.toolkit.fluxcd.io_receivers.yaml" in files
    assert not [f for f in files if f.startswith("gateway.")]


def test_cluster_config_pins_the_node_image_and_keeps_kindnet():
    config = yaml.safe_load((KIND_FIXTURES / "cluster.yaml").read_text())
    assert [n["image"] for n in config["nodes"]] == [versions.KIND_NODE_IMAGE]
    assert "@sha256:" in versions.KIND_NODE_IMAGE
    assert not config.get("networking", {}).get("disableDefaultCNI")


def test_deployment_runs_the_image_the_plan_builds():
    deployment = yaml.safe_load((REFERENCE_DEPLOY / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == kind.REFERENCE_IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"  # a kind-loaded image is not pulled


def test_teardown_removes_what_setup_created(tmp_path):
    o = opts(tmp_path)
    flat = argvs(teardown_plan(o))
    assert ("docker", "rm", "--force", o.cloud_provider_container) in flat
    assert any(a[:3] == ("kind", "delete", "cluster") and o.cluster in a for a in flat)
    assert all(not s.must_succeed for s in teardown_plan(o))


@pytest.mark.parametrize(
    ("field", "value"), [("implementation", "istio"), ("expose", "nodeport")]
)
def test_bad_options_are_refused(tmp_path, field, value):
    with pytest.raises(KindError, match=value):
        opts(tmp_path, **{field: value})


# --- preflight: one clear error with the way out


@pytest.mark.parametrize(
    ("implementation", "missing", "words"),
    [
        pytest.param("reference", {"kind"}, ["kind", versions.KIND, "--target embedded"],
                     id="no-kind"),
        pytest.param("reference", {"docker"}, ["docker", "install Docker"], id="no-docker"),
        pytest.param("reference", {"kubectl", "kind"}, ["kind, kubectl"], id="two-missing"),
        pytest.param("flux", {"flux"}, ["flux", versions.FLUX], id="no-flux"),
    ],
)
def test_missing_binary(tmp_path, implementation, missing, words):
    runner = Recorder()
    with pytest.raises(KindError) as err:
        preflight(opts(tmp_path, implementation=implementation),
                  which=lambda b: None if b in missing else "/usr/bin/" + b, runner=runner)
    for w in words:
        assert w in str(err.value)
    assert runner.calls == []  # nothing ran


def test_reference_does_not_need_flux(tmp_path):
    preflight(opts(tmp_path), which=lambda b: None if b == "flux" else "/x", runner=Recorder())


def test_docker_engine_down(tmp_path):
    runner = Recorder({("docker", "info"): (
        1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?")})
    with pytest.raises(KindError, match="Docker engine is not reachable") as err:
        preflight(opts(tmp_path), which=all_there, runner=runner)
    assert "Cannot connect" in str(err.value) and "--target embedded" in str(err.value)


def test_docker_engine_down_on_this_machine(tmp_path):
    """This machine has the docker client and no engine: the real runner reports that."""
    if kind.shutil.which("docker") is None:
        pytest.skip("no docker client here")
    done = kind.run_command(("docker", "info", "--format", "{{.ServerVersion}}"), 30)
    if done.returncode == 0:
        pytest.skip("a Docker engine is running here")
    with pytest.raises(KindError, match="Docker engine is not reachable"):
        preflight(opts(tmp_path), which=all_there)


def test_existing_cluster_is_not_taken_over(tmp_path):
    runner = Recorder({("kind", "get", "clusters"): (0, "other\nreceiver-conformance\n", "")})
    with pytest.raises(KindError, match="kind delete cluster --name receiver-conformance"):
        preflight(opts(tmp_path), which=all_there, runner=runner)


# --- running the plan


def test_execute_stops_at_the_first_failure_and_says_which():
    runner = Recorder({("b",): (2, "", "line1\nboom")})
    steps = [Step("first", ("a",)), Step("second", ("b", "x")), Step("third", ("c",))]
    with pytest.raises(KindError, match=r"(?s)second failed \(exit 2\): b x\n.*boom"):
        execute(steps, runner)
    assert runner.calls == [("a",), ("b", "x")]


def test_execute_binary_vanished():
    def runner(argv, timeout):
        raise FileNotFoundError(argv[0])

    with pytest.raises(KindError, match="kind not found; install kind"):
        execute([Step("create", ("kind", "create"))], runner)


def test_execute_timeout():
    def runner(argv, timeout):
        raise subprocess.TimeoutExpired(argv, timeout)

    with pytest.raises(KindError, match="no result after 5s"):
        execute([Step("slow", ("kubectl", "wait"), timeout=5)], runner)
    assert execute([Step("slow", ("x",), timeout=5, must_succeed=False)], runner) == {}


def test_start_hands_out_a_target_and_stop_cleans_up(tmp_path):
    o = opts(tmp_path)
    runner = Recorder({
        ("docker", "info"): (0, "28.0.0\n", ""),
        ("kind", "get", "clusters"): (0, "", ""),
        ("kubectl", "--kubeconfig", str(o.kubeconfig), "-n", "flux-system", "get"):
            (0, "172.18.0.5", ""),
        ("kubectl", "--kubeconfig", str(o.kubeconfig), "-n", "gateway-namespace", "get"):
            (0, "172.18.0.6", ""),
        ("docker", "inspect"): (0, "172.18.0.2 \n", ""),
        ("docker", "ps"): (0, "abc123\ndef456\n", ""),
    })
    target_ = KindTarget(o, runner=runner, which=all_there)
    target = target_.start()
    assert target.receiver_url == "http://172.18.0.5"
    assert target.details["gateway_url"] == "http://172.18.0.6"
    assert target.details["ingress_url"] == "http://172.18.0.2"
    assert {"traffic", "network-policy-enforcement"} <= target.capabilities
    assert target.kubeconfig == o.kubeconfig
    assert not runner.ran("kind", "delete")
    target_.stop()
    assert runner.ran("kind", "delete", "cluster")
    assert ("docker", "rm", "--force", "abc123", "def456") in runner.calls


def test_failed_setup_tears_down(tmp_path):
    runner = Recorder({
        ("docker", "info"): (0, "28.0.0", ""),
        ("kind", "get", "clusters"): (0, "", ""),
        ("kubectl", "--kubeconfig", str(tmp_path / "receiver-conformance.kubeconfig"), "apply",
         "-f", kind.INGRESS_NGINX_MANIFEST): (1, "", "connection refused"),
    })
    with pytest.raises(KindError, match="install ingress-nginx failed"):
        KindTarget(opts(tmp_path), runner=runner, which=all_there).start()
    assert runner.ran("kind", "delete", "cluster")


def test_keep_leaves_the_cluster(tmp_path):
    runner = Recorder({
        ("docker", "info"): (0, "28", ""), ("kind", "get"): (0, "", ""),
        ("kubectl",): (0, "10.0.0.1", ""), ("docker", "inspect"): (0, "1.2.3.4", ""),
    })
    t = KindTarget(opts(tmp_path, keep=True), runner=runner, which=all_there)
    t.start()
    t.stop()
    assert not runner.ran("kind", "delete")


# --- the GitHub workflow users copy


def test_workflow_runs_both_implementations_on_kind_with_the_action():
    wf = yaml.safe_load((REPO_ROOT / "ci" / "github" / "conformance.yaml").read_text())
    job = next(iter(wf["jobs"].values()))
    assert job["strategy"]["matrix"]["implementation"] == ["reference", "flux"]
    (suite,) = [s for s in job["steps"] if s.get("uses") == "./"]
    assert suite["with"]["target"] == "kind"
    assert suite["env"]["RC_KIND_IMAGES"] == "pulled"  # the runner's Docker, released images
    assert suite["with"]["receiver"] == "${{ matrix.implementation }}"
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    assert set(suite["with"]) <= set(action["inputs"])
    run = " ".join(s.get("run", "") for s in job["steps"])
    assert versions.KIND in run and versions.FLUX.lstrip("v") in " ".join(
        str(s.get("with", "")) for s in job["steps"]) + run


def test_kind_target_takes_the_implementation_by_keyword(tmp_path, monkeypatch):
    """receiver_conformance.conformance calls kind_target(implementation=...); a bad name fails clearly."""
    with pytest.raises(KindError, match="istio"), kind.kind_target(implementation="istio"):
        pass
    monkeypatch.setattr(kind.shutil, "which", lambda b: None)
    with pytest.raises(KindError, match="needs kind, docker, kubectl, flux"), kind.kind_target(
        implementation="flux", workdir=tmp_path
    ):
        pass


FAKE_DOCKER_DOWN = "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n"


@pytest.mark.parametrize(("fakes", "says"), [
    ({}, "the kind target needs kind"),  # nothing installed
    ({"kind": "#!/bin/sh\nexit 0\n", "kubectl": "#!/bin/sh\nexit 0\n",
      "docker": FAKE_DOCKER_DOWN}, "the Docker engine is not reachable"),
], ids=["kind missing", "engine down"])
def test_run_exits_2_with_one_line_when_the_engine_is_not_there(
        tmp_path: Path, fakes: dict[str, str], says: str) -> None:
    """`run --target kind` as a user types it: one line on stderr, exit 2, no log tail."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in fakes.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "receiver_conformance.cli", "run", "--target", "kind",
         "--kind-images", "pulled", "--report-dir", str(tmp_path / "out")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "receiver-conformance: error: kind target did not start: "), done.stderr
    assert says in lines[0]
