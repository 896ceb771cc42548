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
# The HTTP middleware Flux wraps its receiver in (slok/go-http-metrics, prefix gotk_receiver):
# prometheus.DefBuckets for durations, 100 B times powers of ten for response sizes.
DURATION_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
SIZE_BUCKETS = tuple(100.0 * 10**i for i in range(8))
HTTP_LABELS = ("service", "handler", "method", "code")
# The handler label: the pattern the receiver is mounted on, unless
# --export-http-path-metrics asks for each request's own path.
HOOK_HANDLER = "/hook/"


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
        self.http_duration = Histogram(
            "gotk_receiver_http_request_duration_seconds", "The latency of the HTTP requests.",
            HTTP_LABELS, buckets=DURATION_BUCKETS, registry=self.registry)
        self.http_size = Histogram(
            "gotk_receiver_http_response_size_bytes", "The size of the HTTP responses.",
            HTTP_LABELS, buckets=SIZE_BUCKETS, registry=self.registry)
        self.http_inflight = Gauge(
            "gotk_receiver_http_requests_inflight",
            "The number of inflight requests being handled at the same time.",
            ("service", "handler"), registry=self.registry)

    def observe_http(self, handler: str, method: str, code: int, seconds: float,
                     size: int) -> None:
        """One request as Flux's HTTP middleware records it."""
        labels = {"service": "", "handler": handler, "method": method, "code": str(code)}
        self.http_duration.labels(**labels).observe(seconds)
        self.http_size.labels(**labels).observe(size)

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
