"""The gcr sender (Google OIDC ID token + Pub/Sub push) and the sources of Google's keys.

Keys are RSA pairs generated at test time; nothing private is committed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from receiver_conformance.reference.senders import (
    Event,
    KeySourceError,
    RefusedRequest,
    WebhookRequest,
    key_source_from,
    sender_for,
)
from receiver_conformance.reference.senders.google_keys import StaticKeySource, UrlKeySource

EMAIL = "pubsub-push@my-project.iam.gserviceaccount.com"
AUDIENCE = "https://flux-webhook.example.com"
SECRET = {"token": b"unused", "email": EMAIL.encode(), "audience": AUDIENCE.encode()}
KID = "test-key-1"
NOTIFICATION = {"action": "INSERT", "digest": "gcr.io/my-project/podinfo@sha256:abc",
                "tag": "gcr.io/my-project/podinfo:6.5.0"}
# Filters see the notification, not the Pub/Sub envelope: it is the body they decode.
UNWRAPPED = Event(None, NOTIFICATION, json.dumps(NOTIFICATION).encode())


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_for(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_key()


def id_token(key: rsa.RSAPrivateKey, kid: str | None = KID, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "sub": "113774264463038321964",
        "email": EMAIL,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def push_body(notification: Any = NOTIFICATION, data: str | None = None) -> bytes:
    if data is None:
        data = base64.b64encode(json.dumps(notification).encode()).decode()
    return json.dumps({
        "message": {"data": data, "messageId": "2070443601311540",
                    "publishTime": "2021-02-26T19:13:55.749Z"},
        "subscription": "projects/my-project/subscriptions/flux",
    }).encode()


async def validate(key_source: Any, authorization: str | None, body: bytes = b"",
                   secret: dict[str, bytes] = SECRET) -> Event:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = body or push_body()
    request = WebhookRequest.from_headers("POST", headers, body)
    return await sender_for("gcr", google_keys=key_source).validate(request, secret)


@pytest.mark.asyncio
@pytest.mark.parametrize("issuer", ["https://accounts.google.com", "accounts.google.com"])
async def test_valid_token_unwraps_the_notification(signing_key, issuer: str) -> None:
    token = id_token(signing_key, iss=issuer)
    event = await validate(StaticKeySource(jwks_for(signing_key)), f"Bearer {token}")
    assert event == UNWRAPPED


@pytest.mark.asyncio
async def test_notification_members_default_to_empty(signing_key) -> None:
    body = push_body({"action": "DELETE", "extra": 1})
    event = await validate(StaticKeySource(jwks_for(signing_key)),
                           f"Bearer {id_token(signing_key)}", body)
    assert event.payload == {"action": "DELETE", "digest": "", "tag": ""}


def bearer(key_name: str, kid: str | None = KID, **changes: Any):
    """A deferred Authorization value: built once the keys exist."""
    return lambda keys: "Bearer " + id_token(keys[key_name], kid, **changes)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (bearer("signing", aud="https://other.example.com"), "another audience"),
        (bearer("signing", aud=None), "no 'aud' claim"),
        (bearer("signing", email="someone@example.com"), "not the Secret's email"),
        (bearer("signing", email=None), "not the Secret's email"),
        (bearer("signing", email_verified=False), "not verified"),
        (bearer("signing", email_verified="true"), "not verified"),
        (bearer("signing", email_verified=None), "not verified"),
        (bearer("signing", exp=int(time.time()) - 3600), "expired"),
        (bearer("signing", exp=None), "no 'exp' claim"),
        (bearer("signing", iat=int(time.time()) + 3600), "not valid yet"),
        (bearer("signing", iss="https://evil.example.com"), "not issued by accounts.google"),
        (bearer("signing", iss="https://accounts.google.com/"), "not issued by accounts.google"),
        (bearer("other"), "signature is invalid"),
        (bearer("signing", kid="unknown-key"), "unknown key"),
        (bearer("signing", kid=None), "names no signing key"),
        (lambda keys: None, "missing Bearer token"),
        (lambda keys: "", "missing Bearer token"),
        (lambda keys: "Basic dXNlcjpwYXNz", "missing Bearer token"),
        (lambda keys: "bearer " + id_token(keys["signing"]), "missing Bearer token"),
        (lambda keys: id_token(keys["signing"]), "missing Bearer token"),
        (lambda keys: "Bearer ", "malformed"),
        (lambda keys: "Bearer not.a.jwt", "malformed"),
        (lambda keys: "Bearer " + id_token(keys["signing"])[:-10], "signature is invalid"),
        (lambda keys: "Bearer " + jwt.encode({"aud": AUDIENCE}, "k" * 32, algorithm="HS256",
                                             headers={"kid": KID}), "not signed with RS256"),
    ],
    ids=["wrong-audience", "no-audience", "wrong-email", "no-email", "unverified-email",
         "email-verified-string", "no-email-verified", "expired", "no-expiry", "issued-later",
         "wrong-issuer", "issuer-trailing-slash", "bad-signature", "unknown-kid", "no-kid",
         "no-header", "empty-header", "basic-auth", "lower-case-bearer", "no-scheme",
         "empty-bearer", "not-a-jwt", "truncated-signature", "hs256"],
)
async def test_refused_tokens(signing_key, other_key, authorization, reason: str) -> None:
    value = authorization({"signing": signing_key, "other": other_key})
    with pytest.raises(RefusedRequest, match=reason) as caught:
        await validate(StaticKeySource(jwks_for(signing_key)), value)
    if value and len(value) > 20:
        assert value.removeprefix("Bearer ") not in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("secret", "reason"),
    [({"token": b"t", "audience": AUDIENCE.encode()}, "'email'"),
     ({"token": b"t", "email": EMAIL.encode()}, "'audience'"),
     ({"token": b"t", "email": b"", "audience": AUDIENCE.encode()}, "'email'")],
)
async def test_secret_needs_email_and_audience(signing_key, secret, reason: str) -> None:
    with pytest.raises(RefusedRequest, match=reason):
        await validate(StaticKeySource(jwks_for(signing_key)),
                       f"Bearer {id_token(signing_key)}", secret=secret)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"message": "hello"}', "body.message must be a JSON object"),
        (b'{"message": {"data": 12}}', "body.message.data must be a string"),
        (b'{"message": {"publishTime": "yesterday"}}', "publishTime must be an RFC 3339"),
        (push_body(data="%%%not-base64%%%"), "not base64"),
        (push_body(data=""), "not valid JSON"),
        (push_body(data=base64.b64encode(b"plain").decode()), "not valid JSON"),
        (push_body(["INSERT"]), "not a JSON object"),
        (push_body({"action": "INSERT", "tag": 5}), "message.data.tag must be a string"),
    ],
    ids=["not-json", "array", "message-string", "data-number", "bad-publish-time",
         "data-not-base64", "data-empty", "data-not-json", "data-array", "tag-number"],
)
async def test_refused_push_bodies(signing_key, body: bytes, reason: str) -> None:
    with pytest.raises(RefusedRequest, match=reason):
        await validate(StaticKeySource(jwks_for(signing_key)),
                       f"Bearer {id_token(signing_key)}", body)


@pytest.mark.asyncio
async def test_token_is_checked_before_the_body(signing_key, other_key) -> None:
    with pytest.raises(RefusedRequest, match="signature is invalid"):
        await validate(StaticKeySource(jwks_for(signing_key)),
                       f"Bearer {id_token(other_key)}", b"not json")


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["path", "file-url"])
async def test_jwks_file_source(tmp_path: Path, signing_key, other_key, form: str) -> None:
    path = tmp_path / "google certs.json"
    path.write_text(json.dumps(jwks_for(signing_key)))
    source = key_source_from(str(path) if form == "path" else path.as_uri())
    assert await validate(source, f"Bearer {id_token(signing_key)}") == UNWRAPPED
    # The file is read again, so rotating the keys on disk takes effect.
    path.write_text(json.dumps(jwks_for(other_key)))
    with pytest.raises(RefusedRequest, match="signature is invalid"):
        await validate(source, f"Bearer {id_token(signing_key)}")


@pytest.mark.asyncio
@pytest.mark.parametrize("content", [None, "{not json", '{"no": "keys"}'])
async def test_unusable_jwks_file_refuses(tmp_path: Path, signing_key, content) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeySourceError):
        await key_source_from(str(path)).keys()
    with pytest.raises(RefusedRequest, match="cannot obtain the keys"):
        await validate(key_source_from(str(path)), f"Bearer {id_token(signing_key)}")


class JwksServer:
    """A JWKS endpoint on a real local socket that counts its requests."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.status = 200
        self.cache_control = "public, max-age=19800, must-revalidate"
        self.requests = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        return web.json_response(self.jwks, status=self.status,
                                 headers={"Cache-Control": self.cache_control})


