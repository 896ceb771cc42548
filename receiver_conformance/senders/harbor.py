"""Harbor: the token itself, verbatim, in the `Authorization` header."""

from __future__ import annotations

from . import payloads
from .delivery import Context, Request, Variant
from .hub import OTHER_SECRET


def _request(authorization: str | None) -> Request:
    body = payloads.compact(payloads.load("harbor-push"))
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers, body


def valid(token: str, context: Context) -> Request:
    return _request(token)


def wrong_token(token: str, context: Context) -> Request:
    return _request(OTHER_SECRET)


def missing_token(token: str, context: Context) -> Request:
    return _request(None)


def bearer_token(token: str, context: Context) -> Request:
    return _request(f"Bearer {token}")


VARIANTS = {
    "valid": Variant(200, valid),
    "wrong token": Variant(400, wrong_token),
    "missing token": Variant(400, missing_token),
    "bearer token": Variant(400, bearer_token, "'Bearer ' before the token: not equal to it"),
}
