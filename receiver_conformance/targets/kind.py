"""The kind target: a throwaway kind cluster with a real data plane in front of the receiver.

What it sets up, every version pinned in receiver_conformance/versions.py:

- a kind cluster from fixtures/kind/cluster.yaml (kindnet enforces NetworkPolicy);
- cloud-provider-kind, in a container beside the cluster, for LoadBalancer addresses;
- ingress-nginx (kind provider manifest, made the default IngressClass) and Envoy Gateway with
  the GatewayClass ``receiver-conformance`` (fixtures/kind/gatewayclass.yaml);
- the receiver: the reference image built from reference/Dockerfile, loaded into the cluster
  and deployed from reference/deploy/ (with our CRDs), or Flux itself (``flux install``);
- the guide's exposure objects and network policies from fixtures/exposure/.

The work is a plan, a list of :class:`Step` (argv lists, a pure function of the options), run by
:func:`execute`; tests check the plan without Docker. :class:`KindTarget` runs the plans and
hands out a :class:`~receiver_conformance.targets.base.Target`; ``stop()`` removes what it created.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.controlplane.crds import crd_files, ensure_crds
from receiver_conformance.controlplane.processes import Child, free_port
from receiver_conformance.distribution import REFERENCE_EXTRA, requirements
from receiver_conformance.gobuild import cache_root
from receiver_conformance.paths import FIXTURES, KIND_FIXTURES, PACKAGE, REFERENCE, REFERENCE_DEPLOY
from receiver_conformance.targets.base import Target

IMPLEMENTATIONS = ("reference", "flux")
EXPOSURES = ("loadbalancer", "port-forward")
REFERENCE_IMAGE = "receiver-conformance/reference:dev"  # the tag reference/deploy/ runs
CLUSTER_CONFIG = KIND_FIXTURES / "cluster.yaml"
GATEWAY_CLASS = KIND_FIXTURES / "gatewayclass.yaml"
NAMESPACES = KIND_FIXTURES / "namespaces.yaml"
EXPOSURE = FIXTURES / "exposure"
DOCKERFILE = REFERENCE / "Dockerfile"
INGRESS_NGINX_MANIFEST = (
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/"
    f"{versions.INGRESS_NGINX}/deploy/static/provider/kind/deploy.yaml"
)
ENVOY_GATEWAY_MANIFEST = (
    f"https://github.com/envoyproxy/gateway/releases/download/{versions.ENVOY_GATEWAY}/install.yaml"
)
FLUX_EXTRA_COMPONENTS = "image-reflector-controller,image-automation-controller,source-watcher"
LB_LABEL = "io.x-k8s.cloud-provider-kind.cluster"  # on the load-balancer containers it starts
HOST = "webhook-receiver.example.com"  # the guide's Ingress and HTTPRoute host
CAPABILITIES = frozenset(
    {"api", "kubectl", "fresh-namespaces", "exposure-objects", "traffic",
     "network-policy-enforcement", "deployed-receiver", "host-clock"}
)
INSTALL_HINTS = {
    "kind": f"install kind {versions.KIND} (go install sigs.k8s.io/kind@{versions.KIND})",
    "docker": "install Docker (the engine and its CLI)",
    "kubectl": "install kubectl",
    "flux": f"install the Flux CLI {versions.FLUX}",
}
WAY_OUT = "or run the suite with --target embedded, which needs none of this"


class KindError(RuntimeError):
    """The kind target cannot be set up; the message names the way out."""


@dataclass(frozen=True)
class KindOptions:
    implementation: str = "reference"  # "reference" or "flux"
    cluster: str = "receiver-conformance"
    workdir: Path = field(default_factory=lambda: cache_root() / "kind")
    expose: str = "loadbalancer"  # how the suite reaches the receiver
    keep: bool = False  # leave the cluster running after stop()

    def __post_init__(self) -> None:
        if self.implementation not in IMPLEMENTATIONS:
            raise KindError(f"implementation {self.implementation!r} is not one of "
                            f"{', '.join(IMPLEMENTATIONS)}")
        if self.expose not in EXPOSURES:
            raise KindError(f"expose {self.expose!r} is not one of {', '.join(EXPOSURES)}")

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / f"{self.cluster}.kubeconfig"

    @property
    def cloud_provider_container(self) -> str:
        return f"{self.cluster}-cloud-provider"


@dataclass(frozen=True)
class Step:
    what: str
    argv: tuple[str, ...]
    timeout: float = 300.0
    output: str | None = None  # keep stdout (stripped) under this name
    must_succeed: bool = True


Runner = Callable[[Sequence[str], float], subprocess.CompletedProcess]


def run_command(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
    """Run one command, capturing its output."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def execute(steps: Sequence[Step], runner: Runner = run_command) -> dict[str, str]:
    """Run the steps in order; return the kept outputs. A failing required step raises."""
    outputs: dict[str, str] = {}
    for step in steps:
        try:
            done = runner(step.argv, step.timeout)
        except FileNotFoundError as exc:
            raise KindError(f"{step.what}: {step.argv[0]} not found; "
                            f"{INSTALL_HINTS.get(step.argv[0], 'install it')}") from exc
        except subprocess.TimeoutExpired as exc:
            if step.must_succeed:
                raise KindError(f"{step.what}: no result after {step.timeout:.0f}s "
                                f"({' '.join(step.argv[:3])} ...)") from exc
            continue
        if done.returncode != 0:
            if step.must_succeed:
                tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
                raise KindError(f"{step.what} failed (exit {done.returncode}): "
                                f"{' '.join(step.argv)}\n" + "\n".join(tail))
            continue
        if step.output:
            outputs[step.output] = (done.stdout or "").strip()
    return outputs


