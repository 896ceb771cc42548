"""The webhook HTTP server: every path under /hook/ goes to one handler.

Order of checks: headers over 256 KiB → 431, body over the limit → 413, unknown
path → 404, suspended or not Ready → 503, the sender type's validation or
spec.events refuses → 400, every resource annotated → 200, any annotation failed → 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from . import api
from .annotate import Annotator
from .index import Index
from .metrics import HOOK_HANDLER, Metrics
from .senders.base import (
    Event,
    RefusedRequest,
    Sender,
    UnsupportedType,
    WebhookRequest,
)

log = logging.getLogger("reference.server")

SenderFactory = Callable[[str], Sender]


@dataclass(frozen=True)
class Limits:
    """Flux's limits; tests shorten the timeouts."""

    max_body_bytes: int = 3 * 1024 * 1024
    max_header_bytes: int = 256 * 1024
    header_timeout: float = 10.0
    read_timeout: float = 30.0


_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


_LINGER = 0.5  # seconds a refused connection is drained before it is closed (Go: 500 ms)


class _BodyTooLarge(Exception):
    pass


class TimedRequestHandler(RequestHandler):
    """aiohttp's protocol plus a deadline on reading request headers.

    The connection is closed when a request's headers have not all arrived
    `header_timeout` seconds after the connection opened or the request's first byte.
    """

    def __init__(
        self, *args: Any, header_timeout: float, max_header_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self._header_bytes = 0
        self.request_started = 0.0
        self._awaiting_headers = True
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._tail = b""  # the last bytes seen, for an end of headers split across reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request: read and dropped until the close
        if self._awaiting_headers:
            if self._header_timer is None:
                self._start_header_timer()
            # Count header bytes before parsing, as Go does: over the cap is 431 whatever
            # else is wrong with the request.
            window = self._tail + data
            end = window.find(b"\r\n\r\n")
            counted = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._header_bytes += counted
            self._tail = window[-3:]
            if self._header_bytes > self.max_header_bytes and self.transport is not None:
                self._refuse_headers(self.transport)
                return
        before = self._request_count
        super().data_received(data)
        if self._request_count > before:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            self._awaiting_headers = False
            self._header_bytes = 0
            self._tail = b""

    def _refuse_headers(self, transport: asyncio.Transport) -> None:
        """431, then as Go does: close our side, drain the client's for a moment, close.

        Closing at once with unread bytes would reset the connection, and the client
        could lose the answer."""
        self._refused = True
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        transport.write(_TOO_LARGE)
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER, transport.close)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def body_read(self) -> None:
        """The current request's body is in: the next bytes start a new request."""
        self._awaiting_headers = True
        self._header_bytes = 0
        self._tail = b""

    def _start_header_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self.request_started = loop.time()
        self._header_timer = loop.call_later(self.header_timeout, self._headers_timed_out)

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        log.info("closing a connection: request headers not received in %ss", self.header_timeout)
        if self.transport is not None:
            self.transport.close()


