"""Every status code of the webhook server, on a real socket (index and annotator stubbed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio

from receiver_conformance.reference import api
from receiver_conformance.reference.index import Index
from receiver_conformance.reference.metrics import Metrics
from receiver_conformance.reference.server import Limits, ReceiverServer

from .server_support import TOKEN, StubAnnotator, index_with, receiver_object, stub_senders

pytestmark = pytest.mark.asyncio

MIB = 1024 * 1024
AT_LIMIT = b'{"a":"' + b"x" * (3 * MIB - 8) + b'"}'  # valid JSON of exactly 3 MiB


@dataclass
class Running:
    url: str
    annotator: StubAnnotator
    index: Index
    metrics: Metrics


@pytest_asyncio.fixture
async def running() -> AsyncIterator[Running]:
    index = index_with(
        receiver_object("ready"),
        receiver_object("evented", events=("Push", "tag_push")),
        receiver_object("suspended", suspend=True),
        receiver_object("unready", ready=False),
        receiver_object("exotic", type_="not-implemented"),
        receiver_object("nosecret", namespace="other", secret="missing"),
    )
    annotator = StubAnnotator()
    metrics = Metrics()
    server = ReceiverServer(index, stub_senders, annotator, metrics, Limits())
    host, port = await server.start("127.0.0.1", 0)
    try:
        yield Running(f"http://{host}:{port}", annotator, index, metrics)
    finally:
        await server.stop()


def hook(name: str, namespace: str = "apps") -> str:
    return api.webhook_path(TOKEN, name, namespace)


async def post(url: str, body: bytes = b"{}", **headers: str) -> int:
    headers.setdefault("X-Token", TOKEN.decode())
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers=headers
    ) as resp:
        await resp.read()
        return resp.status


@pytest.mark.parametrize(
    ("path", "headers", "body", "expected"),
    [
        pytest.param(hook("ready"), {}, b'{"ref": "main"}', 200, id="valid"),
        pytest.param(hook("ready"), {}, b"", 200, id="empty-body"),
        pytest.param(hook("ready"), {"X-Token": "wrong"}, b"{}", 400, id="bad-token"),
        pytest.param(hook("nobody"), {}, b"{}", 404, id="unknown-path"),
        pytest.param("/hook/", {}, b"{}", 404, id="bare-prefix"),
        pytest.param("/elsewhere", {}, b"{}", 404, id="outside-hook"),
        pytest.param(hook("ready") + "?x=1", {}, b"{}", 404, id="query-is-part-of-path"),
        pytest.param(hook("suspended"), {}, b"{}", 503, id="suspended"),
        pytest.param(hook("unready"), {}, b"{}", 503, id="not-ready"),
        pytest.param(hook("suspended"), {"X-Token": "wrong"}, b"{}", 503, id="503-before-400"),
        pytest.param(hook("exotic"), {}, b"{}", 400, id="unsupported-type"),
        pytest.param(hook("nosecret", "other"), {}, b"{}", 400, id="secret-gone"),
        pytest.param(hook("evented"), {"X-Event": "push"}, b"{}", 200, id="event-any-case"),
        pytest.param(hook("evented"), {"X-Event": "TAG_PUSH"}, b"{}", 200, id="event-upper"),
        pytest.param(hook("evented"), {"X-Event": "issues"}, b"{}", 400, id="event-not-listed"),
        pytest.param(hook("evented"), {"X-Event": ""}, b"{}", 400, id="event-empty"),
        pytest.param(hook("ready"), {}, AT_LIMIT, 200, id="body-at-limit"),
        pytest.param(hook("ready"), {}, b"x" * (3 * MIB + 1), 413, id="body-over-limit"),
        pytest.param(hook("nobody"), {}, b"x" * (3 * MIB + 1), 413, id="413-before-404"),
    ],
)
async def test_status_code(
    running: Running, path: str, headers: dict[str, str], body: bytes, expected: int
) -> None:
    assert await post(running.url + path, body, **headers) == expected


async def test_annotation_failure_is_500(running: Running) -> None:
    running.annotator.errors.append("GitRepository/podinfo: not found")
    assert await post(running.url + hook("ready")) == 500


async def test_annotator_gets_the_receiver_and_raw_body(running: Running) -> None:
    assert await post(running.url + hook("ready"), b'{"a": 1}') == 200
    assert running.annotator.calls == [("apps/ready", b'{"a": 1}')]


async def test_refused_requests_annotate_nothing(running: Running) -> None:
    for path, headers in [(hook("ready"), {"X-Token": "no"}), (hook("suspended"), {})]:
        await post(running.url + path, **headers)
    assert running.annotator.calls == []


async def test_chunked_body_over_limit_is_413(running: Running) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * MIB

    async with aiohttp.ClientSession() as session, session.post(
        running.url + hook("ready"), data=chunks()
    ) as resp:
        assert resp.status == 413


async def test_any_method_reaches_the_handler(running: Running) -> None:
    async with aiohttp.ClientSession() as session, session.get(
        running.url + hook("ready"), headers={"X-Token": TOKEN.decode()}
    ) as resp:
        assert resp.status == 200


async def test_requests_are_counted_by_code_and_type(running: Running) -> None:
    await post(running.url + hook("ready"))
    await post(running.url + hook("nobody"))
    text = running.metrics.exposition().decode()
    assert 'receiver_webhook_requests_total{code="200",type="stub"} 1.0' in text
    assert 'receiver_webhook_requests_total{code="404",type="unknown"} 1.0' in text
    assert "receiver_webhook_request_duration_seconds_bucket" in text


async def test_a_path_moves_with_the_index(running: Running) -> None:
    """The server answers from the index alone: a new status path is served at once."""
    obj = receiver_object("ready")
    new_path = api.webhook_path(b"rotated", "ready", "apps")
    obj["status"]["webhookPath"] = new_path
    obj["metadata"]["resourceVersion"] = "2"
    running.index.put(api.Receiver.from_dict(obj))
    assert await post(running.url + hook("ready")) == 404
    assert await post(running.url + new_path) == 200
