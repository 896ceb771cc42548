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


Bend = Callable[[dict[str, Any]], None]  # changes one decoded field in place


def variants(payload: str, wrong_type: Bend, wrong_item: Bend | None = None
             ) -> dict[str, Variant]:
    """The variants of a registry whose example is fixtures/payloads/<payload>.json.

    `wrong_type` changes, in place, one field the receiver decodes to a value of another type;
    `wrong_item`, for a registry with a list field, puts an item of another type in the list.
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

    def bent(bend: Bend) -> Callable[[str, Context], Request]:
        def request(token: str, context: Context) -> Request:
            document = copy.deepcopy(payloads.load(payload))
            bend(document)
            return dict(JSON_HEADERS), payloads.compact(document)
        return request

    more = {"wrong list item type": Variant(400, bent(wrong_item))} if wrong_item else {}
    return {
        "valid": Variant(200, valid),
        "null body": Variant(200, null_body, "JSON null: an empty notification"),
        "trailing data": Variant(200, trailing_data, "the example followed by ' x'"),
        "invalid JSON": Variant(400, invalid_json, "the example cut short"),
        "empty body": Variant(400, empty_body),
        "wrong field type": Variant(400, bent(wrong_type)),
        **more,
    }
