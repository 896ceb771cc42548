"""Requests that are almost right: a path, a token or a signature one small step off.

Each table maps the sentence a feature uses to a function that bends one value; a
conformant receiver refuses every bent value but those Flux accepts (upper-case hex in a
GitHub signature: Go's hex decoder takes either case).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

from . import github
from .delivery import Delivery
from .signing import ALGORITHMS, hex_hmac

Bend = Callable[[str], str]


def _last_changed(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def _upper(text: str) -> str:
    bent = text.upper()
    if bent == text:
        raise ValueError("the value has no lower-case letter to raise")
    return bent


PATHS: dict[str, Bend] = {
    "in upper-case hex": lambda path: "/hook/" + _upper(path.removeprefix("/hook/")),
    "with a trailing slash": lambda path: path + "/",
    "without its last character": lambda path: path[:-1],
    "under another prefix": lambda path: "/hooks/" + path.removeprefix("/hook/"),
}

TOKENS: dict[str, Bend] = {
    "its last character changed": _last_changed,
    "in upper case": _upper,
    "without its last character": lambda token: token[:-1],
}


def _sha256_base64(token: str, body: bytes) -> str:
    digest = hmac.new(token.encode(), body, ALGORITHMS["sha256"]).digest()
    return "sha256=" + base64.b64encode(digest).decode()


# X-Hub-Signature-256 values: (status a conformant receiver answers, builder).
SIGNATURES: dict[str, tuple[int, Callable[[str, bytes], str]]] = {
    "in upper-case hex": (200, lambda t, b: "sha256=" + _upper(hex_hmac("sha256", t, b))),
    "in base64": (400, _sha256_base64),
    "with an upper-case algorithm name": (400, lambda t, b: "SHA256=" + hex_hmac("sha256", t, b)),
    "one hex digit short": (400, lambda t, b: "sha256=" + hex_hmac("sha256", t, b)[:-1]),
    "keyed by the token with its last character changed":
        (400, lambda t, b: "sha256=" + hex_hmac("sha256", _last_changed(t), b)),
}


def github_signed(token: str, how: str, event: str = "push") -> Delivery:
    """GitHub's delivery of `event` whose only signature, X-Hub-Signature-256, is `how`."""
    headers, body = github.sha256_only(token, {"event": event})
    headers[github.SHA256] = SIGNATURES[how][1](token, body)
    return Delivery("github", f"signature {how}", headers, body)


def github_event_header(token: str, header: str | None, payload_event: str = "push") -> Delivery:
    """A signed GitHub delivery with the body of `payload_event`, announced by the
    X-GitHub-Event `header` (None: no X-GitHub-Event header at all)."""
    headers, body = github.valid(token, {"event": payload_event})
    if header is None:
        del headers["X-GitHub-Event"]
    else:
        headers["X-GitHub-Event"] = header
    what = f"X-GitHub-Event {header!r}" if header else "no X-GitHub-Event"
    return Delivery("github", f"{payload_event} body, {what}", headers, body)


def without_header(delivery: Delivery, header: str) -> Delivery:
    """`delivery` without `header` (matched case-insensitively)."""
    headers = {k: v for k, v in delivery.headers.items() if k.lower() != header.lower()}
    return Delivery(delivery.sender_type, f"{delivery.variant}, no {header}", headers,
                    delivery.body)

