"""Steps of features/12 beyond OIDC: many pushes at once, and --no-cross-namespace-refs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pytest_bdd import parsers, then, when

from receiver_conformance import senders
from receiver_conformance.flux import objects
from receiver_conformance.scenario import Scenario

JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Answer:
    """One push of a burst: its status, and the source's requestedAt read as it came back."""

    status: int
    requested_at: str | None


@when(parsers.parse("{count:d} generic senders post an event at once"), target_fixture="burst")
def many_at_once(scenario: Scenario, count: int) -> list[Answer]:
    path = scenario.webhook_path()
    scenario.snapshot()
    key = scenario.sources[0]
    delivery = senders.Delivery("generic", f"one of {count} at once", dict(JSON), b"{}")

    def push(_: int) -> Answer:
        status = senders.send(scenario.target.receiver_url, path, delivery, timeout=30)
        return Answer(status.status_code, objects.requested_at(scenario.kube, *key))

    with ThreadPoolExecutor(count) as pool:
        burst = list(pool.map(push, range(count)))
    scenario.evidence("answers", {"statuses": sorted({a.status for a in burst}),
                                  "requestedAt values seen": len({a.requested_at for a in burst})})
    return burst


@then("every one of them is answered 200")
def all_accepted(burst: list[Answer]) -> None:
    refused = [a.status for a in burst if a.status != 200]
    assert not refused, f"{len(refused)} of {len(burst)} not answered 200: {sorted(set(refused))}"


@then(parsers.parse('the {kind} "{name}" was already annotated when each answer came'))
def annotated_before_answer(scenario: Scenario, burst: list[Answer], kind: str,
                            name: str) -> None:
    before = scenario.before.get(scenario.source_key(kind, name))
    early = sum(1 for a in burst if a.requested_at == before)
    assert not early, f"{early} of {len(burst)} answered 200 before the annotation was written"


@then(parsers.parse('the {kind} "{name}" in that namespace stays unannotated'))
def elsewhere_unannotated(scenario: Scenario, kind: str, name: str) -> None:
    key = scenario.source_key(kind, name, scenario.other_namespace)
    scenario.sources = [key]  # watch only that one over the quiet period
    changed = scenario.changed_sources()
    assert not changed, f"refused, yet annotated: {changed}"
