"""Wiring: the controller, the webhook server, health and metrics endpoints, one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from . import selectors
from .annotate import KubeAnnotator
from .controller import (
    DEFAULT_WATCH_CONFIGS,
    MAX_RETRY_DELAY,
    MIN_RETRY_DELAY,
    WORKERS,
    Controller,
    WorkQueue,
)
from .index import Index
from .kube import Kube
from .leader import Election, LeaderElector, LeadershipLost
from .metrics import CONTENT_TYPE, Metrics
from .senders import KeySource, Sender, key_source_from, sender_for
from .server import Limits, ReceiverServer

log = logging.getLogger("reference")


@dataclass(frozen=True)
class Options:
    receiver_addr: tuple[str, int] = ("", 9292)
    health_addr: tuple[str, int] = ("", 9440)
    metrics_addr: tuple[str, int] = ("", 8080)
    namespace: str | None = None  # None: watch every namespace
    no_cross_namespace_refs: bool = False
    kubeconfig: Path | None = None
    google_jwks: str | None = None
    watch_configs_label_selector: str = DEFAULT_WATCH_CONFIGS
    limits: Limits = field(default_factory=Limits)
    kube_api_qps: float = 50.0  # client-side, as Flux's --kube-api-qps
    kube_api_burst: int = 300
    concurrent: int = WORKERS
    min_retry_delay: float = MIN_RETRY_DELAY
    max_retry_delay: float = MAX_RETRY_DELAY
    config_watchers: bool = True  # false: feature gate DisableConfigWatchers
    export_http_path_metrics: bool = False
    election: Election | None = None  # --enable-leader-election


class Senders:
    """One sender per receiver type, built on first use."""

    def __init__(self, google_keys: KeySource | None) -> None:
        self._google_keys = google_keys
        self._cache: dict[str, Sender] = {}

    def __call__(self, receiver_type: str) -> Sender:
        sender = self._cache.get(receiver_type)
        if sender is None:
            sender = sender_for(receiver_type, google_keys=self._google_keys)
            self._cache[receiver_type] = sender
        return sender


async def serve(options: Options) -> int:
    """Run until SIGTERM or SIGINT (exit 0) or until the controller fails (exit 1)."""
    kube = await Kube.connect(options.kubeconfig, qps=options.kube_api_qps,
                              burst=options.kube_api_burst)
    index = Index()
    metrics = Metrics()
    controller = Controller(kube, index, metrics, namespace=options.namespace,
                            workers=options.concurrent,
                            watch_configs=selectors.parse(options.watch_configs_label_selector),
                            queue=WorkQueue(options.min_retry_delay, options.max_retry_delay),
                            config_watchers=options.config_watchers)
    keys = key_source_from(options.google_jwks) if options.google_jwks else None
    annotator = KubeAnnotator(kube, no_cross_namespace_refs=options.no_cross_namespace_refs,
                              namespace=options.namespace)
    receiver = ReceiverServer(index, Senders(keys), annotator, metrics, options.limits,
                              path_metrics=options.export_http_path_metrics)
    # The Lease has a client of its own, as controller-runtime's leader election does, so
    # that a busy receiver never delays a renewal.
    election_kube = (await Kube.connect(options.kubeconfig, qps=options.kube_api_qps,
                                        burst=options.kube_api_burst)
                     if options.election else None)
    elector = (LeaderElector(election_kube, options.election)
               if election_kube and options.election else None)
    runners: list[web.AppRunner] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    try:
        host, port = await receiver.start(*options.receiver_addr)
        log.info("receiver server listening on %s:%d", host, port)
        runners.append(await _start_app(_health_app(controller), options.health_addr, "health"))
        runners.append(await _start_app(_metrics_app(metrics), options.metrics_addr, "metrics"))
        tasks = [asyncio.create_task(controller.run(elector.leading if elector else None),
                                     name="controller")]
        if elector is not None:
            tasks.append(asyncio.create_task(elector.run(), name="leader-election"))
        stopping = asyncio.create_task(stop.wait(), name="stop")
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        ended = [task for task in tasks if task in done]
        log.info("shutting down")
        for task in tasks:  # the workers stop first, then the Lease is released
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if ended:
            exc = ended[0].exception()
            if isinstance(exc, LeadershipLost):
                log.error("leader election lost: %s", exc)
            else:
                log.error("%s stopped: %s", ended[0].get_name(), exc or "no error")
            return 1
        return 0
    finally:
        await receiver.stop()
        for runner in runners:
            await runner.cleanup()
        await kube.close()
        if election_kube is not None:
            await election_kube.close()


def _health_app(controller: Controller) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if controller.synced.is_set():
            return web.Response(text="ok")
        return web.Response(status=503, text="informers not synced")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def _metrics_app(metrics: Metrics) -> web.Application:
    async def scrape(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    return app


async def _start_app(app: web.Application, addr: tuple[str, int], name: str) -> web.AppRunner:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, addr[0] or None, addr[1], reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server else ()  # type: ignore[union-attr]
    host, port = sockets[0].getsockname()[:2]
    log.info("%s server listening on %s:%d", name, host, port)
    return runner
