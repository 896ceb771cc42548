"""The Receiver controller: watches Receivers and Secrets, writes status, keeps the index.

Flux's behaviour: a Receiver is reconciled when created, when its generation or its
`reconcile.fluxcd.io/requestedAt` annotation changes, when a Secret it references
changes and that Secret matches `--watch-configs-label-selector` (by default the label
`reconcile.fluxcd.io/watch: Enabled`), every `spec.interval`, and with backoff after a
failure. Every Secret is still watched, so the cache the server validates requests with is
current (Flux reads the Secret at request time); a change to a Secret outside the selector
just waits for the Receiver's next reconcile.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from . import api, selectors, status
from .events import NORMAL, WARNING, Recorder, go_duration
from .index import Index
from .kube import JSON_PATCH, Kube, KubeError
from .metrics import Metrics

log = logging.getLogger("reference.controller")

MIN_RETRY_DELAY = 0.75
MAX_RETRY_DELAY = 15 * 60.0
WORKERS = 4
# Flux's default for --watch-configs-label-selector (fluxcd/pkg runtime/controller).
WATCH_LABEL = "reconcile.fluxcd.io/watch"
DEFAULT_WATCH_CONFIGS = f"{WATCH_LABEL}=Enabled"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_secret(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's data, base64-decoded (stringData never reaches a reader)."""
    data: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(value or "")
        except ValueError:
            log.warning("secret %s has an undecodable key", _key(obj))
    return data


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class WorkQueue:
    """Receiver keys to reconcile: deduplicated, one worker per key, delayed requeues."""

    def __init__(self, min_delay: float = MIN_RETRY_DELAY,
                 max_delay: float = MAX_RETRY_DELAY) -> None:
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.failures: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Reconcile `key` in `delay` seconds (replacing any later timer)."""
        loop = asyncio.get_running_loop()
        timer = self._timers.get(key)
        if timer is not None:
            if timer.when() <= loop.time() + delay:
                return
            timer.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def forget(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self.failures.pop(key, None)

    def backoff(self, key: str) -> float:
        """The next retry delay of a failing key: exponential from the minimum to the maximum
        (--min-retry-delay 750ms, --max-retry-delay 15m0s)."""
        count = self.failures.get(key, 0)
        self.failures[key] = count + 1
        return min(self.min_delay * 2**min(count, 64), self.max_delay)

    async def get(self) -> str:
        key = await self._queue.get()
        self._pending.discard(key)
        self._active.add(key)
        return key

    def done(self, key: str) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)


class Controller:
    """Keeps Receivers' status and the index current."""

    def __init__(
        self,
        kube: Kube,
        index: Index,
        metrics: Metrics | None = None,
        *,
        namespace: str | None = None,
        workers: int = WORKERS,
        watch_configs: selectors.Selector | None = None,
        events: Recorder | None = None,
        queue: WorkQueue | None = None,
        config_watchers: bool = True,
    ) -> None:
        self.kube = kube
        self.events = events or Recorder(kube)
        self.index = index
        self.metrics = metrics or Metrics()
        self.namespace = namespace  # None: every namespace
        self.workers = workers
        # Secrets whose changes re-reconcile the Receivers that reference them at once.
        self.watch_configs = watch_configs or selectors.parse(DEFAULT_WATCH_CONFIGS)
        # False (feature gate DisableConfigWatchers): no Secret change re-reconciles at once.
        self.config_watchers = config_watchers
        self._secret_labels: dict[str, dict[str, str]] = {}  # last seen, by Secret key
        self.queue = queue or WorkQueue()
        self.synced = asyncio.Event()
        self._receivers_synced = asyncio.Event()
        self._secrets_synced = asyncio.Event()

    # -- paths -------------------------------------------------------------

    def _receivers_path(self, namespace: str | None = None) -> str:
        ns = namespace or self.namespace
        scope = f"/namespaces/{ns}" if ns else ""
        return f"/apis/{api.GROUP}/{api.VERSION}{scope}/{api.PLURAL}"

    def _secrets_path(self) -> str:
        scope = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"/api/v1{scope}/secrets"

    # -- running -----------------------------------------------------------

    async def run(self, leading: asyncio.Event | None = None) -> None:
        """Watch and reconcile until cancelled; `synced` is set after the first listings.

        The watches (and so the index the webhook server reads) run at once; the workers
        that reconcile start once `leading` is set, when this replica holds the Lease."""
        tasks = [
            asyncio.create_task(
                self._informer(self._secrets_path(), self._on_secrets_listed,
                               self._on_secret_event, self._secrets_synced),
                name="watch-secrets",
            ),
        ]
        try:
            # Secrets first, so the first reconciles find the tokens in the cache.
            await self._wait_or_fail(self._secrets_synced, tasks)
            tasks.append(asyncio.create_task(
                self._informer(self._receivers_path(), self._on_receivers_listed,
                               self._on_receiver_event, self._receivers_synced),
                name="watch-receivers",
            ))
            await self._wait_or_fail(self._receivers_synced, tasks)
            self.synced.set()
            log.info("controller synced: %d receivers", len(self.index))
            if leading is not None:
                await self._wait_or_fail(leading, tasks)
            tasks += [
                asyncio.create_task(self._worker(), name=f"reconcile-{i}")
                for i in range(self.workers)
            ]
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _wait_or_fail(event: asyncio.Event, tasks: list[asyncio.Task[Any]]) -> None:
        waiter = asyncio.create_task(event.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            for task in done:
                task.result()  # re-raise what ended a watch
            raise RuntimeError("a watch ended unexpectedly")

    async def _informer(
        self,
        path: str,
        on_list: Callable[[list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
        synced: asyncio.Event,
    ) -> None:
        """List, then watch from the list's resourceVersion; list again after 410 Gone."""
        version: str | None = None
        delay = 0.1
        while True:
            try:
                if version is None:
                    listing = await self.kube.list(path)
                    version = str(listing["metadata"]["resourceVersion"])
                    on_list(list(listing.get("items") or ()))
                    synced.set()
                async for event in self.kube.watch(path, version):
                    obj = event.get("object") or {}
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if event["type"] != "BOOKMARK":
                        on_event(event["type"], obj)
                delay = 0.1
            except KubeError as exc:
                if exc.gone:
                    log.info("watch of %s expired; listing again", path)
                    version = None
                    continue
                if exc.status in (401, 403) and not synced.is_set():
                    raise
                log.warning("watch of %s failed: %s; retrying in %.1fs", path, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("watch of %s interrupted: %s; retrying in %.1fs", path, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    # -- events ------------------------------------------------------------

    def _on_secrets_listed(self, items: list[dict[str, Any]]) -> None:
        seen = set()
        for obj in items:
            seen.add(_key(obj))
            self._on_secret_event("ADDED", obj)
        for key in [k for k in self._secret_labels if k not in seen]:
            # Gone while the watch was down: a deletion like any other.
            self._on_secret_event("DELETED", {"metadata": {
                "namespace": key.split("/", 1)[0], "name": key.split("/", 1)[1],
                "labels": self._secret_labels[key]}})

    def _on_secret_event(self, kind: str, obj: dict[str, Any]) -> None:
        key = _key(obj)
        labels = dict((obj.get("metadata") or {}).get("labels") or {})
        if kind == "DELETED":
            self.index.remove_secret(key)
            self._secret_labels.pop(key, None)
        else:
            data = decode_secret(obj)
            if self.index.secret(key) == data and self._secret_labels.get(key) == labels:
                return
            self.index.put_secret(key, data)
            self._secret_labels[key] = labels
        receivers = self.index.referencing(key)
        if not receivers or not self.config_watchers:
            return
        if not self.watch_configs.matches(labels):
            log.debug("secret %s changed outside --watch-configs-label-selector (%s); "
                      "%d receiver(s) see it at their next reconcile",
                      key, self.watch_configs, len(receivers))
            return
        for receiver in receivers:
            self.queue.add(receiver.key)

    def _on_receivers_listed(self, items: list[dict[str, Any]]) -> None:
        seen = set()
        for obj in items:
            receiver = api.Receiver.from_dict(obj)
            seen.add(receiver.key)
            old = self.index.get(receiver.key)
            self.index.put(receiver)
            # A relist after a broken watch is not a change: as with events, only new or
            # changed Receivers are reconciled (Flux's informers do the same).
            if _wants_reconcile(old, receiver):
                self.queue.add(receiver.key)
        for receiver in self.index.receivers():
            if receiver.key not in seen:
                self._forget(receiver.key)
        self.metrics.receivers.set(len(self.index))

    def _on_receiver_event(self, kind: str, obj: dict[str, Any]) -> None:
        receiver = api.Receiver.from_dict(obj)
        if kind == "DELETED":
            self._forget(receiver.key)
            return
        old = self.index.get(receiver.key)
        self.index.put(receiver)
        self.metrics.receivers.set(len(self.index))
        if _wants_reconcile(old, receiver):
            self.queue.add(receiver.key)

    def _forget(self, key: str) -> None:
        self.index.remove(key)
        self.queue.forget(key)
        self.metrics.receivers.set(len(self.index))

    # -- reconciling -------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = self.queue.backoff(key)
                self.metrics.reconciles.labels(result="error").inc()
                if isinstance(exc, KubeError | aiohttp.ClientError | TimeoutError):
                    log.warning("reconcile of %s failed: %s; retrying in %.1fs", key, exc, delay)
                else:
                    log.exception("reconcile of %s failed; retrying in %.1fs", key, delay)
                self.queue.add_after(key, delay)
            finally:
                self.queue.done(key)

    async def reconcile(self, key: str) -> None:
        """Reconcile one Receiver, `namespace/name`.

        As Flux does after every reconcile of an existing Receiver: its duration is recorded
        (the series dropped once a deleted Receiver lets go), a failure is recorded as a
        Warning Event and, when the Receiver ends up Ready, a Normal Event "Succeeded".
        """
        namespace, name = key.split("/", 1)
        path = f"{self._receivers_path(namespace)}/{name}"
        started = time.monotonic()
        try:
            obj = await self.kube.get(path)
        except KubeError as exc:
            if exc.not_found:
                # Gone: its series too, even if the reconcile that removed the finalizer
                # failed after the API server applied it (a timeout under load), and so
                # recorded a duration instead of dropping the series.
                self._forget(key)
                self.metrics.delete_duration(namespace, name)
                return
            raise
        failure: str | None = None
        try:
            obj, failure = await self._reconcile(key, path, obj)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = str(exc)
            raise
        finally:
            receiver = api.Receiver.from_dict(obj)
            if receiver.deleting and api.FINALIZER not in receiver.finalizers:
                self.metrics.delete_duration(namespace, name)
            else:
                self.metrics.record_duration(namespace, name, started)
            if failure is not None:
                self.events.event(obj, WARNING, api.FAILED, failure)
            elif receiver.ready:
                self.events.event(obj, NORMAL, api.SUCCEEDED, "Reconciliation finished, next "
                                  f"run in {go_duration(receiver.interval)}")

    async def _reconcile(self, key: str, path: str,
                         obj: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The reconcile proper: the Receiver as it ends up, and the failure, if any."""
        receiver = api.Receiver.from_dict(obj)
        if receiver.deleting:
            await self._remove_finalizer(path, receiver)
            self._forget(key)
            self.metrics.reconciles.labels(result="deleted").inc()
            finalizers = [f for f in receiver.finalizers if f != api.FINALIZER]
            return {**obj, "metadata": {**obj["metadata"], "finalizers": finalizers}}, None
        if api.FINALIZER not in receiver.finalizers:
            obj = await self.kube.patch(path, {"metadata": {
                "finalizers": [*receiver.finalizers, api.FINALIZER],
                "resourceVersion": receiver.resource_version,
            }})
            receiver = api.Receiver.from_dict(obj)
        if receiver.suspend:
            self.index.put(receiver)
            self.queue.forget(key)
            self.metrics.reconciles.labels(result="suspended").inc()
            log.info("reconciliation of %s is suspended", key)
            return obj, None

        secret = await self._secret(receiver)
        outcome = status.reconcile(receiver, secret, now_rfc3339())
        if outcome.status != dict(receiver.status):
            obj = await self.kube.patch(f"{path}/status", {"status": _merge(receiver.status,
                                                                              outcome.status)})
            receiver = api.Receiver.from_dict(obj)
        self.index.put(receiver)

        if outcome.retry:
            delay = self.queue.backoff(key)
            self.metrics.reconciles.labels(result="retry").inc()
            log.info("receiver %s not ready: %s; retrying in %.1fs", key, outcome.message, delay)
            self.queue.add_after(key, delay)
            return obj, outcome.message
        self.queue.failures.pop(key, None)
        if outcome.requeue_after is None:
            self.metrics.reconciles.labels(result="stalled").inc()
            log.warning("receiver %s stalled: %s", key, outcome.message)
            # Flux records a terminal error at once, with the Stalled reason, as a Warning.
            stalled = receiver.condition(api.STALLED) or {}
            self.events.event(obj, WARNING, str(stalled.get("reason") or api.FAILED),
                              outcome.message)
            return obj, None
        self.metrics.reconciles.labels(result="success").inc()
        log.info("receiver %s ready at %s; next run in %ss", key,
                 api.short_path(receiver.webhook_path), outcome.requeue_after)
        self.queue.add_after(key, outcome.requeue_after)
        return obj, None

    async def _secret(self, receiver: api.Receiver) -> Mapping[str, bytes] | None:
        """The referenced Secret's data: from the watch cache, else read (watch lag)."""
        key = receiver.secret_key
        if key is None:
            return None
        cached = self.index.secret(key)
        if cached is not None:
            return cached
        try:
            obj = await self.kube.get(f"/api/v1/namespaces/{receiver.namespace}/secrets/"
                                      f"{receiver.secret_name}")
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        # Not cached: only the watch fills the cache, or a DELETED event handled while this
        # read was under way would be undone by stale data.
        return decode_secret(obj)

    async def _remove_finalizer(self, path: str, receiver: api.Receiver) -> None:
        if api.FINALIZER not in receiver.finalizers:
            return
        at = receiver.finalizers.index(api.FINALIZER)
        ops = [
            {"op": "test", "path": f"/metadata/finalizers/{at}", "value": api.FINALIZER},
            {"op": "remove", "path": f"/metadata/finalizers/{at}"},
        ]
        try:
            await self.kube.patch(path, ops, content_type=JSON_PATCH)
        except KubeError as exc:
            if not exc.not_found:
                raise


def _wants_reconcile(old: api.Receiver | None, new: api.Receiver) -> bool:
    """Flux's predicates: created, generation changed, or a reconcile was requested."""
    if old is None or old.uid != new.uid:
        return True
    if new.deleting and not old.deleting:
        return True
    requested = api.RECONCILE_ANNOTATION
    return (
        new.generation != old.generation
        or new.annotations.get(requested) != old.annotations.get(requested)
    )


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch turning status `old` into `new` (removed keys become null)."""
    patch: dict[str, Any] = dict(new)
    for key in old:
        if key not in new:
            patch[key] = None
    return patch