class _Server(web.Server):
    """web.Server that builds TimedRequestHandler protocols."""

    def __init__(self, handler: Any, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits

    def __call__(self) -> RequestHandler:
        return TimedRequestHandler(
            self,
            loop=self._loop,
            header_timeout=self._limits.header_timeout,
            max_header_bytes=self._limits.max_header_bytes,
            **self._kwargs,
        )


class ReceiverServer:
    """Answers webhook requests from the index, and annotates through the annotator."""

    def __init__(
        self,
        index: Index,
        senders: SenderFactory,
        annotator: Annotator,
        metrics: Metrics | None = None,
        limits: Limits | None = None,
        *,
        path_metrics: bool = False,
    ) -> None:
        self.index = index
        self.path_metrics = path_metrics  # --export-http-path-metrics
        self.senders = senders
        self.annotator = annotator
        self.metrics = metrics or Metrics()
        self.limits = limits or Limits()
        self._runner: web.ServerRunner | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (port 0 picks a free one); return the bound address."""
        server = _Server(
            self.handle,
            limits=self.limits,
            # Go counts header bytes, not lines: the handler's byte cap answers 431 first,
            # within one read (256 KiB at most) of the cap, so the parser's own limits
            # (a 400) stay out of reach.
            max_line_size=4 * self.limits.max_header_bytes,
            max_field_size=4 * self.limits.max_header_bytes,
            max_headers=self.limits.max_header_bytes,
            access_log=None,
            keepalive_timeout=self.limits.read_timeout,
            lingering_time=1.0,
        )
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or None, port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else ()  # type: ignore[union-attr]
        bound = sockets[0].getsockname()
        return bound[0], bound[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        receiver_type = "unknown"
        handler = request.path if self.path_metrics else HOOK_HANDLER
        inflight = self.metrics.http_inflight.labels(service="", handler=handler)
        inflight.inc()
        try:
            status, receiver_type = await self._handle(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error handling a webhook request")
            status = 500
        finally:
            inflight.dec()
        elapsed = loop.time() - started
        self.metrics.observe_request(receiver_type, status, elapsed)
        self.metrics.observe_http(handler, request.method, status, elapsed, 0)
        response = web.Response(status=status)
        if status in (400, 413, 431):
            response.force_close()
        return response

    async def _handle(self, request: web.BaseRequest) -> tuple[int, str]:
        path = request.raw_path
        header_bytes = sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
        if header_bytes > self.limits.max_header_bytes:
            log.info("request to %s refused: headers over %d bytes",
                     api.short_path(path), self.limits.max_header_bytes)
            return 431, "unknown"
        try:
            body = await self._read_body(request)
        except _BodyTooLarge:
            log.info("request to %s refused: body over %d bytes",
                     api.short_path(path), self.limits.max_body_bytes)
            return 413, "unknown"
        except TimeoutError:
            log.info("request to %s refused: body not received in time", api.short_path(path))
            return 400, "unknown"
        except Exception as exc:
            log.info("request to %s refused: reading the body failed: %s",
                     api.short_path(path), type(exc).__name__)
            return 400, "unknown"

        receiver = self.index.by_path(path) if path.startswith(api.HOOK_PREFIX) else None
        if receiver is None:
            return 404, "unknown"
        where = {"receiver": receiver.key, "path": api.short_path(path)}
        if receiver.suspend or not receiver.ready:
            log.info("receiver %s is %s", receiver.key,
                     "suspended" if receiver.suspend else "not ready", extra=where)
            return 503, receiver.type

        hook_request = WebhookRequest(
            method=request.method, headers=_lower_headers(request), body=body
        )
        try:
            event = await self._validate(receiver, hook_request)
        except (RefusedRequest, UnsupportedType) as exc:
            log.info("receiver %s refused a request: %s", receiver.key, exc, extra=where)
            return 400, receiver.type
        except Exception:
            log.exception("receiver %s: validating a request failed", receiver.key, extra=where)
            return 400, receiver.type
        if not receiver.accepts_event(event.name):
            log.info("receiver %s refused event %r: not in spec.events",
                     receiver.key, event.name, extra=where)
            return 400, receiver.type

        if event.body is not None:
            hook_request = replace(hook_request, body=event.body)
        if event.claims is not None:
            errors = await self.annotator.annotate(receiver, hook_request, claims=event.claims)
        else:
            errors = await self.annotator.annotate(receiver, hook_request)
        for error in errors:
            log.error("receiver %s: %s", receiver.key, error, extra=where)
        return (500 if errors else 200), receiver.type

    async def _validate(self, receiver: api.Receiver, request: WebhookRequest) -> Event:
        """The sender type's verdict: generic-oidc by its providers, the others by the Secret."""
        sender = self.senders(receiver.type)
        if receiver.type == api.GENERIC_OIDC:
            return await sender.validate(  # type: ignore[call-arg]
                request, {}, providers=receiver.oidc_providers)
        secret = self.index.secret_for(receiver)
        if secret is None:
            raise RefusedRequest(f"unable to read secret of receiver {receiver.key}")
        return await sender.validate(request, secret)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        limit = self.limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _BodyTooLarge
        protocol = request.protocol
        loop = asyncio.get_running_loop()
        started = getattr(protocol, "request_started", 0.0) or loop.time()
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout_at(started + self.limits.read_timeout):
            while True:
                chunk = await request.content.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge
                chunks.append(chunk)
        if isinstance(protocol, TimedRequestHandler):
            protocol.body_read()
        return b"".join(chunks)


def _lower_headers(request: web.BaseRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), value)
    return headers
