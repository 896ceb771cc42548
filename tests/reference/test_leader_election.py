"""Two replicas of the reference with --enable-leader-election, on the embedded control plane.

As in Flux: only the holder of the Lease notification-controller-leader-election reconciles
Receivers; every replica answers webhooks from its own cache; a killed leader's Lease is taken
by the other once it has not been renewed for a lease duration; a leader stopped with
SIGTERM gives the Lease up at once (--leader-election-release-on-cancel, true by default).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver_conformance.kube import wait_until
from receiver_conformance.reference.leader import LEASE_NAME
from receiver_conformance.reference_process import ReferenceReceiver

from .kube_support import (
    create_git_repository,
    create_receiver,
    github_push,
    new_token,
    put_secret,
    requested_at,
    stays,
    wait_for_receiver,
)

pytestmark = pytest.mark.controlplane


def election(namespace: str, lease: str, renew: str, retry: str = "300ms",
             *extra: str) -> list[str]:
    return ["--enable-leader-election", "--namespace", namespace,
            f"--leader-election-lease-duration={lease}",
            f"--leader-election-renew-deadline={renew}",
            f"--leader-election-retry-period={retry}", *extra]


def lease(kube_api: client.ApiClient, namespace: str) -> client.V1LeaseSpec | None:
    try:
        return client.CoordinationV1Api(kube_api).read_namespaced_lease(
            LEASE_NAME, namespace).spec
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def holder(kube_api: client.ApiClient, namespace: str) -> str:
    spec = lease(kube_api, namespace)
    return (spec.holder_identity or "") if spec else ""


@pytest.fixture
def replicas(control_plane: object, namespace: str, request: pytest.FixtureRequest,
             tmp_path: Path) -> Iterator[tuple[ReferenceReceiver, ReferenceReceiver]]:
    """The first replica, holding the Lease, then the second, waiting for it; their logs
    stay in tmp_path/first and tmp_path/second."""
    kubeconfig = Path(control_plane.kubeconfig)  # type: ignore[attr-defined]
    with ExitStack() as stack:
        started = []
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            started.append(stack.enter_context(ReferenceReceiver(
                kubeconfig, election(namespace, *request.param), log_dir=tmp_path / name)))
        yield started[0], started[1]


def _leads(replica: ReferenceReceiver) -> bool:
    return "successfully acquired lease" in replica.log_tail(500)


@pytest.fixture
def elected(replicas: tuple[ReferenceReceiver, ReferenceReceiver], kube_api: client.ApiClient,
            namespace: str) -> tuple[ReferenceReceiver, ReferenceReceiver, str]:
    """The leader, the follower, and the leader's identity once the Lease names it."""
    first = wait_until(lambda: holder(kube_api, namespace), 10, "the first replica to lead")
    return replicas[0], replicas[1], first


@pytest.mark.parametrize("replicas", [("4s", "3s")], indirect=True)
def test_one_leader_reconciles_every_replica_serves_a_killed_leader_is_replaced(
    elected: tuple[ReferenceReceiver, ReferenceReceiver, str], kube_api: client.ApiClient,
    namespace: str,
) -> None:
    leader, follower, first = elected
    assert _leads(leader) and not _leads(follower)
    assert "attempting to acquire leader lease" in follower.log_tail(500)

    token = new_token()
    put_secret(kube_api, namespace, token)
    create_git_repository(kube_api, namespace)
    create_receiver(kube_api, namespace)
    path = wait_for_receiver(kube_api, namespace, "github")["status"]["webhookPath"]
    for replica in (follower, leader):  # both answer, from their own caches
        before = requested_at(kube_api, namespace)
        assert github_push(replica.url + path, token).status_code == 200
        wait_until(lambda b=before: requested_at(kube_api, namespace) not in ("", b), 10,
                   "the push to be annotated")
    assert holder(kube_api, namespace) == first  # nothing moved the Lease meanwhile

    assert leader.pid is not None
    os.kill(leader.pid, signal.SIGKILL)
    killed = time.monotonic()
    create_receiver(kube_api, namespace, name="second")
    answered = []
    while not holder(kube_api, namespace) or holder(kube_api, namespace) == first:
        before = requested_at(kube_api, namespace)
        answered.append(github_push(follower.url + path, token).status_code)
        # A 200 is an annotation persisted: each push moved requestedAt.
        assert requested_at(kube_api, namespace) not in ("", before)
        assert time.monotonic() - killed < 30, "the Lease was not taken over"
        time.sleep(0.2)
    taken = time.monotonic() - killed
    wait_for_receiver(kube_api, namespace, "second")
    print(f"\nLease taken {taken:.1f} s after the leader was killed (lease duration 4 s); "
          f"{len(answered)} pushes meanwhile")
    assert set(answered) == {200}, answered  # the follower kept answering during failover
    assert _leads(follower)
    spec = lease(kube_api, namespace)
    assert spec is not None and spec.lease_transitions == 1
    assert spec.lease_duration_seconds == 4


@pytest.mark.parametrize("replicas", [("20s", "15s")], indirect=True)
def test_a_leader_stopped_gives_the_lease_up(
    elected: tuple[ReferenceReceiver, ReferenceReceiver, str], kube_api: client.ApiClient,
    namespace: str,
) -> None:
    leader, follower, first = elected
    stopped = time.monotonic()
    log = leader.log_path
    leader.stop()  # SIGTERM
    assert log is not None and "released lease" in log.read_text()
    second = wait_until(lambda: (h := holder(kube_api, namespace)) != first and h, 15,
                        "the other replica to take the released Lease")
    # Without the release it would wait out the 20 s lease duration.
    assert time.monotonic() - stopped < 10
    assert second and _leads(follower)


@pytest.mark.parametrize(
    "replicas", [("20s", "15s", "300ms", "--leader-election-release-on-cancel=false")],
    indirect=True)
def test_without_release_on_cancel_the_lease_runs_out(
    elected: tuple[ReferenceReceiver, ReferenceReceiver, str], kube_api: client.ApiClient,
    namespace: str,
) -> None:
    leader, follower, first = elected
    log = leader.log_path
    leader.stop()
    assert log is not None and "released lease" not in log.read_text()
    assert stays(lambda: holder(kube_api, namespace) == first, 3.0)
    assert not _leads(follower)
