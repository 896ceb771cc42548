"""Certificates and keys for the embedded control plane, made in-process."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Pair:
    """A PEM certificate and its PEM private key."""

    cert: bytes
    key: bytes


@dataclass(frozen=True)
class ControlPlanePKI:
    """File paths of everything the API server and its admin client need."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_pub: Path


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def new_ca(common_name: str = "receiver-conformance-ca") -> tuple[Pair, ec.EllipticCurvePrivateKey]:
    """A self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)), key


def issue(
    ca: Pair,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    organization: str | None = None,
    hosts: tuple[str, ...] = (),
    client: bool = False,
) -> Pair:
    """A leaf certificate signed by `ca`: serving (with SANs) or client."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    builder = _builder(_name(common_name, organization), ca_cert.subject, key.public_key())
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def load_ca(pki: ControlPlanePKI) -> tuple[Pair, ec.EllipticCurvePrivateKey]:
    """The CA of an existing control plane, to issue more certificates with `issue`."""
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Pair(pki.ca_cert.read_bytes(), pki.ca_key.read_bytes()), key


def pki_in(directory: Path) -> ControlPlanePKI:
    """The file paths of the PKI that `write_control_plane_pki(directory)` wrote."""
    return ControlPlanePKI(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        service_account_key=directory / "sa.key",
        service_account_pub=directory / "sa.pub",
    )


def write_control_plane_pki(directory: Path) -> ControlPlanePKI:
    """Generate the CA, serving cert, admin client cert and service-account key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = new_ca()
    serving = issue(
        ca, ca_key, "kube-apiserver",
        hosts=("127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default",
               "kubernetes.default.svc"),
    )
    admin = issue(ca, ca_key, "receiver-conformance-admin", organization="system:masters",
                  client=True)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "ca.crt": ca.cert,
        "ca.key": ca.key,
        "apiserver.crt": serving.cert,
        "apiserver.key": serving.key,
        "admin.crt": admin.cert,
        "admin.key": admin.key,
        "sa.key": _pem_key(sa_key),
        "sa.pub": sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600)
    return pki_in(directory)
