"""Prometheus metrics of the receiver, in a registry of their own."""

from __future__ import annotations

import contextlib
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
RECEIVER_KIND = "Receiver"


def exponential_buckets_range(low: float, high: float, count: int) -> list[float]:
    """client_golang's prometheus.ExponentialBucketsRange: `count` buckets from low to high."""
    factor = (high / low) ** (1.0 / (count - 1))
    return [low * factor ** i for i in range(count)]


# fluxcd/pkg runtime/metrics: 10 buckets between 10 ms and 30 minutes.
RECONCILE_BUCKETS = exponential_buckets_range(10e-3, 1800, 10)


class Metrics:
    """Webhook requests, their duration, reconciles, and the Receivers served."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "receiver_webhook_requests_total",
            "Webhook requests handled, by HTTP status code and receiver type.",
            ["code", "type"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "receiver_webhook_request_duration_seconds",
            "Time to handle a webhook request, by receiver type.",
            ["type"],
            registry=self.registry,
        )
        self.reconciles = Counter(
            "receiver_reconciles_total",
            "Receiver reconciles, by result (success, retry, stalled, suspended, deleted).",
            ["result"],
            registry=self.registry,
        )
        # What Flux's notification-controller records for Receivers (fluxcd/pkg runtime
        # metrics.Recorder): only the duration; the condition and suspend gauges it also
        # defines are never set for Receivers.
        self.reconcile_duration = Histogram(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            ["kind", "name", "namespace"],
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.receivers = Gauge(
            "receiver_receivers", "Receivers currently in the index.", registry=self.registry
        )

    def observe_request(self, receiver_type: str, code: int, seconds: float) -> None:
        self.requests.labels(code=str(code), type=receiver_type).inc()
        self.duration.labels(type=receiver_type).observe(seconds)

    def record_duration(self, namespace: str, name: str, started: float) -> None:
        """A reconcile that began at time.monotonic() `started`."""
        self.reconcile_duration.labels(kind=RECEIVER_KIND, name=name, namespace=namespace
                                       ).observe(time.monotonic() - started)

    def delete_duration(self, namespace: str, name: str) -> None:
        """Flux drops the series once a deleted Receiver's finalizer is removed."""
        with contextlib.suppress(KeyError):
            self.reconcile_duration.remove(RECEIVER_KIND, name, namespace)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
