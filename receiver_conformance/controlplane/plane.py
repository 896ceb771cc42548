"""The embedded control plane: a real etcd, kube-apiserver and kube-controller-manager on
127.0.0.1, with Flux's and Gateway API's CRDs installed.

    with ControlPlane() as cp:
        kube = Kube(api_client(cp.kubeconfig))

The controller-manager makes the cluster behave as a real one where the suite relies on it:
deleted namespaces are emptied and go away, garbage collection follows owner references.
Every process and the temporary directory go away on `stop()`, on Ctrl-C (the caller's
`finally` runs `stop()`), and when the owning process dies without cleaning up: the
children get SIGKILL from the kernel and a small reaper process removes the files.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from receiver_conformance import paths
from receiver_conformance.controlplane.binaries import Binaries, ensure_binaries
from receiver_conformance.controlplane.crds import CRDsNotFound, ensure_crds
from receiver_conformance.controlplane.pki import ControlPlanePKI, write_control_plane_pki
from receiver_conformance.controlplane.processes import Child, free_port
from receiver_conformance.controlplane.reaper import PIDS_FILE
from receiver_conformance.gobuild import Log, stderr_log
from receiver_conformance.kube import Kube, ManifestError, api_client, install_crds

START_TIMEOUT = 60.0
PORT_ATTEMPTS = 3
SERVICE_CIDR = "10.0.0.0/16"


class ControlPlaneError(Exception):
    """The control plane could not be started."""


class _PortTaken(Exception):
    pass


_stderr = stderr_log("control-plane")


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, pki: ControlPlanePKI) -> Path:
    """A kubeconfig for the admin identity, with every credential inlined."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "embedded",
            "cluster": {"server": server, "certificate-authority-data": _b64(pki.ca_cert)},
        }],
        "users": [{
            "name": "admin",
            "user": {
                "client-certificate-data": _b64(pki.admin_cert),
                "client-key-data": _b64(pki.admin_key),
            },
        }],
        "contexts": [{"name": "embedded", "context": {"cluster": "embedded", "user": "admin"}}],
        "current-context": "embedded",
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


