"""Kubernetes Events about Receivers, recorded as Flux's notification-controller records them.

Flux records with controller-runtime's `GetEventRecorderFor("notification-controller")`:
client-go's core/v1 recorder. An Event is named `<object>.<unix nanoseconds in hex>`, in the
object's namespace, with `source.component` and `reportingComponent` set to the controller's
name and `involvedObject` the object's reference. client-go's correlator does not flood: an
Event identical to one already recorded (same source, object, type, reason and message) is
not created again; the recorded one gets `count` + 1 and a new `lastTimestamp` (a patch).
And a spam filter lets a source record at most 25 Events about one object in a burst,
refilled at one every 5 minutes. Writes are asynchronous: a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .kube import Kube, KubeError

log = logging.getLogger("reference.events")

COMPONENT = "notification-controller"
NORMAL = "Normal"
WARNING = "Warning"
# client-go's tools/record defaults.
CACHE_ENTRIES = 4096
SPAM_BURST = 25
SPAM_REFILL_SECONDS = 300.0


def _now_micro() -> str:
    # metav1.Time serializes to seconds; MicroTime is not used by the core/v1 recorder.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reference_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object's core/v1 ObjectReference, as client-go's reference.GetReference makes it."""
    meta = obj.get("metadata") or {}
    ref = {
        "kind": obj.get("kind", "Receiver"),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


class _Bucket:
    def __init__(self) -> None:
        self.tokens = float(SPAM_BURST)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(SPAM_BURST, self.tokens + (now - self.stamp) / SPAM_REFILL_SECONDS)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Recorder:
    """Records Events through `kube`; `event()` returns at once."""

    def __init__(self, kube: Kube, component: str = COMPONENT) -> None:
        self.kube = kube
        self.component = component
        self._recorded: OrderedDict[tuple[str, ...], tuple[str, int]] = OrderedDict()
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        ref = reference_of(obj)
        task = asyncio.get_running_loop().create_task(self._record(ref, type_, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the writes under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _allowed(self, ref: Mapping[str, Any]) -> bool:
        key = (self.component, ref.get("kind", ""), ref.get("namespace", ""),
               ref.get("name", ""), ref.get("uid", ""), ref.get("apiVersion", ""))
        bucket = self._buckets.pop(key, None) or _Bucket()
        self._buckets[key] = bucket
        while len(self._buckets) > CACHE_ENTRIES:
            self._buckets.popitem(last=False)
        return bucket.take()

    async def _record(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        async with self._lock:  # one write at a time keeps the counts right
            if not self._allowed(ref):
                log.debug("event about %s/%s dropped by the spam filter",
                          ref.get("namespace"), ref.get("name"))
                return
            namespace = ref.get("namespace") or "default"
            key = (self.component, ref.get("kind", ""), namespace, ref.get("name", ""),
                   ref.get("uid", ""), ref.get("apiVersion", ""), type_, reason, message)
            now = _now_micro()
            try:
                previous = self._recorded.pop(key, None)
                if previous is not None:
                    name, count = previous
                    try:
                        await self.kube.patch(
                            f"/api/v1/namespaces/{namespace}/events/{name}",
                            {"count": count + 1, "lastTimestamp": now, "message": message})
                        self._recorded[key] = (name, count + 1)
                        return
                    except KubeError as exc:
                        if not exc.not_found:
                            raise
                name = f"{ref.get('name', '')}.{time.time_ns():x}"
                await self.kube.request("POST", f"/api/v1/namespaces/{namespace}/events", body={
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": ref,
                    "reason": reason,
                    "message": message,
                    "source": {"component": self.component},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "type": type_,
                    "reportingComponent": self.component,
                    "reportingInstance": "",
                })
                self._recorded[key] = (name, 1)
                while len(self._recorded) > CACHE_ENTRIES:
                    self._recorded.popitem(last=False)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an Event is best effort, as in client-go
                log.warning("could not record event %s %s about %s/%s: %s", type_, reason,
                            namespace, ref.get("name"), exc)


def go_duration(seconds: float) -> str:
    """time.Duration.String() for a duration in seconds: 10m0s, 1h0m0s, 30s, 1.5s, 500ms."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim(nanos / size) + unit
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _trim(rest / 1e9) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")
