"""Whether this host runs kind, asked in two steps, each timed:

1. the engine starts, and a privileged container of the base root filesystem boots systemd
   as kind runs a node (if this fails, nothing else of kind can work here);
2. the node image is built (or loaded from the cache), kind creates a one-node cluster from
   it, and CoreDNS becomes Ready: kube-proxy, the pod network and the API server work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver_conformance.gobuild import BuildFailed, Log, stderr_log
from receiver_conformance.kind import base
from receiver_conformance.kind.cluster import KindCluster, KindClusterError
from receiver_conformance.kind.engine import Engine, EngineError
from receiver_conformance.kind.node_image import NodeImageError
from receiver_conformance.kube import Timeout, api_client, wait_until

BOOT_TIMEOUT = 90.0
DNS_TIMEOUT = 180.0
BOOTED = ("running", "degraded")  # `systemctl is-system-running` once start-up is over
CONTAINER = "rc-kind-probe"
# How kind starts a node container (kind's docker provider), less what needs a cluster.
RUN_ARGS = (
    "--privileged", "--security-opt", "seccomp=unconfined", "--security-opt",
    "apparmor=unconfined", "--tmpfs", "/tmp", "--tmpfs", "/run",
    "--volume", "/var", "--volume", "/lib/modules:/lib/modules:ro",
    "--init=false", "--cgroupns=private",
    "--env", "container=docker", "--stop-signal", "SIGRTMIN+3",
)

_stderr = stderr_log("kind")


@dataclass
class ProbeResult:
    """What the probe saw, and how long each part took (seconds)."""

    booted: bool = False
    state: str = "not tried"
    detail: str = ""
    cluster: str = "not tried"  # "Ready", or why not
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.booted and self.cluster in ("Ready", "not tried")

    def line(self) -> str:
        if not self.booted:
            return f"kind probe: systemd did not boot ({self.state}): {self.detail}"
        parts = [f"{name} {seconds:.1f} s" for name, seconds in self.timings.items()]
        if self.cluster == "not tried":
            head = f"systemd booted in a privileged container ({self.state})"
        elif self.cluster == "Ready":
            head = "a kind cluster built here is Ready and CoreDNS answers"
        else:
            head = f"systemd booted, but the kind cluster is not Ready: {self.cluster}"
        return f"kind probe: {head}; {', '.join(parts)}"


def boot(engine: Engine, image: str, timeout: float = BOOT_TIMEOUT) -> tuple[bool, str, str, float]:
    """Run `image`'s /sbin/init as kind runs a node; (booted, state, detail, seconds)."""
    began = time.monotonic()
    try:
        engine.docker("run", "--detach", "--name", CONTAINER, *RUN_ARGS, image, "/sbin/init")
    except EngineError as err:
        return False, "not started", str(err), time.monotonic() - began
    state, detail = "unknown", ""
    try:
        while time.monotonic() - began < timeout:
            proc = engine.attempt("exec", CONTAINER, "systemctl", "is-system-running")
            state = proc.stdout.strip() or proc.stderr.strip()
            if state in BOOTED:
                return True, state, "", time.monotonic() - began
            if "is not running" in state:
                break
            time.sleep(0.5)
        logs = engine.attempt("logs", "--tail", "15", CONTAINER)
        detail = " | ".join((logs.stdout + logs.stderr).split("\n")[-15:]).strip(" |")
        return False, state, detail, time.monotonic() - began
    finally:
        engine.attempt("rm", "-f", CONTAINER)


def coredns_ready(cluster: KindCluster, timeout: float = DNS_TIMEOUT) -> None:
    """Wait until CoreDNS's Deployment has every replica available (Timeout if not)."""
    assert cluster.kubeconfig is not None
    with api_client(cluster.kubeconfig) as api:
        apps = client.AppsV1Api(api)

        def read() -> client.V1DeploymentStatus | None:
            try:
                return apps.read_namespaced_deployment("coredns", "kube-system").status
            except ApiException:
                return None

        def available() -> bool:
            status = read()
            return bool(status and status.replicas
                        and status.available_replicas == status.replicas)

        def state() -> str:
            status = read()
            return (f"{status.available_replicas or 0}/{status.replicas or 0} available"
                    if status else "not readable")

        wait_until(available, timeout, "CoreDNS available", interval=1.0, describe=state)


def run_probe(cluster: bool = True, log: Log = _stderr) -> ProbeResult:
    """Both steps (the second only when `cluster`), then everything stopped."""
    result = ProbeResult()
    rootfs = base.ensure_rootfs(log)
    with Engine(log=log) as engine:
        assert engine.started_in is not None
        result.timings["engine"] = engine.started_in
        result.timings["base image"] = base.import_image(engine, rootfs, base.image_name(), log)
        result.booted, result.state, result.detail, seconds = boot(engine, base.image_name())
        result.timings["systemd boot"] = seconds
        if not (result.booted and cluster):
            return result
        kind = KindCluster(engine, log=log)
        try:
            kind.create()
            result.timings["node image"] = kind.timings["image"]
            result.timings["cluster create"] = kind.timings["create"]
            began = time.monotonic()
            coredns_ready(kind)
            result.timings["CoreDNS Ready"] = time.monotonic() - began
            result.cluster = "Ready"
        except (KindClusterError, NodeImageError, BuildFailed, Timeout) as err:
            result.cluster = " ".join(str(err).split())
        finally:
            kind.delete()
    return result