# --- plans: pure functions of the options


def required_binaries(opts: KindOptions) -> tuple[str, ...]:
    return ("kind", "docker", "kubectl") + (("flux",) if opts.implementation == "flux" else ())


def _kubectl(opts: KindOptions, *args: str) -> tuple[str, ...]:
    return ("kubectl", "--kubeconfig", str(opts.kubeconfig), *args)


def _flux_crd_files() -> list[Path]:
    """Flux's CRDs (from the pinned modules) but Gateway API's, which Envoy Gateway installs
    in its own version."""
    return [p for p in crd_files(ensure_crds()) if not p.name.startswith("gateway.")]


def setup_plan(opts: KindOptions) -> list[Step]:
    """Every command that brings the cluster, its data plane and the receiver up."""
    steps: list[Step] = []
    if opts.implementation == "reference":
        steps.append(Step("build the reference image", (
            "docker", "build", "-f", str(DOCKERFILE), "-t", REFERENCE_IMAGE, "--build-arg",
            "REQUIREMENTS=" + " ".join(requirements(REFERENCE_EXTRA)), str(PACKAGE),
        ), timeout=900))
    steps += [
        Step("create the kind cluster", (
            "kind", "create", "cluster", "--name", opts.cluster, "--config", str(CLUSTER_CONFIG),
            "--kubeconfig", str(opts.kubeconfig), "--wait", "180s",
        ), timeout=600),
        Step("start cloud-provider-kind", (
            "docker", "run", "--detach", "--name", opts.cloud_provider_container,
            "--network", "kind", "--volume", "/var/run/docker.sock:/var/run/docker.sock",
            versions.CLOUD_PROVIDER_KIND_IMAGE,
            "--gateway-channel=disabled", "--enable-default-ingress=false",
        ), timeout=300),
        Step("install ingress-nginx", _kubectl(opts, "apply", "-f", INGRESS_NGINX_MANIFEST)),
        Step("install Envoy Gateway", _kubectl(
            opts, "apply", "--server-side", "-f", ENVOY_GATEWAY_MANIFEST)),
        Step("wait for ingress-nginx", _kubectl(
            opts, "-n", "ingress-nginx", "wait", "pod", "--for=condition=Ready",
            "--selector=app.kubernetes.io/component=controller", "--timeout=300s"), timeout=330),
        Step("make nginx the default IngressClass", _kubectl(
            opts, "annotate", "ingressclass", "nginx",
            "ingressclass.kubernetes.io/is-default-class=true", "--overwrite")),
        Step("wait for Envoy Gateway", _kubectl(
            opts, "-n", "envoy-gateway-system", "wait", "deployment/envoy-gateway",
            "--for=condition=Available", "--timeout=300s"), timeout=330),
        Step("add the GatewayClass", _kubectl(opts, "apply", "-f", str(GATEWAY_CLASS))),
    ]
    if opts.implementation == "reference":
        crd_args = [a for p in _flux_crd_files() for a in ("-f", str(p))]
        steps += [
            Step("load the reference image into the cluster", (
                "kind", "load", "docker-image", REFERENCE_IMAGE, "--name", opts.cluster,
            ), timeout=600),
            Step("install the Flux CRDs", _kubectl(opts, "apply", "--server-side", *crd_args)),
            Step("deploy the reference receiver", _kubectl(
                opts, "apply", "-k", str(REFERENCE_DEPLOY))),
        ]
    else:
        steps.append(Step("install Flux", (
            "flux", "install", f"--version={versions.FLUX}",
            f"--components-extra={FLUX_EXTRA_COMPONENTS}",
            "--kubeconfig", str(opts.kubeconfig), "--timeout=5m",
        ), timeout=360))
    steps += [
        Step("wait for the receiver", _kubectl(
            opts, "-n", "flux-system", "rollout", "status", "deployment/notification-controller",
            "--timeout=300s"), timeout=330),
        Step("create the guide's namespaces", _kubectl(opts, "apply", "-f", str(NAMESPACES))),
        Step("apply the guide's exposure objects and policies", _kubectl(
            opts, "apply", "--server-side", "--force-conflicts", "-f", str(EXPOSURE))),
        Step("wait for the LoadBalancer address", _kubectl(
            opts, "-n", "flux-system", "wait", "service/receiver",
            "--for=jsonpath={.status.loadBalancer.ingress}", "--timeout=180s"), timeout=210),
        Step("wait for the Gateway", _kubectl(
            opts, "-n", "gateway-namespace", "wait", "gateway/internet-gateway",
            "--for=condition=Programmed", "--timeout=300s"), timeout=330),
    ]
    return steps


