"""HMAC signatures as the sender systems compute them."""

from __future__ import annotations

import hashlib
import hmac

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def hex_hmac(algorithm: str, key: str, body: bytes) -> str:
    """Lower-case hex HMAC of `body` keyed by `key` (UTF-8)."""
    try:
        digest = ALGORITHMS[algorithm]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise ValueError(f"unknown HMAC algorithm {algorithm!r}; known: {known}") from None
    return hmac.new(key.encode("utf-8"), body, digest).hexdigest()


def prefixed(algorithm: str, key: str, body: bytes) -> str:
    """The `<alg>=<hex>` form used by GitHub, Bitbucket Server and generic-hmac."""
    return f"{algorithm}={hex_hmac(algorithm, key, body)}"


def wrong(signature: str) -> str:
    """A signature of the same shape whose last hex digit is changed."""
    last = signature[-1]
    return signature[:-1] + ("0" if last != "0" else "1")


def tampered(body: bytes) -> bytes:
    """`body` changed after signing: a field added to a JSON object, else one byte appended."""
    if body.endswith(b"}"):
        return body[:-1] + b',"tampered":true}'
    return body + b"x"
