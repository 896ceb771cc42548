"""Google Container/Artifact Registry through a Pub/Sub push subscription.

The request carries `Authorization: Bearer <Google OIDC ID token>` and a Pub/Sub push
message whose base64 `message.data` is the registry notification `{action, digest, tag}`.
The receiver checks the token against Google's keys, the issuer accounts.google.com, and the
Secret's `audience` and `email` (verified). `TestGoogleIssuer` stands in for Google: a key
pair made at run time, a JWKS file a receiver can be told to trust, and ID tokens minted with
it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import payloads
from .delivery import Context, Request, Variant

GOOGLE_ISSUER = "https://accounts.google.com"
SUBSCRIPTION = "projects/example-project/subscriptions/flux-gcr-push"


def _key_id(key: rsa.RSAPrivateKey) -> str:
    """A stable key id: a digest of the public key."""
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(public).hexdigest()[:40]


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class TestGoogleIssuer:
    """Mints Google-style ID tokens with a key pair generated at run time."""

    __test__ = False  # not a pytest test class

    KEY_FILE = "signing-key.pem"
    JWKS_FILE = "google-jwks.json"

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = _key_id(self._key)
        self._stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @classmethod
    def load(cls, directory: Path) -> TestGoogleIssuer:
        """The issuer whose key `save()` wrote to `directory` (a stable key id), so that a
        receiver started with that directory's JWKS trusts what this run mints."""
        path = Path(directory) / cls.KEY_FILE
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a signing key written by 'receiver-conformance "
                             f"gcr-keys' ({exc.__class__.__name__})") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: not an RSA key")
        return cls(key)

    def save(self, directory: Path) -> Path:
        """Write the signing key (mode 0600) and its JWKS into `directory`; the JWKS's path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / self.KEY_FILE
        key_path.touch(mode=0o600, exist_ok=True)
        key_path.chmod(0o600)
        key_path.write_bytes(self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return self.write_jwks(directory / self.JWKS_FILE)

    def jwks(self) -> dict[str, Any]:
        """The public half as a JWKS document, as Google publishes its certificates."""
        numbers = self._key.public_key().public_numbers()
        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }
        return {"keys": [key]}

    def write_jwks(self, path: Path | str) -> Path:
        """Write the JWKS document to `path` and return it."""
        path = Path(path)
        path.write_text(json.dumps(self.jwks(), indent=2) + "\n", encoding="utf-8")
        return path

    def mint(
        self,
        audience: str,
        email: str,
        email_verified: bool = True,
        issuer: str = GOOGLE_ISSUER,
        expires_in: int = 300,
        signed_by_google: bool = True,
    ) -> str:
        """An RS256 ID token; `signed_by_google=False` signs it with a key not in the JWKS.

        A negative `expires_in` gives a token that expired that many seconds ago.
        """
        now = int(time.time())
        issued = now if expires_in > 0 else now + expires_in - 600
        claims = {
            "iss": issuer,
            "aud": audience,
            "azp": "112233445566778899001",
            "sub": "112233445566778899001",
            "email": email,
            "email_verified": email_verified,
            "iat": issued,
            "exp": now + expires_in,
        }
        key = self._key if signed_by_google else self._stranger
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


def push_message(notification: dict[str, Any] | None = None, data: str | None = None) -> bytes:
    """A Pub/Sub push body wrapping `notification` (default: the INSERT example) as base64."""
    if data is None:
        document = payloads.load("gcr-insert") if notification is None else notification
        data = base64.b64encode(payloads.compact(document)).decode("ascii")
    message = {
        "message": {
            "attributes": {},
            "data": data,
            "messageId": "9021847562013845",
            "publishTime": "2026-03-02T13:30:00.512Z",
        },
        "subscription": SUBSCRIPTION,
    }
    return payloads.compact(message)


def _settings(context: Context) -> tuple[TestGoogleIssuer, str, str]:
    missing = [name for name in ("issuer", "audience", "email") if name not in context]
    if missing:
        raise ValueError(
            f"gcr deliveries need the context {', '.join(missing)} "
            "(a TestGoogleIssuer, and the Secret's audience and email)"
        )
    issuer = context["issuer"]
    if not isinstance(issuer, TestGoogleIssuer):
        raise TypeError("the gcr context 'issuer' must be a TestGoogleIssuer")
    return issuer, str(context["audience"]), str(context["email"])


def _request(context: Context, body: bytes | None = None, **claims: Any) -> Request:
    issuer, audience, email = _settings(context)
    settings: dict[str, Any] = {"audience": audience, "email": email}
    settings.update(claims)
    id_token = issuer.mint(**settings)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {id_token}"}
    return headers, push_message() if body is None else body


def valid(token: str, context: Context) -> Request:
    return _request(context)


def wrong_audience(token: str, context: Context) -> Request:
    return _request(context, audience="https://another-receiver.example.test")


def wrong_email(token: str, context: Context) -> Request:
    return _request(context, email="someone-else@example-project.iam.gserviceaccount.com")


def unverified_email(token: str, context: Context) -> Request:
    return _request(context, email_verified=False)


def expired(token: str, context: Context) -> Request:
    return _request(context, expires_in=-3600)


def not_signed_by_google(token: str, context: Context) -> Request:
    return _request(context, signed_by_google=False)


def wrong_issuer(token: str, context: Context) -> Request:
    return _request(context, issuer="https://issuer.example.test")


def missing_token(token: str, context: Context) -> Request:
    _settings(context)
    return {"Content-Type": "application/json"}, push_message()


def undecodable_data(token: str, context: Context) -> Request:
    return _request(context, push_message(data="bm90IGpzb24="))


VARIANTS = {
    "valid": Variant(200, valid),
    "wrong audience": Variant(400, wrong_audience),
    "wrong email": Variant(400, wrong_email),
    "unverified email": Variant(400, unverified_email),
    "expired": Variant(400, expired, "expired an hour ago"),
    "not signed by Google": Variant(400, not_signed_by_google, "same key id, another key"),
    "wrong issuer": Variant(400, wrong_issuer),
    "missing token": Variant(400, missing_token),
    "undecodable data": Variant(400, undecodable_data, "message.data is base64 of 'not json'"),
}
