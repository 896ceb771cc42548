"""Generic: no authentication and no event; any body is accepted."""

from __future__ import annotations

from . import payloads
from .delivery import Context, Request, Variant


def valid(token: str, context: Context) -> Request:
    return {"Content-Type": "application/json"}, payloads.compact(payloads.load("generic"))


def empty_body(token: str, context: Context) -> Request:
    return {}, b""


def plain_text(token: str, context: Context) -> Request:
    return {"Content-Type": "text/plain"}, b"build-webapp succeeded\n"


VARIANTS = {
    "valid": Variant(200, valid),
    "empty body": Variant(200, empty_body),
    "plain text body": Variant(200, plain_text),
}
