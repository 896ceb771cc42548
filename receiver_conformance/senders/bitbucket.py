"""Bitbucket Server: JSON signed in `X-Hub-Signature` (sha256), the event in `X-Event-Key`."""

from __future__ import annotations

from . import payloads
from .delivery import Context, Request, Variant
from .hub import JSON, OTHER_SECRET, signatures, spoiled, unprefixed
from .signing import tampered

SIGNATURE = "X-Hub-Signature"
DEFAULT_EVENT = "repo:refs_changed"
LISTED_EVENTS = ("repo:refs_changed",)
UNLISTED_EVENT = "pr:opened"


def _request(
    token: str,
    context: Context,
    *,
    content_type: str | None = f"{JSON}; charset=utf-8",
    signed: bool = True,
    secret: str | None = None,
) -> Request:
    body = payloads.compact(payloads.load("bitbucket-refs-changed"))
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers["X-Event-Key"] = context.get("event", DEFAULT_EVENT)
    headers["X-Request-Id"] = "7d1f3c5e-9a2b-4c6d-8e0f-1a3b5c7d9e2f"
    if signed:
        headers.update(signatures(secret or token, body, SIGNATURE, None))
    return headers, body


def valid(token: str, context: Context) -> Request:
    return _request(token, context)


def wrong_signature(token: str, context: Context) -> Request:
    return _request(token, context, secret=OTHER_SECRET)


def altered_signature(token: str, context: Context) -> Request:
    headers, body = _request(token, context)
    return spoiled(headers, SIGNATURE), body


def missing_signature(token: str, context: Context) -> Request:
    return _request(token, context, signed=False)


def malformed_signature(token: str, context: Context) -> Request:
    headers, body = _request(token, context)
    return unprefixed(headers, SIGNATURE), body


def body_changed(token: str, context: Context) -> Request:
    headers, body = _request(token, context)
    return headers, tampered(body)


def missing_content_type(token: str, context: Context) -> Request:
    return _request(token, context, content_type=None)


def unsupported_content_type(token: str, context: Context) -> Request:
    return _request(token, context, content_type="text/plain")


def unlisted_event(token: str, context: Context) -> Request:
    return _request(token, {**context, "event": UNLISTED_EVENT})


VARIANTS = {
    "valid": Variant(200, valid, "sha256 signature, JSON body"),
    "wrong signature": Variant(400, wrong_signature, "signed with another secret"),
    "altered signature": Variant(400, altered_signature, "one hex digit changed"),
    "missing signature": Variant(400, missing_signature),
    "malformed signature": Variant(400, malformed_signature, "hex without the sha256= prefix"),
    "body changed after signing": Variant(400, body_changed),
    "missing content type": Variant(400, missing_content_type),
    "unsupported content type": Variant(400, unsupported_content_type),
    "unlisted event": Variant(400, unlisted_event, f"X-Event-Key: {UNLISTED_EVENT}"),
}
