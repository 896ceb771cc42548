"""Replicas of the receiver (features/15_replicas.feature): scale its Deployment, find the pod
that holds the leader-election Lease, push to every pod, kill the leader while pushing.

Flux names the Lease `notification-controller-leader-election`, in the receiver's namespace,
and its holder `<pod name>_<uuid>` (controller-runtime's identity: the host name, which in a
pod is the pod's name). What a scenario scales is put back at its end: one replica again,
its pod Ready and holding the Lease, so that the next scenario finds the receiver as before.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver_conformance import senders
from receiver_conformance.flux import objects
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import Scenario, SourceKey
from receiver_conformance.traffic import (
    CONNECT_TIMEOUT,
    RECEIVER_LABELS,
    RECEIVER_NAMESPACE,
    answer_of,
    client_pod,
    fresh_namespace,
    run_to_end,
)

LEASE = "notification-controller-leader-election"
DEPLOYMENT = "notification-controller"
ROLLOUT_TIMEOUT = 180.0
# A push during the failover may meet a connection to the dead pod or a 503: a client
# (GitHub retries too) tries it again for this long before the push counts as lost.
RETRY_FOR = 15.0


@dataclass(frozen=True)
class Push:
    """One push of the failover: its final status (None: never answered), how many tries
    it took, and the source's requestedAt before and after it."""

    status: int | None
    tries: int
    before: str | None
    after: str | None

    @property
    def annotated(self) -> bool:
        return self.after is not None and self.after != self.before


