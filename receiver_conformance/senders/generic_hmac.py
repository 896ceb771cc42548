"""generic-hmac: `X-Signature: <alg>=<hex HMAC(token, body)>`, alg sha1, sha256 or sha512."""

from __future__ import annotations

from . import payloads
from .delivery import Context, Request, Variant
from .hub import OTHER_SECRET
from .signing import hex_hmac, prefixed, tampered

HEADER = "X-Signature"


def _body() -> bytes:
    return payloads.compact(payloads.load("generic"))


def _signed(algorithm: str, secret: str, body: bytes | None = None) -> Request:
    body = _body() if body is None else body
    return {"Content-Type": "application/json", HEADER: prefixed(algorithm, secret, body)}, body


def signed_with(algorithm: str):
    """A builder signing with `algorithm`."""

    def build(token: str, context: Context) -> Request:
        return _signed(algorithm, token)

    return build


def wrong_signature(token: str, context: Context) -> Request:
    return _signed("sha256", OTHER_SECRET)


def missing_signature(token: str, context: Context) -> Request:
    return {"Content-Type": "application/json"}, _body()


def malformed_signature(token: str, context: Context) -> Request:
    body = _body()
    return {"Content-Type": "application/json", HEADER: hex_hmac("sha256", token, body)}, body


def unknown_algorithm(token: str, context: Context) -> Request:
    body = _body()
    headers = {"Content-Type": "application/json", HEADER: f"md5={hex_hmac('sha256', token, body)}"}
    return headers, body


def body_changed(token: str, context: Context) -> Request:
    headers, body = _signed("sha256", token)
    return headers, tampered(body)


VARIANTS = {
    "valid": Variant(200, signed_with("sha256")),
    "valid sha1": Variant(200, signed_with("sha1")),
    "valid sha256": Variant(200, signed_with("sha256")),
    "valid sha512": Variant(200, signed_with("sha512")),
    "wrong signature": Variant(400, wrong_signature, "signed with another secret"),
    "missing signature": Variant(400, missing_signature),
    "malformed signature": Variant(400, malformed_signature, "hex without the <alg>= prefix"),
    "unknown algorithm": Variant(400, unknown_algorithm, "md5= prefix"),
    "body changed after signing": Variant(400, body_changed),
}
