"""Google Container Registry / Artifact Registry via a Pub/Sub push subscription.

The request carries `Authorization: Bearer <Google OIDC ID token>`. The token must be signed
(RS256) by a key from the key source, issued by accounts.google.com, for the Secret's
`audience`, to the Secret's `email` with `email_verified` true, and not expired. The body is a
Pub/Sub push message whose base64 `message.data` is the registry notification
(`action`, `digest`, `tag`); that notification, not the envelope, is the event payload.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import jwt

from ._common import STRING, TIME, check_shape, decode_json, secret_value
from .base import Event, RefusedRequest, WebhookRequest
from .google_keys import KeySource, KeySourceError

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 10
BEARER = "Bearer "
ENVELOPE_SHAPE = {
    "message": {"data": STRING, "messageId": STRING, "publishTime": TIME, "subscription": STRING}
}
NOTIFICATION_SHAPE = {"action": STRING, "digest": STRING, "tag": STRING}


class GCRSender:
    """Verifies the Pub/Sub push's ID token, then unwraps the registry notification."""

    type = "gcr"

    def __init__(self, keys: KeySource) -> None:
        self.keys = keys

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        email = secret_value(secret, "email").decode("utf-8", "replace")
        audience = secret_value(secret, "audience").decode("utf-8", "replace")
        authorization = request.header("Authorization") or ""
        if not authorization.startswith(BEARER):
            raise RefusedRequest("missing Bearer token in the Authorization header")
        await self.verify_id_token(authorization[len(BEARER) :], email, audience)
        unwrapped = notification(request.body)
        return Event(payload=unwrapped, body=json.dumps(unwrapped).encode())

    async def verify_id_token(self, token: str, email: str, audience: str) -> dict[str, Any]:
        """Return the claims of a valid ID token for `email` and `audience`, else refuse."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise RefusedRequest("the ID token is malformed") from None
        if header.get("alg") != "RS256":
            raise RefusedRequest("the ID token is not signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise RefusedRequest("the ID token names no signing key (kid)")
        key = await self._signing_key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=audience,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise RefusedRequest("the ID token has expired") from None
        except jwt.InvalidAudienceError:
            raise RefusedRequest("the ID token is for another audience") from None
        except jwt.InvalidSignatureError:
            raise RefusedRequest("the ID token signature is invalid") from None
        except jwt.MissingRequiredClaimError as error:
            raise RefusedRequest(f"the ID token has no {error.claim!r} claim") from None
        except jwt.ImmatureSignatureError:
            raise RefusedRequest("the ID token is not valid yet") from None
        except jwt.InvalidTokenError:
            raise RefusedRequest("the ID token is invalid") from None
        if claims.get("iss") not in ISSUERS:
            raise RefusedRequest("the ID token was not issued by accounts.google.com")
        if claims.get("email") != email:
            raise RefusedRequest("the ID token email is not the Secret's email")
        if claims.get("email_verified") is not True:
            raise RefusedRequest("the ID token email is not verified")
        return claims

    async def _signing_key(self, kid: str) -> Any:
        try:
            key = _find_key(await self.keys.keys(), kid)
            if key is None:
                key = _find_key(await self.keys.keys(refresh=True), kid)
        except KeySourceError:
            raise RefusedRequest("cannot obtain the keys that sign ID tokens") from None
        if key is None:
            raise RefusedRequest("the ID token is signed by an unknown key")
        return key


def _find_key(jwks: Mapping[str, Any], kid: str) -> Any:
    """The RSA public key with id `kid` in a JWKS, or None."""
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("kid") != kid:
            continue
        try:
            return jwt.PyJWK(jwk, algorithm="RS256").key
        except jwt.PyJWTError:
            continue
    return None


def notification(body: bytes) -> dict[str, str]:
    """The registry notification inside a Pub/Sub push message body."""
    envelope = decode_json(body, "a Pub/Sub push message", stream=True)
    if not isinstance(envelope, dict):
        raise RefusedRequest("the body is not a Pub/Sub push message (a JSON object)")
    check_shape(envelope, ENVELOPE_SHAPE)
    message = envelope.get("message") or {}
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError):
        raise RefusedRequest("the Pub/Sub message data is not base64") from None
    decoded = decode_json(data, "a registry notification in the Pub/Sub message data")
    if not isinstance(decoded, dict):
        raise RefusedRequest("the Pub/Sub message data is not a JSON object")
    check_shape(decoded, NOTIFICATION_SHAPE, "message.data")
    return {name: decoded.get(name) or "" for name in NOTIFICATION_SHAPE}
