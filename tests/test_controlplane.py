"""The embedded control plane: kubeconfig, RBAC, the controller-manager's work, start
failures and teardown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance.controlplane import ControlPlane, ControlPlaneError
from receiver_conformance.controlplane import plane as plane_module
from receiver_conformance.controlplane.binaries import Binaries
from receiver_conformance.controlplane.processes import pid_alive
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.pytest_plugin import new_namespace_name
from tests.checkout import REPO_ROOT

pytestmark = pytest.mark.controlplane


def test_kubeconfig_reaches_the_api_server_as_admin(control_plane: ControlPlane) -> None:
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    assert config["current-context"] == "embedded"
    assert config["clusters"][0]["cluster"]["server"] == control_plane.server
    assert control_plane.kubeconfig.stat().st_mode & 0o077 == 0
    api = client.ApiClient(_config_from(control_plane.kubeconfig))
    version = client.VersionApi(api).get_code()
    assert version.git_version.startswith("v1.")
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(verb="*", resource="*")
            )
        )
    )
    assert review.status.allowed


def _config_from(kubeconfig: Path) -> client.Configuration:
    from kubernetes import config as kube_config

    configuration = client.Configuration()
    kube_config.load_kube_config(str(kubeconfig), client_configuration=configuration)
    return configuration


def test_rbac_refuses_an_identity_without_roles(kube: Kube, namespace: str) -> None:
    kube.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token = kube.core.create_namespaced_service_account_token(
        "nobody", namespace, client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[])
        ),
    ).status.token
    configuration = client.Configuration()
    configuration.host = kube.api.configuration.host
    configuration.ssl_ca_cert = kube.api.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as api, pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).list_namespaced_secret(namespace)
    assert refused.value.status == 403


def test_our_crds_are_installed(kube: Kube) -> None:
    served = {r.name for r in client.ApiextensionsV1Api(kube.api)
              .list_custom_resource_definition().items for r in [r.metadata]}
    assert "receivers.notification.toolkit.fluxcd.io" in served
    assert "gitrepositories.source.toolkit.fluxcd.io" in served


# --- kube-controller-manager: the cluster cleans up after itself --------------------------

GONE_WITHIN = 60.0  # seconds; the namespace and garbage collectors act in a few


def _gone(read: Callable[[], object]) -> bool:
    """True once `read` answers 404."""
    try:
        read()
    except ApiException as err:
        if err.status == 404:
            return True
        raise
    return False


def test_a_deleted_namespace_is_emptied_and_goes_away(kube: Kube) -> None:
    name = new_namespace_name("rc-gone")
    kube.create_namespace(name)
    kube.core.create_namespaced_secret(name, client.V1Secret(
        metadata=client.V1ObjectMeta(name="webhook-token"), string_data={"token": "t"}))
    kube.core.create_namespaced_config_map(name, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings"), data={"a": "b"}))
    receivers = ("notification.toolkit.fluxcd.io", "v1", name, "receivers")
    client.CustomObjectsApi(kube.api).create_namespaced_custom_object(*receivers, {
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "webapp"},
        "spec": {"type": "generic", "secretRef": {"name": "webhook-token"},
                 "resources": [{"kind": "GitRepository", "name": "webapp"}]},
    })
    kube.delete_namespace(name)
    wait_until(lambda: _gone(lambda: kube.core.read_namespace(name)), GONE_WITHIN,
               f"namespace {name} to go away",
               describe=lambda: _namespace_state(kube, name))
    assert _gone(lambda: kube.core.read_namespaced_secret("webhook-token", name))
    assert _gone(lambda: kube.core.read_namespaced_config_map("settings", name))
    assert _gone(lambda: client.CustomObjectsApi(kube.api).get_namespaced_custom_object(
        *receivers, "webapp"))


def _namespace_state(kube: Kube, name: str) -> str:
    try:
        namespace = kube.core.read_namespace(name)
    except ApiException as err:
        return f"HTTP {err.status}"
    conditions = [f"{c.type}={c.status}: {c.message}" for c in namespace.status.conditions or []]
    return f"{namespace.status.phase}; {conditions}"


def test_garbage_collection_follows_owner_references(kube: Kube, namespace: str) -> None:
    owner = kube.core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="owner")))
    reference = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner",
                                        uid=owner.metadata.uid)
    for name, references in (("owned", [reference]), ("bystander", None)):
        kube.core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, owner_references=references)))
    kube.core.delete_namespaced_config_map("owner", namespace)
    wait_until(lambda: _gone(lambda: kube.core.read_namespaced_config_map("owned", namespace)),
               GONE_WITHIN, "the owned ConfigMap to be garbage-collected")
    assert kube.core.read_namespaced_config_map("bystander", namespace).metadata.name


# --- start failures and teardown -------------------------------------------------------------


def _fake_binaries(directory: Path, etcd_script: str) -> Binaries:
    directory.mkdir()
    etcd = directory / "etcd"
    etcd.write_text(etcd_script)
    etcd.chmod(0o755)
    return Binaries(kube_apiserver=directory / "missing", etcd=etcd,
                    kube_controller_manager=directory / "missing", kubectl=None, source="test")


def test_a_process_that_fails_to_start_shows_its_last_50_log_lines(tmp_path: Path) -> None:
    script = "#!/bin/sh\nfor i in $(seq 1 80); do echo \"etcd line $i\"; done\nexit 3\n"
    plane = ControlPlane(_fake_binaries(tmp_path / "bin", script), workdir=tmp_path / "w")
    with pytest.raises(ControlPlaneError) as failed:
        plane.start()
    message = str(failed.value)
    assert "etcd exited with code 3" in message
    assert "etcd line 80" in message and "etcd line 31" in message
    assert "etcd line 30\n" not in message
    assert list((tmp_path / "w").iterdir()) == []  # nothing left behind


def test_a_port_taken_meanwhile_is_retried(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    real_free_port = plane_module.free_port
    monkeypatch.setattr(plane_module, "free_port", lambda: next(ports, None) or real_free_port())
    logged: list[str] = []
    plane = ControlPlane(control_plane.binaries, workdir=tmp_path, install=False,
                         log=logged.append)
    try:
        plane.start()
        assert any("retrying on other ports" in line for line in logged)
    finally:
        plane.stop()
        taken.close()


def test_nothing_survives_a_killed_owner(tmp_path: Path) -> None:
    """SIGKILL the process that owns a control plane: no process and no file remains."""
    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import json, sys, pathlib\n"
         "from receiver_conformance.controlplane import ControlPlane\n"
         f"cp = ControlPlane(workdir=pathlib.Path({str(tmp_path)!r}), install=False).start()\n"
         "print(json.dumps({'pids': cp.pids, 'dir': str(cp.dir)}), flush=True)\n"
         "sys.stdin.read()\n"],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    started = json.loads(owner.stdout.readline())
    assert len(started["pids"]) == 3  # etcd, kube-apiserver, kube-controller-manager
    assert all(pid_alive(p) for p in started["pids"])
    assert Path(started["dir"]).is_dir()
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    wait_until(lambda: not any(pid_alive(p) for p in started["pids"]), 15,
               "etcd, kube-apiserver and kube-controller-manager to die with their owner")
    wait_until(lambda: not Path(started["dir"]).exists(), 15,
               "the control plane's files to be removed")
    wait_until(lambda: not list(tmp_path.iterdir()), 15, "the reaper's log to go")


def test_stop_is_complete_and_idempotent(control_plane: ControlPlane, tmp_path: Path) -> None:
    plane = ControlPlane(control_plane.binaries, workdir=tmp_path, install=False).start()
    pids, directory = plane.pids, plane.dir
    assert len(pids) == 3
    plane.stop()
    plane.stop()
    assert not any(pid_alive(p) for p in pids)
    assert not directory.exists()
    assert list(tmp_path.iterdir()) == []
