"""Senders without authentication that check the body: dockerhub, quay, acr, cdevents, generic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from receiver_conformance.reference.senders import Event, RefusedRequest, WebhookRequest, sender_for

SECRET = {"token": b"unused-token"}

DOCKERHUB = {
    "callback_url": "https://registry.hub.docker.com/u/stefanprodan/podinfo/hook/abc/",
    "push_data": {"pushed_at": 1700000000, "pusher": "stefanprodan", "tag": "6.5.0"},
    "repository": {"repo_url": "https://hub.docker.com/r/stefanprodan/podinfo", "star_count": 7},
}
QUAY = {
    "repository": "stefanprodan/podinfo",
    "docker_url": "quay.io/stefanprodan/podinfo",
    "updated_tags": ["6.5.0", "latest"],
}
ACR = {
    "id": "cb8c3971-9adc-488b-bdd8-43cbb4974ff5",
    "action": "push",
    "target": {"repository": "podinfo", "tag": "6.5.0", "digest": "sha256:abc", "size": 708},
}


def cdevent(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "context": {
            "version": "0.4.1",
            "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "/event/source/123",
            "type": "dev.cdevents.pipelinerun.queued.0.2.0",
            "timestamp": "2023-03-20T14:27:05.315384Z",
        },
        "subject": {
            "id": "mySubject123",
            "source": "/event/source/123",
            "type": "pipelineRun",
            "content": {"pipelineName": "myPipeline", "url": "https://www.example.com/run"},
        },
    }
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if value is DELETE:
            document[section].pop(key)
        else:
            document[section][key] = value
    return document


DELETE = object()


async def validate(receiver_type: str, body: bytes, headers: dict[str, str] | None = None
                   ) -> Event:
    request = WebhookRequest.from_headers("POST", headers or {}, body)
    return await sender_for(receiver_type).validate(request, SECRET)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("receiver_type", "payload"),
    [
        ("dockerhub", DOCKERHUB),
        ("dockerhub", {}),
        ("dockerhub", {"push_data": None, "repository": {"repo_url": None}}),
        ("dockerhub", {"PUSH_DATA": {"Tag": "v1"}}),
        ("quay", QUAY),
        ("quay", {"updated_tags": []}),
        ("acr", ACR),
        ("acr", {"action": "delete", "target": {"repository": "podinfo"}}),
    ],
    ids=["dockerhub", "dockerhub-empty", "dockerhub-nulls", "dockerhub-name-case", "quay",
         "quay-no-tags", "acr", "acr-no-tag"],
)
async def test_registry_accepts(receiver_type: str, payload: dict[str, Any]) -> None:
    assert await validate(receiver_type, json.dumps(payload).encode()) == Event(None, payload)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("receiver_type", "body", "reason"),
    [
        ("dockerhub", b"", "not valid JSON"),
        ("dockerhub", b"{", "not valid JSON"),
        ("dockerhub", b"\xff\xfe", "not valid JSON"),
        ("dockerhub", b"[]", "JSON object"),
        ("dockerhub", b'"push"', "JSON object"),
        ("dockerhub", b'{"push_data": {"tag": 650}}', "body.push_data.tag must be a string"),
        ("dockerhub", b'{"push_data": "6.5.0"}', "body.push_data must be a JSON object"),
        ("dockerhub", b'{"Repository": {"REPO_URL": []}}', "repository.repo_url must be"),
        ("quay", b"not json", "not valid JSON"),
        ("quay", b'{"docker_url": ["quay.io/x"]}', "body.docker_url must be a string"),
        ("quay", b'{"updated_tags": "latest"}', "body.updated_tags must be a list"),
        ("quay", b'{"updated_tags": ["v1", 2]}', "body.updated_tags[1] must be a string"),
        ("acr", b"[]", "JSON object"),
        ("dockerhub", b'{"push_data": {"tag": 1}}', "body.push_data.tag must be a string"),
        ("acr", b'{"action": true}', "body.action must be a string"),
        ("acr", b'{"target": {"tag": 1.5}}', "body.target.tag must be a string"),
        ("acr", b'{"target": []}', "body.target must be a JSON object"),
    ],
)
async def test_registry_refuses(receiver_type: str, body: bytes, reason: str) -> None:
    with pytest.raises(RefusedRequest, match=reason.replace("[", r"\[").replace("]", r"\]")):
        await validate(receiver_type, body)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("receiver_type", "body", "payload"),
    [
        # Flux decodes into a struct: JSON null leaves it empty.
        ("acr", b"null", {}),
        ("dockerhub", b"null", {}),
        ("quay", b" null ", {}),
        # Go's json.Decoder reads the first value; what follows it is never looked at.
        ("acr", b'{"action": "push"} x', {"action": "push"}),
        ("quay", b'{"updated_tags": []}{"more"', {"updated_tags": []}),
        # Invalid UTF-8 inside a string becomes U+FFFD, as in Go.
        ("dockerhub", b'{"repository": {"name": "a\xffb"}}',
         {"repository": {"name": "a\ufffdb"}}),
    ],
    ids=["acr-null", "dockerhub-null", "quay-null", "acr-trailing", "quay-trailing",
         "dockerhub-invalid-utf8"],
)
async def test_registry_decodes_as_go_does(receiver_type: str, body: bytes,
                                            payload: dict[str, Any]) -> None:
    assert await validate(receiver_type, body) == Event(None, payload)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "payload"),
    [(b'{"any": "thing"}', {"any": "thing"}), (b"", None), (b"plain text", None)],
)
async def test_generic_accepts_anything(body: bytes, payload: Any) -> None:
    assert await validate("generic", body) == Event(None, payload)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "document",
    [
        cdevent(),
        cdevent(context__version=DELETE, context__specversion="0.5.0"),
        cdevent(context__type="dev.cdevents.service.deployed.0.2.0",
                subject__content={"environment": {"id": "production"}}),
        cdevent(context__type="dev.cdevents.artifact.published.0.2.0"),
        cdevent(context__type="dev.cdeventsx.myregistry-quota.exceeded.0.1.0"),
        cdevent(context__timestamp="2023-03-20T14:27:05+01:00", context__chainId="abc"),
        cdevent(subject__content=DELETE),
        cdevent(subject__content=None),
    ],
    ids=["pipelinerun-queued", "specversion", "service-deployed", "artifact-published",
         "custom-type", "offset-timestamp", "no-content", "null-content"],
)
async def test_cdevents_accepts(document: dict[str, Any]) -> None:
    event = await validate("cdevents", json.dumps(document).encode(),
                           {"Ce-Type": document["context"]["type"]})
    assert event == Event(document["context"]["type"], document)


@pytest.mark.asyncio
async def test_cdevents_event_is_the_ce_type_header() -> None:
    body = json.dumps(cdevent()).encode()
    assert (await validate("cdevents", body, {"ce-type": "Other"})).name == "Other"
    assert (await validate("cdevents", body)).name == ""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (None, "not valid JSON"),
        ([], "not a JSON object"),
        ({"subject": cdevent()["subject"]}, "no context object"),
        ({"context": cdevent()["context"]}, "no subject object"),
        (cdevent(context__version=DELETE), "'version' or 'specversion'"),
        (cdevent(context__version=""), "'version' or 'specversion'"),
        (cdevent(context__id=DELETE), "no 'id'"),
        (cdevent(context__id=""), "no 'id'"),
        (cdevent(context__source=7), "no 'source'"),
        (cdevent(context__type=DELETE), "no 'type'"),
        (cdevent(context__type="dev.cdevents.pipelinerun.queued"), "not of the form"),
        (cdevent(context__type="com.example.pipelinerun.queued.0.2.0"), "not of the form"),
        (cdevent(context__type="dev.cdevents.pipelinerun.exploded.0.2.0"), "unknown subject"),
        (cdevent(context__type="dev.cdevents.spaceship.queued.0.1.0"), "unknown subject"),
        (cdevent(context__type="dev.cdevents.pipelinerun.queued.1.0.0"), "semantic version"),
        (cdevent(context__type="dev.cdevents.pipelinerun.queued.latest"), "semantic version"),
        (cdevent(context__timestamp=DELETE), "no 'timestamp'"),
        (cdevent(context__timestamp="yesterday"), "RFC 3339"),
        (cdevent(subject__id=DELETE), "subject has no 'id'"),
        (cdevent(subject__type=DELETE), "subject has no 'type'"),
        (cdevent(subject__content="text"), "content is not an object"),
    ],
    ids=["not-json", "array", "no-context", "no-subject", "no-version", "empty-version",
         "no-id", "empty-id", "source-number", "no-type", "type-without-version",
         "foreign-type", "unknown-predicate", "unknown-subject", "major-version-1",
         "non-semver", "no-timestamp", "bad-timestamp", "no-subject-id", "no-subject-type",
         "content-string"],
)
async def test_cdevents_refuses(document: Any, reason: str) -> None:
    body = b"{not json" if document is None else json.dumps(document).encode()
    with pytest.raises(RefusedRequest, match=reason):
        await validate("cdevents", body, {"Ce-Type": "dev.cdevents.pipelinerun.queued.0.2.0"})
