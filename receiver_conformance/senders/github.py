"""GitHub: HMAC-signed JSON or form-encoded deliveries with an `X-GitHub-Event` header.

GitHub sends both `X-Hub-Signature-256` (sha256) and the legacy `X-Hub-Signature` (sha1); a
receiver checks the sha256 one when present, else the sha1 one.
"""

from __future__ import annotations

import uuid

from . import payloads
from .delivery import Context, Request, Variant
from .hub import FORM, JSON, OTHER_SECRET, form_body, signatures, spoiled, unprefixed
from .signing import tampered

SHA256 = "X-Hub-Signature-256"
SHA1 = "X-Hub-Signature"
EVENT_PAYLOADS = {"ping": "github-ping", "push": "github-push", "package": "github-package"}
DEFAULT_EVENT = "push"
# The events a Receiver under test lists; "unlisted event" sends one outside them.
LISTED_EVENTS = ("ping", "push", "package")
UNLISTED_EVENT = "issues"


def _payload(context: Context) -> bytes:
    """The JSON body: `context["payload"]` when given, else the example for the event."""
    if context.get("payload") is not None:
        return context["payload"]
    name = EVENT_PAYLOADS.get(context.get("event", DEFAULT_EVENT), "github-push")
    return payloads.compact(payloads.load(name))


def _request(
    token: str,
    context: Context,
    *,
    body: bytes | None = None,
    content_type: str | None = JSON,
    sha256: bool = True,
    sha1: bool = True,
    secret: str | None = None,
) -> Request:
    event = context.get("event", DEFAULT_EVENT)
    body = _payload(context) if body is None else body
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers["X-GitHub-Event"] = event
    headers["X-GitHub-Delivery"] = str(uuid.uuid4())
    headers.update(
        signatures(secret or token, body, SHA256 if sha256 else None, SHA1 if sha1 else None)
    )
    return headers, body


def valid(token: str, context: Context) -> Request:
    return _request(token, context)


def sha256_only(token: str, context: Context) -> Request:
    return _request(token, context, sha1=False)


def legacy_sha1_only(token: str, context: Context) -> Request:
    return _request(token, context, sha256=False)


def form_encoded(token: str, context: Context) -> Request:
    body = form_body(_payload(context))
    return _request(token, context, body=body, content_type=FORM)


def json_with_charset(token: str, context: Context) -> Request:
    return _request(token, context, content_type=f"{JSON}; charset=utf-8")


def wrong_signature(token: str, context: Context) -> Request:
    return _request(token, context, secret=OTHER_SECRET)


def wrong_sha256_valid_sha1(token: str, context: Context) -> Request:
    headers, body = _request(token, context)
    return spoiled(headers, SHA256), body


def missing_signature(token: str, context: Context) -> Request:
    return _request(token, context, sha256=False, sha1=False)


def malformed_signature(token: str, context: Context) -> Request:
    headers, body = _request(token, context, sha1=False)
    return unprefixed(headers, SHA256), body


def body_changed(token: str, context: Context) -> Request:
    headers, body = _request(token, context)
    return headers, tampered(body)


def form_signed_over_payload(token: str, context: Context) -> Request:
    payload = _payload(context)
    headers, _ = _request(token, context, body=payload, content_type=FORM)
    return headers, form_body(payload)


def missing_content_type(token: str, context: Context) -> Request:
    return _request(token, context, content_type=None)


def unsupported_content_type(token: str, context: Context) -> Request:
    return _request(token, context, content_type="text/plain")


def unlisted_event(token: str, context: Context) -> Request:
    return _request(token, {**context, "event": UNLISTED_EVENT})


VARIANTS = {
    "valid": Variant(200, valid, "sha256 and sha1 signatures, JSON body"),
    "sha256 only": Variant(200, sha256_only),
    "legacy sha1 only": Variant(200, legacy_sha1_only),
    "form-encoded": Variant(200, form_encoded, "JSON in the form's payload field"),
    "json with charset": Variant(200, json_with_charset),
    "wrong signature": Variant(400, wrong_signature, "signed with another secret"),
    "wrong sha256 with valid sha1": Variant(400, wrong_sha256_valid_sha1),
    "missing signature": Variant(400, missing_signature),
    "malformed signature": Variant(400, malformed_signature, "hex without the sha256= prefix"),
    "body changed after signing": Variant(400, body_changed),
    "form signed over payload only": Variant(400, form_signed_over_payload),
    "missing content type": Variant(400, missing_content_type),
    "unsupported content type": Variant(400, unsupported_content_type),
    "unlisted event": Variant(400, unlisted_event, f"X-GitHub-Event: {UNLISTED_EVENT}"),
}
