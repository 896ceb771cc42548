"""Steps of features/12 beyond OIDC: many pushes at once, and --no-cross-namespace-refs."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pytest_bdd import parsers, then, when

from receiver_conformance import lifecycle, senders
from receiver_conformance.flux import objects
from receiver_conformance.scenario import Scenario

JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Answer:
    """One push of a burst: its status, when it was sent and answered (this host's clock, in
    nanoseconds), and the source's requestedAt read as it came back."""

    status: int
    sent_ns: int
    answered_ns: int
    requested_at: str | None


@dataclass(frozen=True)
class Burst:
    """A burst's answers, and every requestedAt the source was written with meanwhile."""

    answers: list[Answer]
    writes: list[str]


@when(parsers.parse("{count:d} generic senders post an event at once"), target_fixture="burst")
def many_at_once(scenario: Scenario, count: int) -> Burst:
    path = scenario.webhook_path()
    scenario.snapshot()
    key = scenario.sources[0]
    delivery = senders.Delivery("generic", f"one of {count} at once", dict(JSON), b"{}")
    writes = lifecycle.SourceWrites(scenario, key)

    def push(_: int) -> Answer:
        sent = time.time_ns()
        status = senders.send(scenario.target.receiver_url, path, delivery, timeout=30)
        answered = time.time_ns()
        return Answer(status.status_code, sent, answered, objects.requested_at(scenario.kube, *key))

    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(push, range(count)))
    burst = Burst(answers, writes.until(objects.requested_at(scenario.kube, *key)))
    scenario.evidence("answers", {"statuses": sorted({a.status for a in answers}),
                                  "requestedAt values seen": len({a.requested_at for a in answers}),
                                  "writes": len(burst.writes)})
    return burst


@then("every one of them is answered 200")
def all_accepted(burst: Burst) -> None:
    refused = [a.status for a in burst.answers if a.status != 200]
    assert not refused, (f"{len(refused)} of {len(burst.answers)} not answered 200: "
                         f"{sorted(set(refused))}")


@then(parsers.parse('a read of the {kind} "{name}" right after each answer finds it annotated'))
def annotated_when_read_back(scenario: Scenario, burst: Burst, kind: str, name: str) -> None:
    before = scenario.before.get(scenario.source_key(kind, name))
    early = sum(1 for a in burst.answers if a.requested_at == before)
    assert not early, f"{early} of {len(burst.answers)} answered 200 before the annotation was written"


@then(parsers.parse('each was answered after a write of the {kind} "{name}" stamped between '
                    'its sending and its answer'))
def written_in_time(burst: Burst, kind: str, name: str) -> None:
    stamps = [lifecycle.stamp_ns(v) for v in burst.writes]
    assert None not in stamps, f"requestedAt values that are not RFC 3339 times: {burst.writes}"
    uncovered = [a for a in burst.answers
                 if not any(a.sent_ns <= s <= a.answered_ns for s in stamps if s is not None)]
    if uncovered:
        first = min(uncovered, key=lambda a: a.sent_ns)
        raise AssertionError(
            f"{len(uncovered)} of {len(burst.answers)} answered with no write of the {kind} "
            f"{name} stamped between sending and answer ({len(burst.writes)} writes); e.g. sent "
            f"at {first.sent_ns}, answered at {first.answered_ns}, writes stamped "
            f"{sorted(s for s in stamps if s is not None)[:5]}")


@then(parsers.parse('the {kind} "{name}" in that namespace stays unannotated'))
def elsewhere_unannotated(scenario: Scenario, kind: str, name: str) -> None:
    key = scenario.source_key(kind, name, scenario.other_namespace)
    scenario.sources = [key]  # watch only that one over the quiet period
    changed = scenario.changed_sources()
    assert not changed, f"refused, yet annotated: {changed}"
