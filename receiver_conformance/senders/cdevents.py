"""CDEvents: the body is a CDEvent (spec v0.4.1), the event type also in the `Ce-Type` header.

The receiver validates the body against the CDEvents schema of its type; it matches
`spec.events` against `Ce-Type`.
"""

from __future__ import annotations

import copy
from typing import Any

from . import payloads
from .delivery import Context, Request, Variant

MERGED = "dev.cdevents.change.merged.0.2.0"
ABANDONED = "dev.cdevents.change.abandoned.0.2.0"
LISTED_EVENTS = (MERGED,)
UNLISTED_EVENT = ABANDONED


def _event(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(payloads.load("cdevents-change-merged"))
    document["context"].update(changes)
    return document


def _request(document: dict[str, Any] | None, ce_type: str, body: bytes | None = None) -> Request:
    headers = {
        "Content-Type": "application/json",
        "Ce-Specversion": "1.0",
        "Ce-Type": ce_type,
        "Ce-Source": "/ci/example-org/webapp",
        "Ce-Id": "3c5e7a9b-1d2f-4a6c-8e0b-2d4f6a8c0e1f",
    }
    return headers, payloads.compact(document) if body is None else body


def valid(token: str, context: Context) -> Request:
    return _request(_event(), MERGED)


def invalid_json(token: str, context: Context) -> Request:
    return _request(None, MERGED, payloads.compact(_event())[:-9])


def missing_context_id(token: str, context: Context) -> Request:
    document = _event()
    del document["context"]["id"]
    return _request(document, MERGED)


def unknown_event_type(token: str, context: Context) -> Request:
    unknown = "dev.cdevents.change.teleported.0.1.0"
    return _request(_event(type=unknown), unknown)


def not_a_cdevent(token: str, context: Context) -> Request:
    return _request(payloads.load("generic"), MERGED)


def unlisted_event(token: str, context: Context) -> Request:
    return _request(_event(type=ABANDONED), ABANDONED)


VARIANTS = {
    "valid": Variant(200, valid, MERGED),
    "invalid JSON": Variant(400, invalid_json),
    "missing context id": Variant(400, missing_context_id),
    "unknown event type": Variant(400, unknown_event_type),
    "not a CDEvent": Variant(400, not_a_cdevent, "plain JSON without context and subject"),
    "unlisted event": Variant(400, unlisted_event, f"a valid {ABANDONED}"),
}
