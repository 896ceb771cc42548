"""GitLab: the token itself in `X-Gitlab-Token`, the event in `X-Gitlab-Event`."""

from __future__ import annotations

from . import payloads
from .delivery import Context, Request, Variant
from .hub import OTHER_SECRET

DEFAULT_EVENT = "Push Hook"
LISTED_EVENTS = ("Push Hook", "Tag Push Hook")
UNLISTED_EVENT = "Issue Hook"


def _request(token: str | None, context: Context) -> Request:
    body = payloads.compact(payloads.load("gitlab-push"))
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": context.get("event", DEFAULT_EVENT),
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return headers, body


def valid(token: str, context: Context) -> Request:
    return _request(token, context)


def wrong_token(token: str, context: Context) -> Request:
    return _request(OTHER_SECRET, context)


def missing_token(token: str, context: Context) -> Request:
    return _request(None, context)


def unlisted_event(token: str, context: Context) -> Request:
    return _request(token, {**context, "event": UNLISTED_EVENT})


VARIANTS = {
    "valid": Variant(200, valid),
    "wrong token": Variant(400, wrong_token),
    "missing token": Variant(400, missing_token),
    "unlisted event": Variant(400, unlisted_event, f"X-Gitlab-Event: {UNLISTED_EVENT}"),
}
