"""The example payloads in fixtures/payloads/."""

from __future__ import annotations

import json
from typing import Any

from receiver_conformance.paths import FIXTURES

PAYLOADS = FIXTURES / "payloads"


def raw(name: str) -> bytes:
    """The bytes of fixtures/payloads/<name>.json."""
    path = PAYLOADS / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PAYLOADS.glob("*.json"))
        raise FileNotFoundError(f"no payload {name!r} in {PAYLOADS}; known: {known}")
    return path.read_bytes()


def load(name: str) -> Any:
    """The decoded JSON of fixtures/payloads/<name>.json."""
    return json.loads(raw(name))


def compact(document: Any) -> bytes:
    """JSON bytes without insignificant whitespace."""
    return json.dumps(document, separators=(",", ":")).encode("utf-8")
