"""Signed requests in GitHub's style, shared by the github and bitbucket (Server) senders.

The signature header carries `<alg>=<hex HMAC(token, raw body)>`; the receiver accepts
`application/json` or `application/x-www-form-urlencoded` bodies (a form body carries the JSON
in its `payload` field, and the signature covers the form body as sent).
"""

from __future__ import annotations

from urllib.parse import urlencode

from .signing import prefixed, wrong

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
OTHER_SECRET = "not-the-receiver-token"


def form_body(payload: bytes) -> bytes:
    """A form-encoded body with the JSON document in its `payload` field."""
    return urlencode({"payload": payload.decode("utf-8")}).encode("ascii")


def signatures(token: str, body: bytes, sha256_header: str | None, sha1_header: str | None) -> dict:
    """Signature headers: sha256 under `sha256_header`, sha1 under `sha1_header` (None: omit)."""
    headers = {}
    if sha256_header:
        headers[sha256_header] = prefixed("sha256", token, body)
    if sha1_header:
        headers[sha1_header] = prefixed("sha1", token, body)
    return headers


def spoiled(headers: dict[str, str], name: str) -> dict[str, str]:
    """`headers` with the signature under `name` altered in its last hex digit."""
    out = dict(headers)
    out[name] = wrong(out[name])
    return out


def unprefixed(headers: dict[str, str], name: str) -> dict[str, str]:
    """`headers` with the `<alg>=` prefix stripped from the signature under `name`."""
    out = dict(headers)
    out[name] = out[name].split("=", 1)[1]
    return out
