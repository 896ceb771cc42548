"""The reference's Events and gotk_ metrics, without an API server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from receiver_conformance.reference.events import Recorder, go_duration
from receiver_conformance.reference.kube import KubeError
from receiver_conformance.reference.metrics import RECONCILE_BUCKETS, Metrics

RECEIVER = {"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "webapp", "namespace": "apps", "uid": "u-1",
                         "resourceVersion": "7"}}


class FakeKube:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.missing = False

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> dict:
        self.calls.append((method, path, body))
        return body

    async def patch(self, path: str, body: Any, **_: Any) -> dict:
        if self.missing:
            raise KubeError(404, "NotFound")
        self.calls.append(("PATCH", path, body))
        return body


def record(kube: FakeKube, *events: tuple[str, str, str]) -> None:
    async def run() -> None:
        recorder = Recorder(kube)  # type: ignore[arg-type]
        for type_, reason, message in events:
            recorder.event(RECEIVER, type_, reason, message)
            await recorder.drain()
    asyncio.run(run())


def test_an_event_is_core_v1_as_client_go_writes_it() -> None:
    kube = FakeKube()
    record(kube, ("Normal", "Succeeded", "Reconciliation finished, next run in 10m0s"))
    [(method, path, body)] = kube.calls
    assert (method, path) == ("POST", "/api/v1/namespaces/apps/events")
    assert body["metadata"]["name"].startswith("webapp.")
    assert body["involvedObject"] == {"kind": "Receiver", "namespace": "apps", "name": "webapp",
                                      "uid": "u-1", "resourceVersion": "7",
                                      "apiVersion": "notification.toolkit.fluxcd.io/v1"}
    assert body["source"] == {"component": "notification-controller"}
    assert body["reportingComponent"] == "notification-controller"
    assert (body["type"], body["reason"], body["count"]) == ("Normal", "Succeeded", 1)


def test_a_repeated_event_bumps_the_count_instead_of_a_new_event() -> None:
    kube = FakeKube()
    same = ("Warning", "Failed", "no token")
    record(kube, same, same, ("Normal", "Succeeded", "done"), same)
    methods = [c[0] for c in kube.calls]
    assert methods == ["POST", "PATCH", "POST", "PATCH"]
    assert kube.calls[1][2]["count"] == 2 and kube.calls[3][2]["count"] == 3


def test_the_spam_filter_stops_a_burst_at_25() -> None:
    kube = FakeKube()
    record(kube, *[("Warning", "Failed", f"attempt {i}") for i in range(30)])
    assert len(kube.calls) == 25


@pytest.mark.parametrize(("seconds", "text"), [
    (600, "10m0s"), (3600, "1h0m0s"), (30, "30s"), (90, "1m30s"), (0.5, "500ms"),
    (5400, "1h30m0s"), (1.5, "1.5s")])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_reconcile_duration_is_fluxs_histogram() -> None:
    assert RECONCILE_BUCKETS[0] == pytest.approx(0.01)
    assert RECONCILE_BUCKETS[-1] == pytest.approx(1800)
    assert len(RECONCILE_BUCKETS) == 10
    metrics = Metrics()
    metrics.record_duration("apps", "webapp", 0.0)
    text = metrics.exposition().decode()
    assert 'gotk_reconcile_duration_seconds_count{kind="Receiver",name="webapp",' \
           'namespace="apps"} 1.0' in text
    metrics.delete_duration("apps", "webapp")
    metrics.delete_duration("apps", "webapp")
    assert 'name="webapp"' not in metrics.exposition().decode()
