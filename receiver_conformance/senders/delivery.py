"""One webhook request as a sender system would make it, and the HTTP call that sends it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

# Headers whose values carry no secret and help a reader of a report; any other header is
# described by its name and length only (a token or signature never appears in evidence).
PLAIN_HEADERS = frozenset(
    name.lower()
    for name in (
        "Content-Type",
        "X-GitHub-Event",
        "X-GitHub-Delivery",
        "X-Gitlab-Event",
        "X-Event-Key",
        "X-Request-Id",
        "Ce-Type",
        "Ce-Id",
        "Ce-Source",
        "Ce-Specversion",
    )
)


@dataclass(frozen=True)
class Delivery:
    """The headers and raw body of one webhook request (always a POST)."""

    sender_type: str
    variant: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def describe(self) -> str:
        """A one-line summary for evidence: header values only where they hold no secret."""
        parts = []
        for name, value in self.headers.items():
            if name.lower() in PLAIN_HEADERS:
                parts.append(f"{name}: {value}")
            else:
                parts.append(f"{name}: <{len(value)} chars>")
        headers = ", ".join(parts) if parts else "no headers"
        return f"{self.sender_type} {self.variant!r}: POST {len(self.body)}-byte body; {headers}"


# What a variant's builder returns: the request's headers and raw body.
Request = tuple[dict[str, str], bytes]
# What a builder reads besides the token: e.g. `event`, or for gcr `issuer`, `audience`, `email`.
Context = Mapping[str, Any]


@dataclass(frozen=True)
class Variant:
    """A named way of building a delivery, and the status a conformant receiver answers."""

    expected_status: int
    build: Callable[[str, Context], Request]
    note: str = ""


def send(base_url: str, path: str, delivery: Delivery, timeout: float = 10,
         chunk_size: int | None = None) -> requests.Response:
    """POST `delivery` to `base_url` + `path` on a real socket; redirects are not followed.
    With `chunk_size`, the body goes out in chunks (Transfer-Encoding: chunked)."""
    if not path.startswith("/"):
        raise ValueError("the path must start with '/'")
    url = base_url.rstrip("/") + path
    return requests.post(
        url,
        data=_chunks(delivery.body, chunk_size) if chunk_size else delivery.body,
        headers=dict(delivery.headers),
        timeout=timeout,
        allow_redirects=False,
    )


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]
