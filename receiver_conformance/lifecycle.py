"""A Receiver's life after it first became Ready: spec changes, reconcile requests,
deletion, and its Secret changing under it. Each waits with a deadline, never a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.rest import ApiException

from receiver_conformance.flux import objects
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import Scenario, SourceKey

GONE_TIMEOUT = 30.0
BURST_WINDOW = 1.0  # seconds: three answers within it put two of them in one second
BURST_ATTEMPTS = 5


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
