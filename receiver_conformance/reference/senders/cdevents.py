"""CDEvents: no authentication; the body must be a valid CDEvent; event from `Ce-Type`.

Validity follows the CDEvents v0.4 spec as the reference checks it: the context carries a
spec version (`version`, or `specversion` from v0.5), `id`, `source`, `type` and an RFC 3339
`timestamp`; the type is `dev.cdevents.<subject>.<predicate>.<semver>` for a subject and
predicate the spec defines, with major version 0, or a custom
`dev.cdeventsx.<tool>-<subject>.<predicate>.<version>`; the subject has an `id` and a
`type`, and its `content`, optional, is an object when present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._common import decode_json
from .base import Event, RefusedRequest, WebhookRequest

_STANDARD_TYPE = re.compile(r"dev\.cdevents\.([a-z]+)\.([a-z]+)\.(.*)")
_CUSTOM_TYPE = re.compile(r"dev\.cdeventsx\.[a-z]+-[a-z]+\.[a-z]+\..*")
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)

# Subjects and their predicates in the CDEvents v0.4 specification.
KNOWN_EVENTS: dict[str, frozenset[str]] = {
    "artifact": frozenset({"deleted", "downloaded", "packaged", "published", "signed"}),
    "branch": frozenset({"created", "deleted"}),
    "build": frozenset({"finished", "queued", "started"}),
    "change": frozenset({"abandoned", "created", "merged", "reviewed", "updated"}),
    "environment": frozenset({"created", "deleted", "modified"}),
    "incident": frozenset({"detected", "reported", "resolved"}),
    "pipelinerun": frozenset({"finished", "queued", "started"}),
    "repository": frozenset({"created", "deleted", "modified"}),
    "service": frozenset({"deployed", "published", "removed", "rolledback", "upgraded"}),
    "taskrun": frozenset({"finished", "started"}),
    "testcaserun": frozenset({"finished", "queued", "skipped", "started"}),
    "testoutput": frozenset({"published"}),
    "testsuiterun": frozenset({"finished", "queued", "started"}),
    "ticket": frozenset({"closed", "created", "updated"}),
}


def _non_empty_string(section: Mapping[str, Any], key: str, where: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise RefusedRequest(f"the CDEvent {where} has no {key!r} string")
    return value


def check_event_type(event_type: str) -> None:
    """Refuse unless `event_type` is a CDEvents type the reference knows, or a custom one."""
    if _CUSTOM_TYPE.fullmatch(event_type):
        return
    match = _STANDARD_TYPE.fullmatch(event_type)
    if match is None:
        raise RefusedRequest("the CDEvent type is not of the form dev.cdevents.<subject>...")
    subject, predicate, version = match.groups()
    if predicate not in KNOWN_EVENTS.get(subject, ()):
        raise RefusedRequest("the CDEvent type names an unknown subject or predicate")
    semver = _SEMVER.fullmatch(version)
    if semver is None or semver.group(1) != "0":
        raise RefusedRequest("the CDEvent type version is not a supported semantic version")


def check_cdevent(document: Any) -> None:
    """Refuse unless the decoded body is a CDEvent (context and subject as described above)."""
    if not isinstance(document, dict):
        raise RefusedRequest("the CDEvent is not a JSON object")
    context = document.get("context")
    if not isinstance(context, dict):
        raise RefusedRequest("the CDEvent has no context object")
    if not any(isinstance(context.get(k), str) and context[k] for k in ("specversion", "version")):
        raise RefusedRequest("the CDEvent context has no 'version' or 'specversion' string")
    _non_empty_string(context, "id", "context")
    _non_empty_string(context, "source", "context")
    check_event_type(_non_empty_string(context, "type", "context"))
    if not _TIMESTAMP.fullmatch(_non_empty_string(context, "timestamp", "context")):
        raise RefusedRequest("the CDEvent context timestamp is not an RFC 3339 timestamp")
    subject = document.get("subject")
    if not isinstance(subject, dict):
        raise RefusedRequest("the CDEvent has no subject object")
    _non_empty_string(subject, "id", "subject")
    _non_empty_string(subject, "type", "subject")
    if subject.get("content") is not None and not isinstance(subject["content"], dict):
        raise RefusedRequest("the CDEvent subject content is not an object")


class CDEventsSender:
    """Validates the CDEvent body; the CloudEvents `Ce-Type` header names the event."""

    type = "cdevents"

    async def validate(self, request: WebhookRequest, secret: Mapping[str, bytes]) -> Event:
        document = decode_json(request.body, "a CDEvent")
        check_cdevent(document)
        return Event(name=request.header("Ce-Type") or "", payload=document)