def address_plan(opts: KindOptions) -> list[Step]:
    """Queries for the addresses the suite sends to."""
    return [
        Step("read the LoadBalancer address", _kubectl(
            opts, "-n", "flux-system", "get", "service", "receiver",
            "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"), output="loadbalancer"),
        Step("read the Gateway address", _kubectl(
            opts, "-n", "gateway-namespace", "get", "gateway", "internet-gateway",
            "-o", "jsonpath={.status.addresses[0].value}"), output="gateway"),
        Step("read the node address (ingress-nginx host ports)", (
            "docker", "inspect", "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            f"{opts.cluster}-control-plane"), output="node"),
    ]


def teardown_plan(opts: KindOptions) -> list[Step]:
    """Remove what setup created; each step runs even if an earlier one failed."""
    return [
        Step("stop cloud-provider-kind", (
            "docker", "rm", "--force", opts.cloud_provider_container), must_succeed=False),
        Step("delete the kind cluster", (
            "kind", "delete", "cluster", "--name", opts.cluster,
            "--kubeconfig", str(opts.kubeconfig)), timeout=300, must_succeed=False),
        Step("list leftover load balancers", (
            "docker", "ps", "--all", "--quiet", "--filter", f"label={LB_LABEL}={opts.cluster}"),
            output="leftovers", must_succeed=False),
    ]


# --- running it


def preflight(
    opts: KindOptions,
    which: Callable[[str], str | None] | None = None,
    runner: Runner = run_command,
) -> None:
    """Fail early, with the way out, when a binary or the Docker engine is missing."""
    which = which or shutil.which
    missing = [b for b in required_binaries(opts) if which(b) is None]
    if missing:
        hints = "; ".join(INSTALL_HINTS[b] for b in missing)
        raise KindError(f"the kind target needs {', '.join(missing)} on PATH: {hints}; {WAY_OUT}")
    try:
        done = runner(("docker", "info", "--format", "{{.ServerVersion}}"), 30)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess((), 1, "", "no answer within 30s")
    if done.returncode != 0:
        reason = ((done.stderr or done.stdout or "").strip().splitlines() or ["no reason given"])
        raise KindError(f"the Docker engine is not reachable ({reason[-1]}): start it or point "
                        f"DOCKER_HOST at one; {WAY_OUT}")
    clusters = runner(("kind", "get", "clusters"), 30)
    if opts.cluster in (clusters.stdout or "").split():
        raise KindError(f"a kind cluster named {opts.cluster!r} exists already: delete it with "
                        f"'kind delete cluster --name {opts.cluster}' or choose another name")


def _first_address(text: str, what: str) -> str:
    words = text.split()
    if not words:
        raise KindError(f"the cluster reported no {what} address")
    return words[0]


class KindTarget:
    """Set up a kind cluster for the suite, hand out the Target, tear it down."""

    def __init__(self, opts: KindOptions, runner: Runner = run_command,
                 which: Callable[[str], str | None] | None = None) -> None:
        self.opts = opts
        self._runner = runner
        self._which = which or shutil.which
        self._port_forward: Child | None = None
        self._created = False

    def start(self) -> Target:
        preflight(self.opts, self._which, self._runner)
        self.opts.workdir.mkdir(parents=True, exist_ok=True)
        self._created = True
        try:
            execute(setup_plan(self.opts), self._runner)
            addresses = execute(address_plan(self.opts), self._runner)
            if self.opts.expose == "port-forward":
                receiver_url = self._start_port_forward()
            else:
                receiver_url = f"http://{_first_address(addresses['loadbalancer'], 'LB')}"
        except BaseException:
            self.stop()
            raise
        node = _first_address(addresses["node"], "node")
        return Target(
            name="kind",
            kubeconfig=self.opts.kubeconfig,
            receiver_url=receiver_url,
            # Flux brings its source-controller, which answers reconcile requests in status.
            capabilities=CAPABILITIES | (
                {"source-controller"} if self.opts.implementation == "flux" else set()
            ),
            kubectl=Path(self._which("kubectl") or "kubectl"),
            receiver_namespace="flux-system",  # the receiver's Deployment, Service, policies
            details={
                "implementation": self.opts.implementation,
                "kind": versions.KIND,
                "node image": versions.KIND_NODE_IMAGE.split("@")[0],
                "ingress_url": f"http://{node}",
                "gateway_url": f"http://{_first_address(addresses['gateway'], 'Gateway')}",
                "host": HOST,
            },
        )

    def stop(self) -> None:
        if self._port_forward is not None:
            self._port_forward.stop()
            self._port_forward = None
        if not self._created or self.opts.keep:
            return
        left = execute(teardown_plan(self.opts), self._runner).get("leftovers", "").split()
        if left:
            execute([Step("remove leftover load balancers", ("docker", "rm", "--force", *left),
                          must_succeed=False)], self._runner)
        self._created = False

    def _start_port_forward(self, deadline_s: float = 30.0) -> str:
        port = free_port()
        self._port_forward = Child(
            "port-forward",
            _kubectl(self.opts, "-n", "flux-system", "port-forward", "service/webhook-receiver",
                     f"{port}:80"),
            self.opts.workdir / "port-forward.log",
        )
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and self._port_forward.running():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.2)
        raise KindError(f"kubectl port-forward did not listen on {port} within {deadline_s:.0f}s;"
                        f" see {self.opts.workdir / 'port-forward.log'}")


@contextmanager
def kind_target(implementation: str | None = None, **options: object) -> Iterator[Target]:
    """A running kind target for the length of the block; options are KindOptions fields."""
    opts = KindOptions(implementation=implementation or "reference", **options)  # type: ignore[arg-type]
    target = KindTarget(opts)
    try:
        yield target.start()
    finally:
        target.stop()
