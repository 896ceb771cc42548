"""Generic OIDC: a bearer ID token from one of the Receiver's `spec.oidcProviders`.

As Flux (go-oidc) does, on every request: the provider is the one whose `issuerURL` equals the
token's (unverified) `iss`; its discovery document (`<issuer>/.well-known/openid-configuration`)
must name that same issuer; the token must be signed by a key of its `jwks_uri` with an
algorithm it lists (RS256 when it lists none); `iss` must equal the issuer, `aud` contain the
provider's audience (default `notification-controller`), `exp` must not be past (no leeway),
`nbf` not more than 5 minutes ahead. Then every CEL validation over `claims` must hold. The
verified claims are the event's `claims`, offered to the Receiver's filters.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import jwt

from .. import api
from ..oidc_claims import ClaimsError, ClaimsProcessor
from .base import Event, RefusedRequest, WebhookRequest

BEARER = "Bearer "
NBF_LEEWAY_SECONDS = 300
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
                                  "PS256", "PS384", "PS512", "EdDSA"})
FETCH_TIMEOUT_SECONDS = 10.0


class GenericOIDCSender:
    """Verifies ID tokens against the Receiver's OIDC providers."""

    type = "generic-oidc"

    def __init__(self, timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes],
                       providers: Sequence[api.OIDCProvider] = ()) -> Event:
        """The verified claims as the event's `claims`, or RefusedRequest."""
        if not providers:
            raise RefusedRequest("generic-oidc receiver has no oidcProviders configured")
        authorization = request.header("Authorization") or ""
        if not authorization.startswith(BEARER):
            raise RefusedRequest("the Authorization header is missing or malformed")
        token = authorization[len(BEARER):].strip()
        if not token:
            raise RefusedRequest("the Authorization header is missing a bearer token")
        issuer = unverified_issuer(token)
        provider = next((p for p in providers if p.issuer_url == issuer), None)
        if provider is None:
            raise RefusedRequest("no oidcProvider configured for the token's issuer")
        claims = await self.verify(token, provider)
        try:
            ClaimsProcessor(provider).evaluate(claims)
        except ClaimsError as exc:
            raise RefusedRequest(str(exc)) from None
        return Event(claims=claims)

    async def verify(self, token: str, provider: api.OIDCProvider) -> dict[str, Any]:
        """The claims of `token` once verified against `provider`'s discovered keys."""
        discovery = await self._get_json(
            provider.issuer_url.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(discovery, dict) or discovery.get("issuer") != provider.issuer_url:
            raise RefusedRequest("the provider's discovery document names another issuer")
        listed = discovery.get("id_token_signing_alg_values_supported") or []
        algorithms = [a for a in listed if a in SUPPORTED_ALGORITHMS] or ["RS256"]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise RefusedRequest("the token is malformed") from None
        alg = header.get("alg")
        if alg not in algorithms:
            raise RefusedRequest("the token is signed with an algorithm the issuer does not use")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise RefusedRequest("the provider's discovery document has no jwks_uri")
        claims = _verified_payload(token, alg, header.get("kid"), await self._get_json(jwks_uri))
        check_claims(claims, provider)
        return claims

    async def _get_json(self, url: str) -> Any:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(url) as response,
            ):
                if response.status != 200:
                    raise RefusedRequest(f"the OIDC provider answered {response.status}")
                return json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise RefusedRequest("failed to reach the OIDC provider") from None


def unverified_issuer(token: str) -> str:
    """The `iss` of a JWT, unverified: only used to pick the provider."""
    parts = token.split(".")
    if len(parts) != 3:
        raise RefusedRequest("the token is not a JWT")
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        raise RefusedRequest("the token payload is not JSON") from None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    if not isinstance(issuer, str) or not issuer:
        raise RefusedRequest("the token has no 'iss' claim")
    return issuer


def _verified_payload(token: str, alg: str, kid: Any, jwks: Any) -> dict[str, Any]:
    """The payload of `token` if a key of `jwks` (the one named `kid`, else any) signed it."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise RefusedRequest("the provider's JWKS is not a key set")
    candidates = [k for k in keys if isinstance(k, dict) and (not kid or k.get("kid") == kid)]
    for jwk in candidates:
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
            return jwt.decode(token, key, algorithms=[alg], options={
                "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "verify_aud": False, "verify_iss": False})
        except jwt.PyJWTError:
            continue
    raise RefusedRequest("failed to verify the token's signature")


def check_claims(claims: Mapping[str, Any], provider: api.OIDCProvider,
                 now: float | None = None) -> None:
    """go-oidc's checks once the signature holds: issuer, audience, expiry, not-before."""
    if claims.get("iss") != provider.issuer_url:
        raise RefusedRequest("the token was issued by a different provider")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if provider.audience not in audiences:
        raise RefusedRequest("the token is for another audience")
    now = time.time() if now is None else now
    expiry = claims.get("exp")
    if not isinstance(expiry, int | float) or isinstance(expiry, bool) or expiry < now:
        raise RefusedRequest("the token has expired")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and now + NBF_LEEWAY_SECONDS < not_before:
        raise RefusedRequest("the token is not valid yet")
