"""Senders that authenticate with the token: github, bitbucket, gitlab, harbor, generic-hmac,
nexus."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from receiver_conformance.reference.senders import Event, RefusedRequest, WebhookRequest, sender_for

TOKEN = b"d2b2ad9e3b1ca4e4a4d1ab2b84d8a1b7f2e5f7c1"
SECRET = {"token": TOKEN}
BODY = json.dumps({"ref": "refs/heads/main", "repository": {"name": "podinfo"}}).encode()
GITHUB_VECTOR_SECRET = {"token": b"It's a Secret to Everybody"}
GITHUB_VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def sign(body: bytes, algorithm: str = "sha256", key: bytes = TOKEN) -> str:
    return f"{algorithm}=" + hmac.new(key, body, getattr(hashlib, algorithm)).hexdigest()


async def validate(receiver_type: str, headers: dict[str, str], body: bytes = BODY,
                   secret: dict[str, bytes] = SECRET) -> Event:
    request = WebhookRequest.from_headers("POST", headers, body)
    return await sender_for(receiver_type).validate(request, secret)


async def refused(receiver_type: str, headers: dict[str, str], body: bytes = BODY,
                  secret: dict[str, bytes] = SECRET) -> str:
    with pytest.raises(RefusedRequest) as caught:
        await validate(receiver_type, headers, body, secret)
    message = str(caught.value)
    assert TOKEN.decode() not in message
    return message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content_type", "header"),
    [
        ("text/plain", "X-Hub-Signature-256"),
        ("application/json", "X-Hub-Signature-256"),
        ("application/x-www-form-urlencoded", "X-Hub-Signature-256"),
    ],
)
async def test_github_published_vector(content_type: str, header: str) -> None:
    headers = {"Content-Type": content_type, header: GITHUB_VECTOR_SIGNATURE}
    if content_type == "text/plain":
        message = await refused("github", headers, b"Hello, World!", GITHUB_VECTOR_SECRET)
        assert "Content-Type" in message
    else:
        event = await validate("github", headers, b"Hello, World!", GITHUB_VECTOR_SECRET)
        assert event.payload is None


GITHUB_STYLE = [("github", "X-GitHub-Event", "push"),
                ("bitbucket", "X-Event-Key", "repo:refs_changed")]


@pytest.mark.asyncio
@pytest.mark.parametrize(("receiver_type", "event_header", "event"), GITHUB_STYLE)
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)},
        {"Content-Type": "application/json; charset=utf-8", "X-Hub-Signature-256": sign(BODY)},
        {"content-type": "Application/JSON", "x-hub-signature-256": sign(BODY)},
        {"CONTENT-TYPE": "application/json", "X-HUB-SIGNATURE-256": sign(BODY)},
        {"Content-Type": "application/json", "X-Hub-Signature": sign(BODY, "sha1")},
        {"Content-Type": "application/json", "X-Hub-Signature": sign(BODY, "sha512")},
        {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256="
         + sign(BODY)[7:].upper()},
        {"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY, "sha1")},
        {"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY),
         "X-Hub-Signature": "sha1=00"},
        {"Content-Type": "application/json", "X-Hub-Signature-256": "",
         "X-Hub-Signature": sign(BODY, "sha1")},
    ],
    ids=["sha256", "charset", "lower-case-names", "upper-case-names", "legacy-sha1",
         "sha512-prefix", "upper-case-hex", "sha1-in-sha256-header", "sha256-preferred",
         "empty-sha256-falls-back"],
)
async def test_github_style_accepts(receiver_type: str, event_header: str, event: str,
                                    headers: dict[str, str]) -> None:
    result = await validate(receiver_type, {**headers, event_header: event})
    assert result == Event(name=event, payload=json.loads(BODY))


@pytest.mark.asyncio
@pytest.mark.parametrize(("receiver_type", "event_header", "event"), GITHUB_STYLE)
async def test_github_style_form_delivery(receiver_type: str, event_header: str,
                                          event: str) -> None:
    body = urlencode({"payload": BODY.decode()}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Hub-Signature-256": sign(body), event_header: event}
    assert await validate(receiver_type, headers, body) == Event(event, json.loads(BODY))
    # The signature covers the body as sent, not the JSON inside it.
    headers["X-Hub-Signature-256"] = sign(BODY)
    assert "does not match" in await refused(receiver_type, headers, body)


@pytest.mark.asyncio
async def test_github_missing_event_header_gives_empty_event() -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)}
    assert (await validate("github", headers)).name == ""


@pytest.mark.asyncio
async def test_github_non_json_body_has_no_payload() -> None:
    body = b"not json"
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}
    assert (await validate("github", headers, body)).payload is None


@pytest.mark.asyncio
@pytest.mark.parametrize("receiver_type", ["github", "bitbucket"])
@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"X-Hub-Signature-256": sign(BODY)}, BODY, "missing Content-Type"),
        ({"Content-Type": "text/plain", "X-Hub-Signature-256": sign(BODY)}, BODY,
         "Content-Type must be"),
        ({"Content-Type": "application/xml", "X-Hub-Signature-256": sign(BODY)}, BODY,
         "Content-Type must be"),
        ({"Content-Type": "application/json; charset", "X-Hub-Signature-256": sign(BODY)}, BODY,
         "malformed Content-Type"),
        ({"Content-Type": "application/json"}, BODY,
         "missing X-Hub-Signature-256 or X-Hub-Signature header"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)[7:]}, BODY,
         "not of the form"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": "md5=" + "0" * 32}, BODY,
         "unknown algorithm"),
        ({"Content-Type": "application/json",
          "X-Hub-Signature-256": sign(BODY).replace("sha256", "SHA256")}, BODY,
         "unknown algorithm"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=zz" + "0" * 62},
         BODY, "not valid hex"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)[:-1]}, BODY,
         "not valid hex"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)[:-2]}, BODY,
         "does not match"),
        ({"Content-Type": "application/json",
          "X-Hub-Signature-256": sign(BODY)[:7] + " ".join(["ab"] * 32)}, BODY, "not valid hex"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)}, BODY + b" ",
         "does not match"),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY, key=b"other")},
         BODY, "does not match"),
    ],
    ids=["no-content-type", "text-plain", "xml", "bad-param", "no-signature", "no-prefix",
         "md5", "upper-case-prefix", "non-hex", "odd-length", "short-digest", "spaced-hex",
         "body-changed", "wrong-key"],
)
async def test_github_style_refuses(receiver_type: str, headers: dict[str, str], body: bytes,
                                    reason: str) -> None:
    assert reason in await refused(receiver_type, headers, body)


@pytest.mark.asyncio
@pytest.mark.parametrize("receiver_type", ["github", "bitbucket"])
async def test_github_style_refuses_without_token_key(receiver_type: str) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(BODY)}
    assert "'token'" in await refused(receiver_type, headers, secret={})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("receiver_type", "header", "event_header", "event"),
    [("gitlab", "X-Gitlab-Token", "X-Gitlab-Event", "Push Hook"),
     ("harbor", "Authorization", None, None)],
)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
async def test_token_header_accepts(receiver_type: str, header: str, event_header: str | None,
                                    event: str | None, case) -> None:
    headers = {case(header): TOKEN.decode()}
    if event_header:
        headers[case(event_header)] = event
    assert await validate(receiver_type, headers) == Event(event, json.loads(BODY))


@pytest.mark.asyncio
@pytest.mark.parametrize(("receiver_type", "header"),
                         [("gitlab", "X-Gitlab-Token"), ("harbor", "Authorization")])
@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "missing"), ("", "does not match"), (TOKEN.decode()[:-1], "does not match"),
     (TOKEN.decode() + "x", "does not match"), ("Bearer " + TOKEN.decode(), "does not match"),
     (TOKEN.decode().upper(), "does not match"), ("tökén", "does not match")],
    ids=["missing", "empty", "prefix", "longer", "bearer-scheme", "other-case", "non-ascii"],
)
async def test_token_header_refuses(receiver_type: str, header: str, value: str | None,
                                    reason: str) -> None:
    headers = {} if value is None else {header: value}
    assert reason in await refused(receiver_type, headers)


@pytest.mark.asyncio
async def test_gitlab_event_and_non_json_body() -> None:
    event = await validate("gitlab", {"X-Gitlab-Token": TOKEN.decode(),
                                      "X-Gitlab-Event": "Tag Push Hook"}, b"plain")
    assert event == Event("Tag Push Hook", None)


@pytest.mark.asyncio
@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
async def test_generic_hmac_accepts_each_algorithm(algorithm: str) -> None:
    event = await validate("generic-hmac", {"X-Signature": sign(BODY, algorithm)})
    assert event == Event(None, json.loads(BODY))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, BODY, "missing X-Signature header"),
        ({"X-Signature": sign(BODY)[7:]}, BODY, "not of the form"),
        ({"X-Signature": "md5=" + hashlib.md5(BODY).hexdigest()}, BODY, "unknown algorithm"),
        ({"X-Signature": "sha256=xyz"}, BODY, "not valid hex"),
        ({"X-Signature": sign(BODY)}, BODY.replace(b"main", b"evil"), "does not match"),
        ({"X-Signature": sign(BODY, "sha512", b"other")}, BODY, "does not match"),
        ({"X-Hub-Signature-256": sign(BODY)}, BODY, "missing X-Signature header"),
    ],
    ids=["missing", "no-prefix", "md5", "non-hex", "body-changed", "wrong-key",
         "github-header"],
)
async def test_generic_hmac_refuses(headers: dict[str, str], body: bytes, reason: str) -> None:
    assert reason in await refused("generic-hmac", headers, body)


NEXUS_BODY = json.dumps({"action": "CREATED", "repositoryName": "docker-hosted",
                         "component": {"name": "podinfo", "version": "6.5.0"}}).encode()


def nexus_signature(body: bytes, key: bytes = TOKEN) -> str:
    return hmac.new(key, body, hashlib.sha1).hexdigest()


@pytest.mark.asyncio
async def test_nexus_accepts() -> None:
    event = await validate("nexus", {"x-nexus-webhook-signature": nexus_signature(NEXUS_BODY)},
                           NEXUS_BODY)
    assert event == Event(None, json.loads(NEXUS_BODY))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, NEXUS_BODY, "missing X-Nexus-Webhook-Signature header"),
        ({"X-Nexus-Webhook-Signature": ""}, NEXUS_BODY, "missing"),
        ({"X-Nexus-Webhook-Signature": "sha1=" + nexus_signature(NEXUS_BODY)}, NEXUS_BODY,
         "does not match"),
        ({"X-Nexus-Webhook-Signature": nexus_signature(NEXUS_BODY, b"other")}, NEXUS_BODY,
         "does not match"),
        ({"X-Nexus-Webhook-Signature": nexus_signature(NEXUS_BODY)}, NEXUS_BODY + b"\n ",
         "does not match"),
        ({"X-Nexus-Webhook-Signature": nexus_signature(b"not json")}, b"not json",
         "not valid JSON"),
        ({"X-Nexus-Webhook-Signature": nexus_signature(b"[1]")}, b"[1]", "JSON object"),
        ({"X-Nexus-Webhook-Signature": nexus_signature(b'{"action": 1}')}, b'{"action": 1}',
         "body.action must be a string"),
    ],
    ids=["missing", "empty", "prefixed", "wrong-key", "body-changed", "not-json", "array",
         "wrong-type"],
)
async def test_nexus_refuses(headers: dict[str, str], body: bytes, reason: str) -> None:
    assert reason in await refused("nexus", headers, body)