class ControlPlane:
    """etcd + kube-apiserver with our CRDs installed, for one owner process."""

    def __init__(
        self,
        binaries: Binaries | None = None,
        workdir: Path | None = None,
        install: bool = True,
        log: Log = _stderr,
    ) -> None:
        self._binaries = binaries
        self._workdir = workdir
        self._install = install
        self._log = log
        self.dir: Path | None = None
        self.kubeconfig: Path | None = None
        self.server: str | None = None
        self.pki: ControlPlanePKI | None = None
        self.etcd: Child | None = None
        self.apiserver: Child | None = None
        self.controller_manager: Child | None = None
        self._reaper: Child | None = None
        self.started_in: float | None = None

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries(log=self._log)
        return self._binaries

    @property
    def kubectl(self) -> Path | None:
        return self.binaries.kubectl

    def start(self) -> ControlPlane:
        binaries = self.binaries
        began = time.monotonic()
        if self._workdir:
            self._workdir.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="rc-controlplane-", dir=self._workdir))
        try:
            self._reaper = Child(
                "reaper",
                [sys.executable, "-m", "receiver_conformance.controlplane.reaper", str(self.dir),
                 str(os.getpid())],
                self.dir / "reaper.log",
                env=_python_env(),
                death_signal=signal.SIGTERM,
            )
            pki = self.pki = write_control_plane_pki(self.dir / "pki")
            for attempt in range(1, PORT_ATTEMPTS + 1):
                try:
                    self._start_processes(binaries, pki)
                    break
                except _PortTaken as err:
                    self._stop_processes()
                    if attempt == PORT_ATTEMPTS:
                        raise ControlPlaneError(str(err)) from None
                    self._log(f"{err}; retrying on other ports")
            if self._install:
                try:
                    install_crds(Kube(api_client(self.kubeconfig)), ensure_crds(log=self._log))
                except (ManifestError, CRDsNotFound) as err:
                    raise ControlPlaneError(f"installing the CRDs failed: {err}") from None
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        self._log(f"ready in {self.started_in:.1f} s at {self.server} "
                  f"(KUBECONFIG={self.kubeconfig})")
        return self

    def stop(self) -> None:
        """Stop every process and remove every temporary file. Safe to call twice."""
        self._stop_processes()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self._reaper is not None:
            self._reaper.stop(grace=5)
            self._reaper = None

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in (self.etcd, self.apiserver, self.controller_manager)
                if c is not None]

    # -- internals -------------------------------------------------------------------

    def _stop_processes(self) -> None:
        for child in (self.controller_manager, self.apiserver, self.etcd):
            if child is not None:
                child.stop()
        self.controller_manager = self.apiserver = self.etcd = None

    def _record_pids(self) -> None:
        assert self.dir is not None
        (self.dir / PIDS_FILE).write_text("\n".join(map(str, self.pids)) + "\n")

    def _start_processes(self, binaries: Binaries, pki: ControlPlanePKI) -> None:
        assert self.dir is not None
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        data = self.dir / "etcd-data"
        shutil.rmtree(data, ignore_errors=True)
        self.etcd = Child("etcd", [
            str(binaries.etcd),
            "--name=embedded",
            f"--data-dir={data}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=embedded={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ], self.dir / "etcd.log")
        self._record_pids()
        self._wait_ready(self.etcd, f"{etcd_url}/health", None, b'"health":"true"')

        self.server = f"https://127.0.0.1:{api_port}"
        self.apiserver = Child("kube-apiserver", [
            str(binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
            "--kubelet-preferred-address-types=InternalIP,Hostname",  # nodes (receiver_conformance.node)
            f"--secure-port={api_port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            f"--cert-dir={self.dir / 'certs'}",
            "--v=0",
        ], self.dir / "kube-apiserver.log")
        self._record_pids()
        self.kubeconfig = write_kubeconfig(self.dir / "kubeconfig", self.server, pki)
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        self._wait_ready(self.apiserver, f"{self.server}/readyz", context, b"ok")
        self._start_controller_manager(binaries, pki)

    def _start_controller_manager(self, binaries: Binaries, pki: ControlPlanePKI) -> None:
        assert self.dir is not None and self.kubeconfig is not None
        port = free_port()
        kubeconfig = str(self.kubeconfig)
        self.controller_manager = Child("kube-controller-manager", [
            str(binaries.kube_controller_manager),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--authentication-skip-lookup=true",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.dir / 'controller-manager-certs'}",
            "--leader-elect=false",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # A run deletes a namespace per scenario, many at once with --workers: each
            # deletion lists every resource type, so the default 20 requests/s would keep
            # the run's end waiting for its namespaces to go.
            "--kube-api-qps=1000", "--kube-api-burst=2000", "--concurrent-namespace-syncs=20",
            "--v=0",
        ], self.dir / "kube-controller-manager.log")
        self._record_pids()
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its serving certificate is self-signed
        self._wait_ready(self.controller_manager, f"https://127.0.0.1:{port}/healthz",
                         insecure, b"ok")

    def _wait_ready(
        self, child: Child, url: str, context: ssl.SSLContext | None, expect: bytes
    ) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if not child.running():
                tail = child.log_tail(50)
                if "address already in use" in tail:
                    raise _PortTaken(f"{child.name}: a port was taken meanwhile")
                raise ControlPlaneError(
                    f"{child.name} exited with code {child.popen.returncode} before it was "
                    f"ready; its last log lines:\n{tail}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:
                    body = response.read()
                    if response.status == 200 and expect in body:
                        return
                    last = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as err:
                last = str(err)
            time.sleep(0.1)
        raise ControlPlaneError(
            f"{child.name} was not ready after {START_TIMEOUT:g} s ({last}); its last log "
            f"lines:\n{child.log_tail(50)}"
        )


def _python_env() -> dict[str, str]:
    """The environment for our own Python helpers: this package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(paths.PACKAGE.parent), env.get("PYTHONPATH")) if p
    )
    return env
