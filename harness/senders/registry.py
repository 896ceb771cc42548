"""Container registries whose webhooks carry no secret (dockerhub, quay, acr).

The receiver only checks that the body decodes as the registry's JSON notification: invalid
JSON, an empty body, or a field of the wrong JSON type is refused. As Flux decodes the body
with Go's json.Decoder into a struct, JSON `null` (an empty notification) and data after the
first JSON value are accepted.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from . import payloads
from .delivery import Context, Request, Variant

JSON_HEADERS = {"Content-Type": "application/json"}


def variants(payload: str, wrong_type: Callable[[dict[str, Any]], None]) -> dict[str, Variant]:
    """The variants of a registry whose example is fixtures/payloads/<payload>.json.

    `wrong_type` changes, in place, one field the receiver decodes to a value of another type.
    """

    def valid(token: str, context: Context) -> Request:
        return dict(JSON_HEADERS), payloads.compact(payloads.load(payload))

    def invalid_json(token: str, context: Context) -> Request:
        return dict(JSON_HEADERS), payloads.compact(payloads.load(payload))[:-7]

    def empty_body(token: str, context: Context) -> Request:
        return dict(JSON_HEADERS), b""

    def null_body(token: str, context: Context) -> Request:
        return dict(JSON_HEADERS), b"null"

    def trailing_data(token: str, context: Context) -> Request:
        return dict(JSON_HEADERS), payloads.compact(payloads.load(payload)) + b" x"

    def wrong_field_type(token: str, context: Context) -> Request:
        document = copy.deepcopy(payloads.load(payload))
        wrong_type(document)
        return dict(JSON_HEADERS), payloads.compact(document)

    return {
        "valid": Variant(200, valid),
        "null body": Variant(200, null_body, "JSON null: an empty notification"),
        "trailing data": Variant(200, trailing_data, "the example followed by ' x'"),
        "invalid JSON": Variant(400, invalid_json, "the example cut short"),
        "empty body": Variant(400, empty_body),
        "wrong field type": Variant(400, wrong_field_type),
    }
