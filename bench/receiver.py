"""Benchmark of the reference receiver beside Flux's notification-controller, one after the
other on the same embedded control plane (not part of the tests).

    .venv/bin/python -m bench.receiver [--pushes 200] [--seconds 5] [--receivers 1000]
                                       [--concurrency 1 32 200] [--sources 32 200]
                                       [--implementation reference flux]
                                       [--reference-args=--kube-api-qps=-1]

Prints, per implementation: push-to-annotation latency (request sent → annotation seen by a
watch) p50/p99, push-to-200 p50/p99 and accepted signed pushes per second at each concurrency
(1, 32 and 200: all to one source, where annotations coalesce), the same pushes spread over
32 and 200 Receivers each naming a source of its own, the API requests each accepted push
cost (from the API server's own apiserver_request_total, the machine's background taken
out), RSS idle and with N Receivers (`--receivers 0` skips that), the time for N Receivers to
be Ready and the API requests each cost; then a table of both side by side. Both run with
their default client-side limits (50 requests/s, burst 300) unless `--reference-args` or
`--flux-args` say otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import shlex
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


class RequestCounter:
    """The API server's own count of the requests it served (apiserver_request_total), watch
    requests left out (a watch is one long request), by verb and resource."""

    def __init__(self, api_client_: client.ApiClient) -> None:
        self._api = api_client_

    def snapshot(self) -> dict[tuple[str, str], float]:
        response = self._api.call_api("GET", self._api.configuration.host + "/metrics",
                                      header_params={"Accept": "text/plain"},
                                      _request_timeout=30)
        response.read()
        text = response.data.decode()
        counts: dict[tuple[str, str], float] = {}
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels, _, value = line.rpartition(" ")
            fields = dict(part.split("=", 1) for part in
                          labels[len("apiserver_request_total{"):-1].split(",") if "=" in part)
            verb = fields.get("verb", "").strip('"')
            if verb == "WATCH":
                continue
            resource = fields.get("resource", "").strip('"')
            sub = fields.get("subresource", "").strip('"')
            key = (verb, resource + (f"/{sub}" if sub else ""))
            counts[key] = counts.get(key, 0.0) + float(value)
        return counts

    @staticmethod
    def spent(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float],
              leave_out: dict[tuple[str, str], float] | None = None) -> float:
        """Requests served between two snapshots, less those `leave_out` names (the bench's
        own) by verb and resource."""
        total = sum(after.values()) - sum(before.values())
        return total - sum((leave_out or {}).values())


def background_rate(counter: RequestCounter, seconds: float = 5.0) -> float:
    """Requests per second the control plane serves with nobody pushing (its own controllers)."""
    before = counter.snapshot()
    time.sleep(seconds)
    return RequestCounter.spent(before, counter.snapshot()) / seconds


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


async def throughput(urls: list[str], concurrency: int, seconds: float) -> tuple[float, int, int]:
    """Accepted pushes per second, with `concurrency` clients each sending to the URLs in turn;
    also the accepted and the refused counts."""
    accepted = refused = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one_client(client_index: int) -> None:
            nonlocal accepted, refused
            turn = client_index
            while time.perf_counter() < deadline:
                url = urls[turn % len(urls)]
                turn += concurrency
                async with session.post(url, data=BODY, headers=HEADERS) as resp:
                    await resp.read()
                    if resp.status == 200:
                        accepted += 1
                    else:
                        refused += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    return accepted / elapsed, accepted, refused


def spread_sources(api_client_: client.ApiClient, count: int) -> list[str]:
    """`count` GitRepositories and as many Receivers, each naming one of them; their URLs'
    paths once all are Ready."""
    custom = client.CustomObjectsApi(api_client_)
    for i in range(count):
        custom.create_namespaced_custom_object(
            "source.toolkit.fluxcd.io", "v1", NAMESPACE, "gitrepositories",
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
             "metadata": {"name": f"src-{count}-{i}", "namespace": NAMESPACE},
             "spec": {"url": "https://github.com/stefanprodan/podinfo", "interval": "1m"}})
        custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL,
            receiver_body(f"spread-{count}-{i}",
                          [{"kind": "GitRepository", "name": f"src-{count}-{i}"}]))

    def paths() -> list[str] | None:
        items = custom.list_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL)["items"]
        found = [(o.get("status") or {}).get("webhookPath") for o in items
                 if o["metadata"]["name"].startswith(f"spread-{count}-")]
        return found if len(found) == count and all(found) else None

    return wait_until(paths, 300, f"{count} spread Receivers to be Ready", interval=0.5)


def many_receivers(api_client_: client.ApiClient, count: int) -> tuple[float, int]:
    """Seconds until `count` new Receivers are Ready, and how many times the bench listed
    them meanwhile."""
    custom = client.CustomObjectsApi(api_client_)
    polls = 0
    resources = [{"kind": "GitRepository", "name": "podinfo"}]
    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL,
            receiver_body(f"r{i:04d}", resources)), range(count)))

    def all_ready() -> bool:
        nonlocal polls
        polls += 1
        items = custom.list_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL)["items"]
        return sum(1 for o in items if (o.get("status") or {}).get("webhookPath")) >= count + 1

    wait_until(all_ready, 300, f"{count} Receivers to be Ready", interval=0.5)
    return time.monotonic() - began, polls


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 \
        else samples[0]


async def concurrent_latency(urls: list[str], concurrency: int,
                             pushes: int) -> tuple[list[float], dict[int, int]]:
    """Request-to-200 latency of `pushes` pushes sent `concurrency` at a time (a 200 means
    the annotation is persisted), and how many got each other status."""
    samples: list[float] = []
    others: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(i: int) -> None:
            began = time.perf_counter()
            async with session.post(urls[i % len(urls)], data=BODY, headers=HEADERS) as resp:
                await resp.read()
                if resp.status != 200:
                    others[resp.status] = others.get(resp.status, 0) + 1
                    return
            samples.append(time.perf_counter() - began)

        for start in range(0, pushes, concurrency):
            await asyncio.gather(*(one(i) for i in range(start, min(pushes, start + concurrency))))
    return samples, others


@contextmanager
def running(implementation: str, kubeconfig: Path,
            args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """Start one implementation; yield its receiver URL and process id."""
    if implementation == "reference":
        with ReferenceReceiver(kubeconfig, ["--log-level", "error", *args.reference_args]
                               ) as receiver:
            assert receiver.pid is not None
            yield receiver.url, receiver.pid
    else:
        with FluxControllers(kubeconfig, ["notification-controller"],
                             extra_args={"notification-controller": ["--log-level=error",
                                                                     *args.flux_args]}
                             ) as flux:
            controller = flux["notification-controller"]
            yield controller.url("receiver"), controller.child.pid


def measure(implementation: str, kubeconfig: Path, args: argparse.Namespace) -> dict[str, str]:
    """Every figure for one implementation, in a namespace of its own that is deleted after."""
    kube_api = api_client(kubeconfig)
    counter = RequestCounter(kube_api)
    figures: dict[str, str] = {}
    with running(implementation, kubeconfig, args) as (base_url, pid):
        background = background_rate(counter)
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
        spreads = {1: [url]}
        for count in args.sources:
            spreads[count] = [base_url + p for p in spread_sources(kube_api, count)]
        for count, urls in spreads.items():
            where = "one source" if count == 1 else f"{count} sources"
            for concurrency in args.concurrency:
                samples, others = asyncio.run(concurrent_latency(urls, concurrency, args.pushes))
                figures[f"push → 200, {where}, concurrency {concurrency}, p50 / p99"] = (
                    f"{percentile(samples, 50) * 1000:.1f} / "
                    f"{percentile(samples, 99) * 1000:.1f} ms" if samples else "no 200") + "".join(
                        f" ({n} answered {code})" for code, n in sorted(others.items()))
                before, clock = counter.snapshot(), time.monotonic()
                rate, accepted, refused = asyncio.run(throughput(urls, concurrency, args.seconds))
                spent = RequestCounter.spent(before, counter.snapshot()) - background * (
                    time.monotonic() - clock)
                figures[f"accepted pushes/s, {where}, concurrency {concurrency}"] = (
                    f"{rate:.0f}" + (f" ({refused} not 200)" if refused else ""))
                figures[f"API requests per push, {where}, concurrency {concurrency}"] = (
                    f"{spent / accepted:.2f}" if accepted else "-")
        figures["RSS idle (1 Receiver)"] = f"{rss_kib(pid) / 1024:.0f} MiB"
        if args.receivers:
            before, clock = counter.snapshot(), time.monotonic()
            took, polls = many_receivers(kube_api, args.receivers)
            # The bench's own requests: its creates and its polls of the list.
            ours = {("POST", "receivers"): args.receivers, ("LIST", "receivers"): polls}
            spent = RequestCounter.spent(before, counter.snapshot(), ours) - background * (
                time.monotonic() - clock)
            figures[f"{args.receivers} Receivers Ready"] = f"{took:.1f} s"
            figures["API requests per Receiver made Ready"] = f"{spent / args.receivers:.2f}"
            figures[f"RSS with {args.receivers} Receivers"] = f"{rss_kib(pid) / 1024:.0f} MiB"
        Kube(kube_api).delete_namespace(NAMESPACE)  # while the controller can drop finalizers
        wait_until(lambda: not namespace_exists(kube_api), 300, "the bench namespace to go")
    kube_api.close()
    for name, value in figures.items():
        print(f"  {implementation:<10} {name:<58} {value}", flush=True)
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
    parser.add_argument("--sources", type=int, nargs="*", default=[32, 200])
    parser.add_argument("--implementation", nargs="+", choices=("reference", "flux"),
                        default=["reference", "flux"])
    parser.add_argument("--reference-args", type=shlex.split, default=[],
                        help="more flags for the reference, one string "
                        "(--reference-args=--kube-api-qps=-1)")
    parser.add_argument("--flux-args", type=shlex.split, default=[],
                        help="more flags for notification-controller, one string")
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
