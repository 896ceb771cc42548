"""The external target's preflight on a real API server: each way a user's cluster can be
unusable gives one line with the cause, before any scenario runs."""

from __future__ import annotations

import base64
import copy
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client

from receiver_conformance.cli import main
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.targets import preflight
from receiver_conformance.targets.preflight import Unreachable

pytestmark = pytest.mark.controlplane


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def foreign_ca() -> str:
    """A CA certificate that signed nothing the API server presents."""
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "not the cluster's CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def edited(plane: ControlPlane, path: Path, edit: Callable[[dict], None]) -> Path:
    doc = copy.deepcopy(yaml.safe_load(plane.kubeconfig.read_text()))
    edit(doc)
    path.write_text(yaml.safe_dump(doc))
    return path


def with_token(token: str) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["users"][0]["user"] = {"token": token}
    return edit


def refused(doc: dict) -> None:
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{closed_port()}"


def untrusted(doc: dict) -> None:
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = foreign_ca()


def plain_http(doc: dict) -> None:
    server = doc["clusters"][0]["cluster"]["server"]
    doc["clusters"][0]["cluster"]["server"] = server.replace("https://", "http://")


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (refused, "connection refused (nothing listens there)"),
        (untrusted, "TLS: its certificate is not trusted by the kubeconfig's CA"),
        (with_token("not-a-token"), "refused the kubeconfig's credentials (401 Unauthorized)"),
    ],
    ids=["refused", "tls", "401"],
)
def test_an_unusable_api_server_is_named_by_its_cause(
    control_plane: ControlPlane, tmp_path: Path, edit: Callable[[dict], None], says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubeconfig = edited(control_plane, tmp_path / "kubeconfig", edit)
    argv = ["run", "--target", "external", "--kubeconfig", str(kubeconfig), "--receiver-url",
            f"http://127.0.0.1:{closed_port()}", "--report-dir", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and says in err, err
    assert not (tmp_path / "out").exists()


def test_the_embedded_plane_serves_every_kind_the_scenarios_use(
    control_plane: ControlPlane) -> None:
    with preflight.api_client_for(control_plane.kubeconfig) as api:
        assert preflight.missing_kinds(api, preflight.SERVED_KINDS) == []


def test_missing_kinds_are_named_with_the_command_that_installs_them(
    control_plane: ControlPlane) -> None:
    kinds = {"Receiver": "notification.toolkit.fluxcd.io/v9",
             "GitRepository": "source.toolkit.fluxcd.io/v1", "Widget": "example.com/v1"}
    with preflight.api_client_for(control_plane.kubeconfig) as api, \
            pytest.raises(Unreachable) as caught:
        preflight.check_crds(api, kinds)
    message = str(caught.value)
    assert "Receiver (notification.toolkit.fluxcd.io/v9), Widget (example.com/v1)" in message
    assert "GitRepository" not in message
    assert message.endswith("receiver-conformance crds | kubectl apply --server-side -f -")


@pytest.fixture
def service_account_token(control_plane: ControlPlane, kube: Kube,
                          namespace: str) -> Callable[[], str]:
    """A token of a new ServiceAccount in `namespace`, which no role grants anything."""
    kube.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="suite")))

    def token() -> str:
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
        return kube.core.create_namespaced_service_account_token(
            "suite", namespace, request).status.token

    return token


def test_missing_rights_are_named(control_plane: ControlPlane, kube: Kube, namespace: str,
                                  service_account_token: Callable[[], str],
                                  tmp_path: Path) -> None:
    kubeconfig = edited(control_plane, tmp_path / "kubeconfig",
                        with_token(service_account_token()))
    with preflight.api_client_for(kubeconfig) as api:
        denied = preflight.denied_rights(api, None)
        assert "create namespaces" in denied
        assert "patch receivers.notification.toolkit.fluxcd.io" in denied
        # Granted what the scenarios need in one namespace, it passes there.
        rbac = client.RbacAuthorizationV1Api(kube.api)
        rbac.create_namespaced_role(namespace, client.V1Role(
            metadata=client.V1ObjectMeta(name="suite"),
            rules=[client.V1PolicyRule(api_groups=[r.group], resources=[r.resource],
                                       verbs=list(r.verbs))
                   for r in preflight.RIGHTS if not r.cluster_wide]))
        rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="suite"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role",
                                      name="suite"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="suite",
                                           namespace=namespace)]))
        wait_until(lambda: preflight.denied_rights(api, namespace) == [], 30,
                   "the Role's rights to take effect")
        with pytest.raises(Unreachable, match=r"may not create namespaces, get namespaces"):
            preflight.check_rights(api, None)
