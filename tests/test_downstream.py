"""The downstream flow: helpers, and a push carried to the cluster by Flux's real
source-controller and kustomize-controller from the local Git server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from receiver_conformance import downstream as ds
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.downstream import Downstream
from receiver_conformance.flux.build import find_controllers
from receiver_conformance.flux.controllers import FluxControllers
from receiver_conformance.gitserver import GitServer
from receiver_conformance.kube import Kube
from receiver_conformance.reference_process import ReferenceReceiver
from receiver_conformance.scenario import Scenario
from receiver_conformance.targets.base import Target

CONTROLLERS = ["source-controller", "kustomize-controller"]
# Leader election needs the in-cluster service-account namespace file; outside a pod the
# controllers refuse to start with it (main's FluxControllers no longer passes the flag).
NO_LEADER_ELECTION = {name: ["--enable-leader-election=false"] for name in CONTROLLERS}
SHA = "0123456789abcdef0123456789abcdef01234567"


# -- helpers ---------------------------------------------------------------------------


def test_revision_format() -> None:
    assert ds.revision("master", SHA) == f"master@sha1:{SHA}"


@pytest.mark.parametrize(("text", "seconds"), [
    ("60m", 3600.0), ("1h30m", 5400.0), ("10s", 10.0), ("1.5h", 5400.0), ("250ms", 0.25),
])  # fmt: skip
def test_duration_seconds(text: str, seconds: float) -> None:
    assert ds.duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "60", "m", "1d", "60m ", "-5m"])
def test_duration_seconds_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        ds.duration_seconds(text)


def test_configmap_manifest_has_no_namespace() -> None:
    doc = yaml.safe_load(ds.configmap_manifest("settings", {"greeting": "hello"}))
    assert doc == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                   "data": {"greeting": "hello"}}


def test_push_payload_names_the_commit() -> None:
    body = ds.push_payload("http://127.0.0.1:1/x.git", "master", "0" * 40, SHA, "Set it")
    event = json.loads(body)
    assert (event["ref"], event["before"], event["after"]) == ("refs/heads/master", "0" * 40,
                                                              SHA)
    assert event["repository"]["clone_url"] == "http://127.0.0.1:1/x.git"
    assert event["head_commit"]["id"] == event["commits"][0]["id"] == SHA


def test_kustomization_applies_into_its_namespace() -> None:
    obj = ds.kustomization_object("apps", "ns1", "webapp", "./")
    assert obj["spec"]["targetNamespace"] == "ns1"
    assert obj["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "webapp"}


# -- with the controllers --------------------------------------------------------------


@dataclass
class Recorded:
    evidence: list[tuple[str, Any]] = field(default_factory=list)
    timings: dict[str, tuple[float, str | None, float | None]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stack(control_plane: ControlPlane) -> Iterator[tuple[Target, GitServer]]:
    """The reference receiver, Flux's source- and kustomize-controller, a Git server."""
    if find_controllers(names=CONTROLLERS) is None:
        pytest.skip("Flux's controllers are not built: python -m receiver_conformance.flux.build")
    with ReferenceReceiver(control_plane.kubeconfig) as receiver, \
            FluxControllers(control_plane.kubeconfig, CONTROLLERS, NO_LEADER_ELECTION), \
            GitServer() as git:
        target = Target("embedded", control_plane.kubeconfig, receiver.url,
                        frozenset({"api", *CONTROLLERS}), log_tail=receiver.log_tail)
        yield target, git


@pytest.fixture
def flow(stack: tuple[Target, GitServer], kube: Kube,
         namespace: str) -> Iterator[tuple[Downstream, Recorded]]:
    """The feature's background: first commit applied, the guide's Receiver Ready."""
    target, git = stack
    recorded = Recorded()
    scenario = Scenario(
        target, kube, namespace,
        lambda title, body: recorded.evidence.append((title, body)),
        lambda name, took, why, why_s: recorded.timings.__setitem__(name, (took, why, why_s)),
    )
    flow = Downstream(scenario, git)
    flow.create_repository("webapp", "settings", {"greeting": "hello"})
    flow.add_git_repository("webapp")
    flow.add_kustomization("webapp", "webapp", "./")
    flow.wait_first_applied()
    assert flow.artifact_revision() == f"master@sha1:{flow.commits[0]}"
    assert flow.configmap_data() == {"greeting": "hello"}
    scenario.store_token("webhook-token")
    scenario.add_guide_object("receiver-webapp.yaml")
    scenario.wait_receiver("webapp")
    yield flow, recorded


def test_a_signed_push_is_fetched_and_applied(flow: tuple[Downstream, Recorded]) -> None:
    downstream, recorded = flow
    downstream.commit({"greeting": "hello again"}, "Say it again")
    downstream.send_push()
    downstream.scenario.expect_status(200)
    fetched = downstream.wait_fetched()
    applied = downstream.wait_applied()
    downstream.wait_data({"greeting": "hello again"})

    assert downstream.artifact_revision() == f"master@sha1:{downstream.commits[1]}"
    assert 0 < fetched <= applied < ds.REACTION_TIMEOUT
    interval = ("the GitRepository's interval", 3600.0)
    assert recorded.timings == {"push → revision": (fetched, *interval),
                                "push → applied": (applied, *interval)}
    print(f"push → revision {fetched:.3f} s, push → applied {applied:.3f} s")


def test_a_refused_push_moves_nothing_until_a_signed_one(
    flow: tuple[Downstream, Recorded],
) -> None:
    downstream, recorded = flow
    downstream.commit({"greeting": "hello again"}, "Say it again")
    downstream.send_push("wrong signature")
    downstream.scenario.expect_status(400)
    assert not downstream.scenario.changed_sources()
    assert downstream.revision_held(downstream.revision(0)) == {}
    assert downstream.applied_revision() == downstream.revision(0)
    assert downstream.configmap_data() == {"greeting": "hello"}

    # The check has teeth: once a signed push is sent, the same watch sees the move.
    downstream.send_push()
    downstream.scenario.expect_status(200)
    changed = downstream.revision_held(downstream.revision(0))
    assert changed, "a signed push moves the GitRepository within the quiet period"
    assert set(changed) <= {"artifact revision", "lastHandledReconcileAt"}
    downstream.wait_fetched()
    took = recorded.timings["push → revision"][0]
    assert took < ds.DOWNSTREAM_QUIET_PERIOD, \
        f"the quiet period ({ds.DOWNSTREAM_QUIET_PERIOD:g} s) outlasts a fetch ({took:.2f} s)"
