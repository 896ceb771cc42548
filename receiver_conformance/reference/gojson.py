"""JSON bodies decoded as Flux's Go code decodes them."""

from __future__ import annotations

import json
from typing import Any


def go_json(body: bytes, stream: bool = False) -> Any:
    """Decode JSON as Go does: invalid UTF-8 in strings becomes U+FFFD; with `stream` (Go's
    json.Decoder) only the first value counts and whatever follows it is ignored, else
    (json.Unmarshal) the body must be exactly one value. Raises ValueError or RecursionError."""
    text = body.decode("utf-8", "replace")
    if stream:
        return json.JSONDecoder().raw_decode(text, len(text) - len(text.lstrip()))[0]
    return json.loads(text)
