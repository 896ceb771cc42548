"""Benchmark of the reference receiver beside Flux's notification-controller, one after the
other on the same embedded control plane (not part of the tests).

    .venv/bin/python -m bench.receiver [--pushes 200] [--seconds 5] [--receivers 1000]
                                       [--concurrency 1 32 200]
                                       [--implementation reference flux]

Prints, per implementation: push-to-annotation latency (request sent → annotation seen by a
watch) p50/p99, push-to-200 p50/p99 and accepted signed pushes per second at each concurrency
(1, 32 and 200: all to one source, where annotations coalesce), RSS idle and with N Receivers
(`--receivers 0` skips that), and the time for N Receivers to be Ready; then a table of both
side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import requests
from kubernetes import client, watch

from receiver_conformance import versions
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.flux.controllers import FluxControllers
from receiver_conformance.kube import Kube, api_client, wait_until
from receiver_conformance.reference import api
from receiver_conformance.reference_process import ReferenceReceiver

NAMESPACE = "bench"
TOKEN = hashlib.sha1(b"bench-token").hexdigest()
BODY = json.dumps({"ref": "refs/heads/main"}).encode()
HEADERS = {
    "Content-Type": "application/json",
    "X-GitHub-Event": "push",
    "X-Hub-Signature-256": "sha256=" + hmac.new(TOKEN.encode(), BODY, hashlib.sha256).hexdigest(),
}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def receiver_body(name: str, resources: list[dict]) -> dict:
    return {
        "apiVersion": api.API_VERSION, "kind": api.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "webhook-token"},
                 "resources": resources},
    }


def setup(api_client_: client.ApiClient) -> str:
    Kube(api_client_).create_namespace(NAMESPACE)
    client.CoreV1Api(api_client_).create_namespaced_secret(NAMESPACE, client.V1Secret(
        metadata=client.V1ObjectMeta(name="webhook-token"), string_data={"token": TOKEN}))
    custom = client.CustomObjectsApi(api_client_)
    custom.create_namespaced_custom_object(
        "source.toolkit.fluxcd.io", "v1", NAMESPACE, "gitrepositories",
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "podinfo", "namespace": NAMESPACE},
         "spec": {"url": "https://github.com/stefanprodan/podinfo", "interval": "1m"}})
    custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, NAMESPACE, api.PLURAL,
        receiver_body("github", [{"kind": "GitRepository", "name": "podinfo"}]))

    def ready() -> str | None:
        obj = custom.get_namespaced_custom_object(api.GROUP, api.VERSION, NAMESPACE,
                                                  api.PLURAL, "github")
        return (obj.get("status") or {}).get("webhookPath")

    return wait_until(ready, 30, "the bench Receiver to be Ready", interval=0.02)


class AnnotationWatch:
    """A watch on the GitRepository that records when each requestedAt value appears."""

    def __init__(self, api_client_: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api_client_)
        self._seen: dict[str, float] = {}
        self._changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True

    def _run(self) -> None:
        while not self._stop:
            try:
                self._watch_once()
            except Exception:  # the control plane going away ends the watch
                if self._stop:
                    return
                time.sleep(0.1)

    def _watch_once(self) -> None:
        w = watch.Watch()
        for event in w.stream(self._custom.list_namespaced_custom_object,
                              "source.toolkit.fluxcd.io", "v1", NAMESPACE, "gitrepositories",
                              timeout_seconds=30):
            if self._stop:
                return
            value = (event["object"]["metadata"].get("annotations") or {}).get(
                api.RECONCILE_ANNOTATION)
            if value:
                with self._changed:
                    self._seen.setdefault(value, time.perf_counter())
                    self._changed.notify_all()

    def wait_new(self, known: set[str], timeout: float = 10.0) -> tuple[str, float]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                fresh = [(v, t) for v, t in self._seen.items() if v not in known]
                if fresh:
                    return min(fresh, key=lambda item: item[1])
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no new annotation seen")
                self._changed.wait(left)

    def values(self) -> set[str]:
        with self._changed:
            return set(self._seen)


def latency(url: str, watcher: AnnotationWatch, pushes: int) -> list[float]:
    session = requests.Session()
    samples = []
    for _ in range(pushes):
        known = watcher.values()
        began = time.perf_counter()
        resp = session.post(url, data=BODY, headers=HEADERS, timeout=30)
        assert resp.status_code == 200, resp.status_code
        _, seen = watcher.wait_new(known)
        samples.append(seen - began)
    return samples


async def throughput(url: str, concurrency: int, seconds: float) -> tuple[float, int]:
    accepted = refused = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one_client() -> None:
            nonlocal accepted, refused
            while time.perf_counter() < deadline:
                async with session.post(url, data=BODY, headers=HEADERS) as resp:
                    await resp.read()
                    if resp.status == 200:
                        accepted += 1
                    else:
                        refused += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return accepted / elapsed, refused


def many_receivers(api_client_: client.ApiClient, count: int) -> float:
    custom = client.CustomObjectsApi(api_client_)
    resources = [{"kind": "GitRepository", "name": "podinfo"}]
    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL,
            receiver_body(f"r{i:04d}", resources)), range(count)))

    def all_ready() -> bool:
        items = custom.list_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL)["items"]
        return sum(1 for o in items if (o.get("status") or {}).get("webhookPath")) >= count + 1

    wait_until(all_ready, 300, f"{count} Receivers to be Ready", interval=0.5)
    return time.monotonic() - began


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 \
        else samples[0]


async def concurrent_latency(url: str, concurrency: int,
                             pushes: int) -> tuple[list[float], dict[int, int]]:
    """Request-to-200 latency of `pushes` pushes sent `concurrency` at a time (a 200 means
    the annotation is persisted), and how many got each other status."""
    samples: list[float] = []
    others: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(_: int) -> None:
            began = time.perf_counter()
            async with session.post(url, data=BODY, headers=HEADERS) as resp:
                await resp.read()
                if resp.status != 200:
                    others[resp.status] = others.get(resp.status, 0) + 1
                    return
            samples.append(time.perf_counter() - began)

        for start in range(0, pushes, concurrency):
            await asyncio.gather(*(one(i) for i in range(start, min(pushes, start + concurrency))))
    return samples, others


@contextmanager
def running(implementation: str, kubeconfig: Path) -> Iterator[tuple[str, int]]:
    """Start one implementation; yield its receiver URL and process id."""
    if implementation == "reference":
        with ReferenceReceiver(kubeconfig, ["--log-level", "error"]) as receiver:
            assert receiver.pid is not None
            yield receiver.url, receiver.pid
    else:
        with FluxControllers(kubeconfig, ["notification-controller"],
                             extra_args={"notification-controller": ["--log-level=error"]}
                             ) as flux:
            controller = flux["notification-controller"]
            yield controller.url("receiver"), controller.child.pid


def measure(implementation: str, kubeconfig: Path, args: argparse.Namespace) -> dict[str, str]:
    """Every figure for one implementation, in a namespace of its own that is deleted after."""
    kube_api = api_client(kubeconfig)
    figures: dict[str, str] = {}
    with running(implementation, kubeconfig) as (base_url, pid):
        began = time.monotonic()
        path = setup(kube_api)
        figures["Secret + Receiver to Ready"] = f"{(time.monotonic() - began) * 1000:.0f} ms"
        url = base_url + path
        watcher = AnnotationWatch(kube_api)
        latency(url, watcher, 5)  # warm up
        samples = latency(url, watcher, args.pushes)
        figures["push → annotation seen, p50 / p99"] = (
            f"{percentile(samples, 50) * 1000:.1f} / {percentile(samples, 99) * 1000:.1f} ms")
        watcher.stop()
        for concurrency in args.concurrency:
            samples, others = asyncio.run(concurrent_latency(url, concurrency, args.pushes))
            figures[f"push → 200 at concurrency {concurrency}, p50 / p99"] = (
                f"{percentile(samples, 50) * 1000:.1f} / {percentile(samples, 99) * 1000:.1f} ms"
                if samples else "no 200") + "".join(
                    f" ({n} answered {code})" for code, n in sorted(others.items()))
            rate, refused = asyncio.run(throughput(url, concurrency, args.seconds))
            figures[f"accepted pushes/s at concurrency {concurrency}"] = (
                f"{rate:.0f}" + (f" ({refused} not 200)" if refused else ""))
        figures["RSS idle (1 Receiver)"] = f"{rss_kib(pid) / 1024:.0f} MiB"
        if args.receivers:
            took = many_receivers(kube_api, args.receivers)
            figures[f"{args.receivers} Receivers Ready"] = f"{took:.1f} s"
            figures[f"RSS with {args.receivers} Receivers"] = f"{rss_kib(pid) / 1024:.0f} MiB"
        Kube(kube_api).delete_namespace(NAMESPACE)  # while the controller can drop finalizers
        wait_until(lambda: not namespace_exists(kube_api), 300, "the bench namespace to go")
    kube_api.close()
    for name, value in figures.items():
        print(f"  {implementation:<10} {name:<42} {value}", flush=True)
    return figures


def namespace_exists(kube_api: client.ApiClient) -> bool:
    return any(ns.metadata.name == NAMESPACE
               for ns in client.CoreV1Api(kube_api).list_namespace().items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--receivers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 200])
    parser.add_argument("--implementation", nargs="+", choices=("reference", "flux"),
                        default=["reference", "flux"])
    args = parser.parse_args()

    results: dict[str, dict[str, str]] = {}
    with ControlPlane() as plane:
        for implementation in args.implementation:
            results[implementation] = measure(implementation, plane.kubeconfig, args)
    flux = "notification-controller " + versions.FLUX_MODULES["notification-controller"][1]
    names = {"reference": "reference", "flux": flux}
    print()
    print("| measure | " + " | ".join(names[i] for i in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for measure_name in next(iter(results.values())):
        print(f"| {measure_name} | "
              + " | ".join(results[i].get(measure_name, "—") for i in results) + " |")


if __name__ == "__main__":
    main()
