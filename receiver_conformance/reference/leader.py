"""Leader election on a coordination.k8s.io Lease, as client-go's LeaderElector does it.

Flux runs its receiver server outside leader election: every replica serves webhooks from its
own cache, and only the holder of the Lease `notification-controller-leader-election` (in the
runtime namespace) reconciles Receivers. A candidate takes the Lease when it does not exist,
when it has no holder, or when its record has not changed for a lease duration as this
replica observed it (its own clock, never the holder's timestamps). The leader renews every
retry period; when it cannot renew within the renew deadline it has lost the Lease and the
process ends (exit 1), as a Flux controller does. On shutdown, with release-on-cancel, the
leader empties the holder so that another replica takes over at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .kube import Kube, KubeError

log = logging.getLogger("reference.leader")

LEASE_NAME = "notification-controller-leader-election"
JITTER = 1.2  # client-go's JitterFactor: waits between tries are up to 20% longer


class LeadershipLost(Exception):
    """The leader could not renew its Lease within the renew deadline."""


@dataclass(frozen=True)
class Election:
    """Flux's leader-election flags."""

    namespace: str
    lease_duration: float = 35.0
    renew_deadline: float = 30.0
    retry_period: float = 5.0
    release_on_cancel: bool = True
    name: str = LEASE_NAME


def identity() -> str:
    """controller-runtime's: the host name, an underscore and a fresh UUID."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def micro_time(moment: datetime) -> str:
    """A metav1.MicroTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaigns for the Lease; `leading` is set while this replica holds it."""

    def __init__(self, kube: Kube, election: Election, who: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.election = election
        self.identity = who or identity()
        self.leading = asyncio.Event()
        self._clock = clock
        self._observed: dict[str, Any] | None = None  # the Lease's spec as last read
        self._observed_at = 0.0

    @property
    def _path(self) -> str:
        e = self.election
        return f"/apis/coordination.k8s.io/v1/namespaces/{e.namespace}/leases/{e.name}"

    async def run(self) -> None:
        """Acquire the Lease, then renew it until it is lost (LeadershipLost) or the task is
        cancelled (the Lease is then released when release-on-cancel is set)."""
        e = self.election
        log.info("attempting to acquire leader lease %s/%s", e.namespace, e.name)
        while not await self._try():
            await asyncio.sleep(e.retry_period * random.uniform(1.0, JITTER))
        log.info("successfully acquired lease %s/%s", e.namespace, e.name)
        self.leading.set()
        try:
            while True:
                await asyncio.sleep(e.retry_period)
                await self._renew()
        except asyncio.CancelledError:
            if e.release_on_cancel:
                await self._release()
            raise
        finally:
            self.leading.clear()

    async def _renew(self) -> None:
        e = self.election
        deadline = self._clock() + e.renew_deadline
        while True:
            left = deadline - self._clock()
            try:
                if left > 0 and await asyncio.wait_for(self._try(), left):
                    return
            except TimeoutError:
                pass
            if self._clock() >= deadline:
                raise LeadershipLost(f"failed to renew lease {e.namespace}/{e.name}: "
                                     f"no renewal within {e.renew_deadline:g}s")
            await asyncio.sleep(min(e.retry_period, max(0.0, deadline - self._clock())))

    async def _try(self) -> bool:
        """client-go's tryAcquireOrRenew: True when this replica holds the Lease now."""
        now = datetime.now(UTC)
        try:
            lease = await self.kube.get(self._path)
        except KubeError as exc:
            if not exc.not_found:
                log.warning("error retrieving lease %s: %s", self.election.name, exc)
                return False
            return await self._create(now)
        except (OSError, TimeoutError) as exc:
            log.warning("error retrieving lease %s: %s", self.election.name, exc)
            return False
        spec = dict(lease.get("spec") or {})
        if spec != self._observed:
            self._observed, self._observed_at = spec, self._clock()
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or 0)
        if holder and holder != self.identity and (
                self._observed_at + duration > self._clock()):
            return False  # held by another, and renewed recently
        transitions = int(spec.get("leaseTransitions") or 0)
        renewed = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": _seconds(self.election.lease_duration),
            "acquireTime": spec.get("acquireTime") if holder == self.identity
            else micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions if holder == self.identity else transitions + 1,
        }
        return await self._update(lease, renewed)

    async def _create(self, now: datetime) -> bool:
        e = self.election
        spec = {"holderIdentity": self.identity,
                "leaseDurationSeconds": _seconds(e.lease_duration),
                "acquireTime": micro_time(now), "renewTime": micro_time(now),
                "leaseTransitions": 0}
        try:
            await self.kube.request(
                "POST", self._path.rsplit("/", 1)[0],
                body={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                      "metadata": {"name": e.name, "namespace": e.namespace}, "spec": spec})
        except (KubeError, OSError, TimeoutError) as exc:
            log.warning("error creating lease %s: %s", e.name, exc)
            return False
        self._observed, self._observed_at = spec, self._clock()
        return True

    async def _update(self, lease: dict[str, Any], spec: dict[str, Any]) -> bool:
        """Replace the Lease's spec; a conflict (someone else wrote first) is a lost try."""
        try:
            await self.kube.request("PUT", self._path, body={**lease, "spec": spec})
        except (KubeError, OSError, TimeoutError) as exc:
            log.warning("error updating lease %s: %s", self.election.name, exc)
            return False
        self._observed, self._observed_at = spec, self._clock()
        return True

    async def _release(self) -> None:
        """Empty the holder (client-go's release), keeping the transitions count."""
        if not self.leading.is_set():
            return
        try:
            lease = await self.kube.get(self._path)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            now = micro_time(datetime.now(UTC))
            released = {"leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now,
                        "leaseTransitions": int(spec.get("leaseTransitions") or 0)}
            await self.kube.request("PUT", self._path, body={**lease, "spec": released})
            log.info("released lease %s/%s", self.election.namespace, self.election.name)
        except (KubeError, OSError, TimeoutError) as exc:
            log.warning("could not release lease %s: %s", self.election.name, exc)


def _seconds(value: float) -> int:
    return max(1, int(value))
