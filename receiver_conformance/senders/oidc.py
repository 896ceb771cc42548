"""A local OIDC issuer for generic-oidc Receivers, and the requests its clients send.

`TestOIDCIssuer` serves OIDC discovery (`/.well-known/openid-configuration`) and its JWKS over
plain HTTP on 127.0.0.1 (Flux accepts `http://` issuer URLs: the CRD's pattern is
`^https?://`), with an RS256 key pair made at run time, and mints ID tokens with it. A
generic-oidc Receiver names it by `issuer.url`; the receiver must reach 127.0.0.1, so only
targets that run their receiver on this host have the `oidc-test-issuer` capability.

    with TestOIDCIssuer() as issuer:
        token = issuer.mint(audience="notification-controller", repository="org/app")
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .delivery import Delivery
from .gcr import _b64url_uint

DEFAULT_AUDIENCE = "notification-controller"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"


class TestOIDCIssuer:
    """An OIDC issuer on 127.0.0.1: discovery, JWKS, and ID tokens signed at will."""

    __test__ = False  # not a pytest test class

    def __init__(self, host: str = "127.0.0.1", advertise: str | None = None) -> None:
        self.host = host  # the address it listens on
        self.advertise = advertise or host  # the host name in its URL (the tokens' `iss`)
        self.kid = secrets.token_hex(8)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0  # discovery and JWKS requests served

    @property
    def url(self) -> str:
        """The issuer URL: a Receiver's `oidcProviders[].issuerURL`, the tokens' `iss`."""
        if self._server is None:
            raise RuntimeError("the issuer is not started")
        return f"http://{self.advertise}:{self._server.server_address[1]}"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                          "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}]}

    def mint(self, audience: str = DEFAULT_AUDIENCE, issuer: str | None = None,
             expires_in: int = 300, signed_by_issuer: bool = True, **claims: Any) -> str:
        """An RS256 ID token; a negative `expires_in` expired that many seconds ago;
        `signed_by_issuer=False` signs with a key not in the JWKS (same key id)."""
        now = int(time.time())
        body = {"iss": issuer or self.url, "aud": audience, "sub": "repo:example-org/webapp",
                "iat": min(now, now + expires_in - 60), "exp": now + expires_in, **claims}
        key = self._key if signed_by_issuer else self._stranger
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": self.kid})

    def delivery(self, variant: str, token: str | None) -> Delivery:
        """A generic-oidc request: a JSON body, and the token as a bearer if any."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return Delivery("generic-oidc", variant, headers, b'{"ref":"refs/heads/main"}')

    def start(self) -> TestOIDCIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                documents = {DISCOVERY_PATH: issuer.discovery, JWKS_PATH: issuer.jwks}
                make = documents.get(self.path)
                issuer.requests += 1
                body = json.dumps(make()).encode() if make else b"not found"
                self.send_response(200 if make else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="test-oidc-issuer")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TestOIDCIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
