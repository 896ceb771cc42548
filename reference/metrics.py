"""Prometheus metrics of the receiver, in a registry of their own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


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
        self.receivers = Gauge(
            "receiver_receivers", "Receivers currently in the index.", registry=self.registry
        )

    def observe_request(self, receiver_type: str, code: int, seconds: float) -> None:
        self.requests.labels(code=str(code), type=receiver_type).inc()
        self.duration.labels(type=receiver_type).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