@dataclass
class Replicas:
    """The receiver's replicas during one scenario, put back to one at its end."""

    scenario: Scenario
    scaled: int | None = None  # the replica count the scenario asked for
    namespaces: list[str] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    killed: str | None = None  # the identity that held the Lease when its pod was killed
    killed_at: float | None = None
    pusher: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def namespace(self) -> str:
        """The receiver's namespace: the target's, else Flux's flux-system."""
        return self.scenario.target.receiver_namespace or RECEIVER_NAMESPACE

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.scenario.kube.api)

    @property
    def core(self) -> client.CoreV1Api:
        return self.scenario.kube.core

    # -- the Deployment ---------------------------------------------------------------

    def scale(self, count: int) -> None:
        """Run `count` replicas and wait until that many pods are Ready and no other is left."""
        self.scaled = count
        self.apps.patch_namespaced_deployment_scale(
            DEPLOYMENT, self.namespace, {"spec": {"replicas": count}})
        wait_until(lambda: len(self.ready_pods()) == count and len(self.pods()) == count,
                   ROLLOUT_TIMEOUT, f"{count} Ready pods of the receiver",
                   interval=0.5, describe=self.describe)

    def pods(self) -> list[Any]:
        """The receiver's pods that are not going away."""
        selector = ",".join(f"{k}={v}" for k, v in RECEIVER_LABELS.items())
        return [p for p in self.core.list_namespaced_pod(
            self.namespace, label_selector=selector).items
            if p.metadata.deletion_timestamp is None]

    def ready_pods(self) -> list[Any]:
        return [p for p in self.pods() if p.status.pod_ip and any(
            c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]

    def describe(self) -> str:
        return "; ".join(f"{p.metadata.name}: {p.status.phase}" for p in self.pods()) or "no pods"

    # -- the Lease --------------------------------------------------------------------

    def lease(self) -> client.V1LeaseSpec | None:
        try:
            return client.CoordinationV1Api(self.scenario.kube.api).read_namespaced_lease(
                LEASE, self.namespace).spec
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def holder(self) -> str:
        spec = self.lease()
        return (spec.holder_identity or "") if spec else ""

    def holder_pod(self) -> str | None:
        """The pod the Lease names (its holder up to the first underscore), if it is one of
        the receiver's pods now."""
        name = self.holder().split("_", 1)[0]
        return name if name in {p.metadata.name for p in self.pods()} else None

    # -- pushes -----------------------------------------------------------------------

    def push_to_each_pod(self, key: SourceKey) -> dict[str, tuple[int | None, bool]]:
        """A signed push to each Ready pod's own address, from a client pod: per pod, the
        answer and whether the source got a new requestedAt."""
        scenario = self.scenario
        namespace = self._client_namespace()
        path = scenario.webhook_path()
        found: dict[str, tuple[int | None, bool]] = {}
        for pod in self.ready_pods():
            before = self._requested_at(key)
            delivery = senders.delivery("github", "valid", scenario.token, event="push")
            url = f"http://{pod.status.pod_ip}:9292{path}"
            code, log = run_to_end(scenario.kube, namespace, client_pod(
                f"client-{uuid.uuid4().hex[:6]}", url, delivery, None,
                scenario.target.probe_image), read_log=True)
            answer = answer_of(log)
            status = answer.status_code if answer is not None else None
            annotated = status == 200 and self._requested_at(key) not in (None, before)
            scenario.evidence(f"push to pod {pod.metadata.name}",
                              f"client exit {code}: {status or 'no answer'}; "
                              f"annotated: {annotated}")
            found[pod.metadata.name] = (status, annotated)
        return found

    def kill_leader_while_pushing(self, key: SourceKey, every: float) -> None:
        """Kill the pod holding the Lease (no grace: SIGKILL) while a push goes to the
        receiver's Service every `every` seconds; keep pushing until another replica holds
        the Lease, and a little after."""
        leader = wait_until(self.holder_pod, 60, "a pod of the receiver to hold the Lease")
        self.killed = self.holder()
        self.pusher = threading.Thread(target=self._push_until, args=(key, every), daemon=True)
        self.pusher.start()
        try:
            wait_until(lambda: len(self.pushes) >= 2, 30 * every + RETRY_FOR,
                       "two pushes answered before the kill")
            self.core.delete_namespaced_pod(leader, self.namespace, grace_period_seconds=0)
            self.killed_at = time.monotonic()
            self.scenario.evidence("killed", f"pod {leader} (it held the Lease)")
        except BaseException:
            self._stop_pushing()
            raise

    def wait_new_leader(self, within: float) -> float:
        """Seconds from the kill until a pod other than the killed one holds the Lease."""
        assert self.killed_at is not None, "no leader was killed"
        try:
            wait_until(lambda: self.holder() not in ("", self.killed) and self.holder_pod(),
                       within - (time.monotonic() - self.killed_at), "another pod to hold "
                       f"the Lease within {within:.0f} s of the kill", interval=0.2)
            return time.monotonic() - self.killed_at
        finally:
            done = len(self.pushes)  # and two more pushes, on the new leader
            wait_until(lambda: len(self.pushes) >= done + 2, 30 + RETRY_FOR,
                       "two pushes after the failover")
            self._stop_pushing()
            self.scenario.evidence("pushes during the failover", [
                {"status": p.status, "tries": p.tries, "annotated": p.annotated}
                for p in self.pushes])

    def lease_duration(self) -> float:
        spec = self.lease()
        assert spec is not None and spec.lease_duration_seconds, "no Lease"
        return float(spec.lease_duration_seconds)

    # -- the end ----------------------------------------------------------------------

    def close(self) -> None:
        """One replica again, Ready and holding the Lease; the client namespaces deleted."""
        self._stop_pushing()
        if self.scaled is not None:
            self.scale(1)
            wait_until(self.holder_pod, 120, "the remaining pod to hold the Lease",
                       interval=0.5)
        for namespace in self.namespaces:
            self.scenario.kube.delete_namespace(namespace)

    # -- internals ---------------------------------------------------------------------

    def _client_namespace(self) -> str:
        if not self.namespaces:
            name = f"rc-clients-{uuid.uuid4().hex[:6]}"
            fresh_namespace(self.scenario.kube, name)
            self.namespaces.append(name)
        return self.namespaces[0]

    def _requested_at(self, key: SourceKey) -> str | None:
        return objects.requested_at(self.scenario.kube, *key)

    def _stop_pushing(self) -> None:
        self.stop.set()
        if self.pusher is not None:
            self.pusher.join()

    def _push_until(self, key: SourceKey, every: float) -> None:
        """Push every `every` seconds until told to stop, each tried again on no answer or
        an answer other than 200 for up to RETRY_FOR seconds (a GitHub redelivery)."""
        scenario = self.scenario
        path = scenario.webhook_path()
        while not self.stop.is_set():
            began = time.monotonic()
            before = self._requested_at(key)
            status, tries = None, 0
            while time.monotonic() - began < RETRY_FOR:
                tries += 1
                delivery = senders.delivery("github", "valid", scenario.token, event="push")
                try:
                    status = senders.send(scenario.target.receiver_url, path, delivery,
                                          timeout=CONNECT_TIMEOUT).status_code
                except requests.RequestException:
                    status = None
                if status == 200 or self.stop.wait(0.2):
                    break
            self.pushes.append(Push(status, tries, before, self._requested_at(key)))
            self.stop.wait(max(0.0, every - (time.monotonic() - began)))
