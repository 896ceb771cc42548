"""Nexus: `X-Nexus-Webhook-Signature: <hex HMAC-SHA1(token, body)>`; the body must be JSON."""

from __future__ import annotations

from . import payloads
from .delivery import Context, Request, Variant
from .hub import OTHER_SECRET
from .signing import hex_hmac, prefixed, tampered

HEADER = "X-Nexus-Webhook-Signature"


def _body() -> bytes:
    return payloads.compact(payloads.load("nexus-component-created"))


def _signed(secret: str, body: bytes | None = None) -> Request:
    body = _body() if body is None else body
    return {"Content-Type": "application/json", HEADER: hex_hmac("sha1", secret, body)}, body


def valid(token: str, context: Context) -> Request:
    return _signed(token)


def wrong_signature(token: str, context: Context) -> Request:
    return _signed(OTHER_SECRET)


def missing_signature(token: str, context: Context) -> Request:
    return {"Content-Type": "application/json"}, _body()


def prefixed_signature(token: str, context: Context) -> Request:
    body = _body()
    return {"Content-Type": "application/json", HEADER: prefixed("sha1", token, body)}, body


def body_changed(token: str, context: Context) -> Request:
    headers, body = _signed(token)
    return headers, tampered(body)


def invalid_json(token: str, context: Context) -> Request:
    return _signed(token, b'{"action": "CREATED", "repositoryName": ')


VARIANTS = {
    "valid": Variant(200, valid),
    "wrong signature": Variant(400, wrong_signature, "signed with another secret"),
    "missing signature": Variant(400, missing_signature),
    "prefixed signature": Variant(400, prefixed_signature, "sha1=<hex>: Nexus sends bare hex"),
    "body changed after signing": Variant(400, body_changed),
    "invalid JSON": Variant(400, invalid_json, "correctly signed, but not JSON"),
}
