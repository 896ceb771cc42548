"""Coalesced annotation PATCHes: fewer writes, and never an answer before its write."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from receiver_conformance.reference import api
from receiver_conformance.reference.annotate import KubeAnnotator
from receiver_conformance.reference.coalesce import Coalescer
from receiver_conformance.reference.kube import KubeError
from receiver_conformance.reference.senders.base import WebhookRequest


class SlowApi:
    """A PATCH endpoint that takes a while, and logs when each PATCH starts and ends."""

    def __init__(self, seconds: float = 0.005, fail: bool = False) -> None:
        self.seconds = seconds
        self.fail = fail
        self.clock = 0  # a logical clock: every event gets the next tick
        self.patches: list[tuple[int, int, Any]] = []  # (started, ended, body)
        self.in_flight = 0
        self.most_in_flight = 0

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    async def patch(self, path: str, body: Any, **_: Any) -> Any:
        started = self.tick()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.seconds * random.random())
        self.in_flight -= 1
        ended = self.tick()
        self.patches.append((started, ended, body))
        if self.fail:
            raise KubeError(500, "the API server failed")
        return body


@pytest.mark.asyncio
async def test_no_caller_returns_before_a_patch_that_started_after_it_arrived() -> None:
    server = SlowApi()
    writes = Coalescer(server.patch)
    answered: list[tuple[int, int, str]] = []  # (arrived, returned, version)

    async def caller(i: int) -> None:
        await asyncio.sleep(0.03 * random.random())
        arrived = server.tick()
        version = f"{server.clock:06d}"
        await writes.patch("/objects/a", {"v": version}, version=version)
        answered.append((arrived, server.tick(), version))

    await asyncio.gather(*(caller(i) for i in range(200)))

    assert len(answered) == 200
    assert server.most_in_flight == 1, "one PATCH of an object in flight at a time"
    assert len(server.patches) < 100, f"{len(server.patches)} PATCHes for 200 callers"
    for arrived, returned, version in answered:
        covering = [body for started, ended, body in server.patches
                    if arrived < started and ended < returned]
        assert covering, f"a caller arriving at {arrived} returned at {returned} unwritten"
        assert any(body["v"] >= version for body in covering), "its stamp or a newer one"


@pytest.mark.asyncio
async def test_every_caller_of_a_failed_patch_gets_the_error() -> None:
    server = SlowApi(fail=True)
    writes = Coalescer(server.patch)
    results = await asyncio.gather(*(writes.patch("/objects/a", {}) for _ in range(20)),
                                   return_exceptions=True)
    assert all(isinstance(r, KubeError) for r in results)


@pytest.mark.asyncio
async def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    server = SlowApi(seconds=0.05)
    writes = Coalescer(server.patch)
    first = asyncio.create_task(writes.patch("/objects/a", {"v": 1}))
    await asyncio.sleep(0)
    second = asyncio.create_task(writes.patch("/objects/a", {"v": 2}))
    third = asyncio.create_task(writes.patch("/objects/a", {"v": 3}))
    await asyncio.sleep(0)
    second.cancel()
    assert await first == {"v": 1}
    assert await third == {"v": 3}
    assert [body for _, _, body in server.patches] == [{"v": 1}, {"v": 3}]


class FakeKube(SlowApi):
    async def get(self, path: str, **_: Any) -> Any:
        raise AssertionError("no filters: nothing to read")


@pytest.mark.asyncio
async def test_concurrent_requests_to_one_source_share_patches() -> None:
    kube = FakeKube()
    annotator = KubeAnnotator(kube)  # type: ignore[arg-type]
    receiver = api.Receiver.from_dict({
        "metadata": {"name": "r", "namespace": "apps"},
        "spec": {"type": "generic", "resources": [{"kind": "GitRepository", "name": "app"}]}})
    request = WebhookRequest("POST", {}, b"{}")
    errors = await asyncio.gather(*(annotator.annotate(receiver, request) for _ in range(50)))
    assert errors == [[]] * 50
    assert 1 <= len(kube.patches) < 50
    stamps = [body["metadata"]["annotations"][api.RECONCILE_ANNOTATION]
              for _, _, body in kube.patches]
    assert stamps == sorted(stamps), "each PATCH writes a newer timestamp"
