"""Helpers shared by the sender types: secrets, signatures, Content-Type and JSON bodies."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from ..gojson import go_json
from .base import RefusedRequest, WebhookRequest

HASHES: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"\s*({_TOKEN}(?:/{_TOKEN})?)\s*")
_PARAMETER = re.compile(rf';\s*(?:{_TOKEN}\s*=\s*(?:{_TOKEN}|"(?:[^"\\]|\\.)*")\s*)?')


def raw(value: str) -> bytes:
    """The bytes of a header value as they came off the wire (the server decodes UTF-8)."""
    return value.encode("utf-8", "surrogateescape")


def secret_value(secret: Mapping[str, bytes], key: str) -> bytes:
    """The value of `key` in the Secret's data; a missing or empty value refuses the request."""
    value = secret.get(key)
    if not value:
        raise RefusedRequest(f"the Secret has no {key!r} key")
    return value


def token(secret: Mapping[str, bytes]) -> bytes:
    """The Receiver's token, the Secret's `token` key (present, possibly empty)."""
    value = secret.get("token")
    if value is None:
        raise RefusedRequest("the Secret has no 'token' key")
    return value


def check_header_equals_token(request: WebhookRequest, header: str, expected: bytes) -> None:
    """Refuse unless `header` is present and equal to `expected` (constant-time)."""
    given = request.header(header)
    if given is None:
        raise RefusedRequest(f"missing {header} header")
    if not hmac.compare_digest(raw(given), expected):
        raise RefusedRequest(f"the {header} header does not match the token")


def hmac_hex(algorithm: str, key: bytes, body: bytes) -> str:
    """Lower-case hex HMAC of `body` under `key`."""
    return hmac.new(key, body, HASHES[algorithm]).hexdigest()


def check_prefixed_signature(header: str, signature: str | None, body: bytes, key: bytes) -> None:
    """Check a `<alg>=<hex HMAC>` signature (alg sha1, sha256 or sha512) over `body`.

    Hex digits may be upper or lower case; the comparison is constant-time on the digests.
    """
    if not signature:
        raise RefusedRequest(f"missing {header} header")
    algorithm, sep, digest_hex = signature.partition("=")
    if not sep:
        raise RefusedRequest(f"the {header} header is not of the form <algorithm>=<hex digest>")
    if algorithm not in HASHES:
        raise RefusedRequest(f"the {header} header names an unknown algorithm")
    if not _HEX.fullmatch(digest_hex):
        raise RefusedRequest(f"the {header} header digest is not valid hex")
    expected = hmac.new(key, body, HASHES[algorithm]).digest()
    if not hmac.compare_digest(bytes.fromhex(digest_hex), expected):
        raise RefusedRequest(f"the {header} signature does not match the body")


def parse_media_type(value: str) -> str | None:
    """The lower-cased media type of `value`, parameters checked and dropped, or None where
    Go's mime.ParseMediaType fails (a bare token such as `text` is a media type to it)."""
    match = _MEDIA_TYPE.match(value)
    if match is None or not value.strip():
        return None
    position = match.end()
    while position < len(value):
        parameter = _PARAMETER.match(value, position)
        if parameter is None or parameter.end() == position:
            return None
        position = parameter.end()
    return match.group(1).lower()


def media_type(request: WebhookRequest) -> str:
    """The lower-cased media type of the Content-Type header, parameters checked and dropped."""
    value = request.header("Content-Type")
    if value is None or not value.strip():
        raise RefusedRequest("missing Content-Type header")
    media = parse_media_type(value)
    if media is None:
        raise RefusedRequest("malformed Content-Type header")
    return media


def decode_json(body: bytes, what: str, stream: bool = False) -> Any:
    """Decode a JSON body (see go_json) or refuse the request, naming `what` was expected."""
    try:
        return go_json(body, stream)
    except (ValueError, RecursionError):
        raise RefusedRequest(f"the body is not valid JSON ({what})") from None


def try_json(body: bytes) -> Any:
    """The decoded JSON body, or None when it is not JSON."""
    try:
        return go_json(body)
    except (ValueError, RecursionError):
        return None


def github_style_payload(request: WebhookRequest, secret: Mapping[str, bytes]) -> Any:
    """Validate a GitHub-style delivery (GitHub, Bitbucket Server) and return its JSON payload.

    The Content-Type must be application/json or application/x-www-form-urlencoded (the JSON
    then sits in the `payload` form field). The signature, `X-Hub-Signature-256` or else the
    legacy `X-Hub-Signature`, covers the raw body as sent. The payload is None if not JSON.
    """
    kind = media_type(request)
    if kind not in ("application/json", "application/x-www-form-urlencoded"):
        raise RefusedRequest(
            "Content-Type must be application/json or application/x-www-form-urlencoded"
        )
    header = "X-Hub-Signature-256"
    signature = request.header(header)
    if not signature:
        header = "X-Hub-Signature"
        signature = request.header(header)
    if not signature:
        raise RefusedRequest("missing X-Hub-Signature-256 or X-Hub-Signature header")
    check_prefixed_signature(header, signature, request.body, token(secret))
    if kind == "application/json":
        return try_json(request.body)
    try:
        form = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    field = next((value for name, value in form if name == "payload"), "")
    return try_json(field.encode())


# Shapes of registry webhook bodies, as the reference decodes them: a dict maps member names to
# shapes, STRING is a string, TIME an RFC 3339 timestamp string, [shape] a list of that shape.
# JSON null is accepted anywhere (it decodes to an empty value); unknown members are ignored.
STRING = "string"
TIME = "time"
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)


def check_shape(value: Any, shape: Any, where: str = "body") -> None:
    """Refuse unless the decoded JSON `value` fits `shape` (see STRING, TIME above)."""
    if value is None:
        return
    if shape == STRING:
        if not isinstance(value, str):
            raise RefusedRequest(f"{where} must be a string")
    elif shape == TIME:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise RefusedRequest(f"{where} must be an RFC 3339 timestamp")
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise RefusedRequest(f"{where} must be a list")
        for index, item in enumerate(value):
            check_shape(item, shape[0], f"{where}[{index}]")
    else:
        if not isinstance(value, dict):
            raise RefusedRequest(f"{where} must be a JSON object")
        for member, member_value in value.items():
            # Member names match case-insensitively, as the reference's decoder does.
            for name, member_shape in shape.items():
                if member.lower() == name.lower():
                    check_shape(member_value, member_shape, f"{where}.{name}")


def registry_payload(body: bytes, shape: Mapping[str, Any], registry: str,
                     stream: bool = True) -> Any:
    """Decode a registry's webhook body into its shape, as Flux decodes it into a struct:
    with Go's json.Decoder (`stream`: trailing data ignored) or json.Unmarshal; JSON `null`
    leaves the struct empty, so it is an empty payload."""
    payload = decode_json(body, f"a {registry} webhook payload", stream)
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise RefusedRequest(f"the body is not a {registry} webhook payload (a JSON object)")
    check_shape(payload, shape)
    return payload