@pytest_asyncio.fixture
async def jwks_server(signing_key) -> AsyncIterator[JwksServer]:
    server = JwksServer(jwks_for(signing_key))
    app = web.Application()
    app.router.add_get("/oauth2/v3/certs", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}/oauth2/v3/certs"
    yield server
    await runner.cleanup()


@pytest.mark.asyncio
async def test_url_source_caches_keys(jwks_server: JwksServer, signing_key) -> None:
    source = key_source_from(jwks_server.url)
    assert isinstance(source, UrlKeySource)
    for _ in range(3):
        await validate(source, f"Bearer {id_token(signing_key)}")
    assert jwks_server.requests == 1


@pytest.mark.asyncio
async def test_url_source_refetches_after_max_age(jwks_server: JwksServer, signing_key) -> None:
    jwks_server.cache_control = "max-age=0"
    source = UrlKeySource(jwks_server.url)
    await source.keys()
    await source.keys()
    assert jwks_server.requests == 2


@pytest.mark.asyncio
async def test_url_source_refreshes_on_unknown_key_at_most_once_per_interval(
    jwks_server: JwksServer, signing_key, other_key
) -> None:
    source = UrlKeySource(jwks_server.url, min_refresh_interval=0.0)
    await validate(source, f"Bearer {id_token(signing_key)}")
    # Google rotates its keys: a token from the new key triggers one refresh.
    jwks_server.jwks = jwks_for(other_key, kid="rotated")
    assert await validate(source, f"Bearer {id_token(other_key, kid='rotated')}")
    assert jwks_server.requests == 2

    throttled = UrlKeySource(jwks_server.url, min_refresh_interval=3600)
    await throttled.keys()
    for _ in range(3):
        with pytest.raises(RefusedRequest, match="unknown key"):
            await validate(throttled, f"Bearer {id_token(signing_key, kid='never-published')}")
    assert jwks_server.requests == 3


@pytest.mark.asyncio
async def test_url_source_failure(jwks_server: JwksServer, signing_key) -> None:
    jwks_server.status = 503
    with pytest.raises(RefusedRequest, match="cannot obtain the keys"):
        await validate(UrlKeySource(jwks_server.url), f"Bearer {id_token(signing_key)}")

    # With keys cached, a failed refresh keeps the cached keys in use.
    jwks_server.status = 200
    jwks_server.cache_control = "max-age=0"
    source = UrlKeySource(jwks_server.url)
    await source.keys()
    jwks_server.status = 500
    assert await validate(source, f"Bearer {id_token(signing_key)}") == UNWRAPPED


@pytest.mark.asyncio
async def test_url_source_unreachable(signing_key) -> None:
    source = UrlKeySource("http://127.0.0.1:9/certs", timeout=5)
    with pytest.raises(KeySourceError):
        await source.keys()
