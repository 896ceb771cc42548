"""Steps about the receiver's replicas and its leader-election Lease
(features/15_replicas.feature), on receiver_conformance.replicas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from receiver_conformance.replicas import LEASE, RETRY_FOR, Replicas
from receiver_conformance.scenario import Scenario


@pytest.fixture
def replicas(scenario: Scenario) -> Iterator[Replicas]:
    state = Replicas(scenario)
    yield state
    state.close()


@given(parsers.parse("the receiver's Deployment runs {count:d} replicas"))
def runs_replicas(replicas: Replicas, count: int) -> None:
    replicas.scale(count)


@then(parsers.parse('the Lease "{name}" names one of the receiver\'s pods'))
def lease_names_a_pod(replicas: Replicas, name: str) -> None:
    assert name == LEASE, f"Flux's Lease is {LEASE}"
    holder = replicas.holder()
    replicas.scenario.evidence("Lease holder", holder or "(none)")
    assert replicas.holder_pod(), f"the Lease {name} names {holder or 'nobody'}, not a pod " \
        f"of the receiver ({replicas.describe()})"


@then(parsers.parse("a signed push sent to each pod's own address is answered 200 and "
                    'annotates the {kind} "{name}"'))
def each_pod_answers(replicas: Replicas, kind: str, name: str) -> None:
    answers = replicas.push_to_each_pod(replicas.scenario.source_key(kind, name))
    assert len(answers) >= 2, f"only {len(answers)} pod(s) to push to"
    wrong = {pod: got for pod, got in answers.items() if got != (200, True)}
    assert not wrong, f"(answer, annotated) per pod: {wrong}"


@when(parsers.parse("the pod holding the Lease is killed while GitHub sends a signed push "
                    "every half second"))
def kill_leader(replicas: Replicas) -> None:
    replicas.kill_leader_while_pushing(replicas.scenario.source_key("GitRepository", "webapp"),
                                       every=0.5)


@then(parsers.parse("another pod holds the Lease within its lease duration and {extra:d} "
                    "seconds"))
def new_leader(replicas: Replicas, extra: int) -> None:
    took = replicas.wait_new_leader(replicas.lease_duration() + extra)
    replicas.scenario.evidence("failover", f"another pod held the Lease {took:.1f} s after "
                               "the kill")


@then(parsers.parse("every push was answered 200, once tried again for at most {seconds:d} "
                    "seconds"))
def every_push_answered(replicas: Replicas, seconds: int) -> None:
    assert seconds == RETRY_FOR, f"the pushes were tried again for {RETRY_FOR:g} s"
    pushes = replicas.pushes
    lost = [p for p in pushes if p.status != 200]
    assert pushes and not lost, f"{len(lost)} of {len(pushes)} pushes never answered 200 " \
        f"within {seconds} s: {[p.status for p in lost]}"


@then(parsers.parse('every push answered 200 annotated the {kind} "{name}"'))
def every_push_annotated(replicas: Replicas, kind: str, name: str) -> None:
    unannotated = [p for p in replicas.pushes if p.status == 200 and not p.annotated]
    assert not unannotated, f"{len(unannotated)} pushes answered 200 left the {kind} {name}'s " \
        "requestedAt as it was"
