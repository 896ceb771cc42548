"""A Receiver's life after it first became Ready: spec changes, reconcile requests,
deletion, and its Secret changing under it. Each waits with a deadline, never a sleep."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import watch
from kubernetes.client.rest import ApiException

from receiver_conformance.flux import objects
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import Scenario, SourceKey

GONE_TIMEOUT = 30.0
BURST_WINDOW = 1.0  # seconds: three answers within it put two of them in one second
BURST_ATTEMPTS = 5
WRITES_TIMEOUT = 60  # seconds a watch of a source's writes may last
# requestedAt as RFC 3339 (the reference: 2026-12-07T21:08:24.123456789Z) or as Go's
# time.String(), which Flux writes (2026-12-07 21:08:24.123456789 +0000 UTC m=+12.3).
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))? ?"
                    r"(Z|[+-]\d\d:?\d\d)(?: [A-Z]{1,5})?(?: m=[+-]\d+\.\d+)?")


def wait_status(scenario: Scenario, name: str, what: str,
                holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Wait until the Receiver `name` exists and `holds(receiver)`; return it."""
    def probe() -> dict[str, Any] | None:
        obj = objects.get_receiver(scenario.kube, scenario.namespace, name)
        return obj if obj is not None and holds(obj) else None

    try:
        return wait_until(probe, objects.READY_TIMEOUT, f"Receiver {name} {what}",
                          describe=lambda: objects.describe_receiver(
                              scenario.kube, scenario.namespace, name))
    except AssertionError:
        scenario.receiver_object(name)  # its status, as evidence
        raise


def observed_current_generation(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"]["generation"]


def request_reconcile(scenario: Scenario, name: str) -> str:
    """Annotate the Receiver as `flux reconcile receiver` does; return the value."""
    value = datetime.now(UTC).isoformat(timespec="microseconds")
    scenario.kube.custom.patch_namespaced_custom_object(
        "notification.toolkit.fluxcd.io", "v1", scenario.namespace, "receivers", name,
        {"metadata": {"annotations": {objects.REQUESTED_AT: value}}},
    )
    return value


def delete_receiver(scenario: Scenario, name: str) -> None:
    scenario.kube.custom.delete_namespaced_custom_object(
        "notification.toolkit.fluxcd.io", "v1", scenario.namespace, "receivers", name)


def wait_receiver_gone(scenario: Scenario, name: str) -> None:
    wait_until(lambda: objects.get_receiver(scenario.kube, scenario.namespace, name) is None,
               GONE_TIMEOUT, f"Receiver {name} to be gone",
               describe=lambda: str((objects.get_receiver(
                   scenario.kube, scenario.namespace, name) or {}).get("metadata")))


def delete_secret(scenario: Scenario, name: str) -> None:
    try:
        scenario.kube.core.delete_namespaced_secret(name, scenario.namespace)
    except ApiException as err:
        if err.status != 404:
            raise
    scenario.secrets.discard(name)


def burst(scenario: Scenario, send: Callable[[], int],
          count: int = 3) -> list[tuple[int, dict[SourceKey, str | None]]]:
    """Send `count` requests back to back; after each answer, read every source's
    requestedAt. Tried again until all `count` answers fall within BURST_WINDOW: then at
    least two consecutive requests share a wall-clock second whatever the receiver's
    clock, so a receiver stamping whole seconds is caught every time, never by luck."""
    for _ in range(BURST_ATTEMPTS):
        started = time.monotonic()
        seen = []
        for _ in range(count):
            status = send()
            seen.append((status, {key: objects.requested_at(scenario.kube, *key)
                                  for key in scenario.sources}))
        if time.monotonic() - started < BURST_WINDOW:
            return seen
    raise AssertionError(f"could not send {count} requests within {BURST_WINDOW:g} s")


def stamp_ns(text: str) -> int | None:
    """A requestedAt time (to the nanosecond) in nanoseconds since the epoch; None when it
    is not one."""
    match = _STAMP.fullmatch(text.strip())
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
    seconds = datetime.fromisoformat(f"{day}T{clock}{offset}").timestamp()
    return int(seconds) * 10**9 + int((fraction or "").ljust(9, "0"))


class SourceWrites:
    """Every requestedAt a source is persisted with from now on, in order, as the API
    server's watch reports them (a later read would see only the last)."""

    def __init__(self, scenario: Scenario, key: SourceKey) -> None:
        kind, name, namespace = key
        api_version = objects.API_VERSIONS[kind]
        current = scenario.kube.get(api_version, kind, name, namespace)
        if current is None:
            raise LookupError(f"{kind} {namespace}/{name} does not exist")
        self.values: list[str] = []
        self._watcher = watch.Watch()
        stream = scenario.kube.dynamic.watch(
            scenario.kube.resource(api_version, kind), namespace=namespace, name=name,
            resource_version=current["metadata"]["resourceVersion"], timeout=WRITES_TIMEOUT,
            watcher=self._watcher)
        self._thread = threading.Thread(target=self._follow, args=(stream,), daemon=True)
        self._thread.start()

    def _follow(self, stream: Any) -> None:
        try:
            for event in stream:
                meta = (event.get("raw_object") or {}).get("metadata") or {}
                value = (meta.get("annotations") or {}).get(objects.REQUESTED_AT)
                if value and (not self.values or self.values[-1] != value):
                    self.values.append(value)
        except Exception:  # closed under it by until(); a watch that ends early leaves
            return         # until() waiting in vain, and it says so

    def until(self, last: str | None, timeout: float = 10.0) -> list[str]:
        """Once the watch has reported `last` (the value read after the writes ended), stop
        watching and return every value written."""
        try:
            if last is not None:
                wait_until(lambda: last in self.values, timeout,
                           f"the watch to report the requestedAt {last}")
        finally:
            self._watcher.stop()
        return list(self.values)
