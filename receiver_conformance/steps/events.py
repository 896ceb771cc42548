"""Steps about the Kubernetes Events and the Prometheus metrics a receiver records."""

from __future__ import annotations

from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families
from pytest_bdd import given, parsers, then

from receiver_conformance.flux import objects
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import Scenario

EVENT_TIMEOUT = 15.0
METRICS_TIMEOUT = 15.0
DURATION = "gotk_reconcile_duration_seconds"
# fluxcd/pkg runtime/metrics: prometheus.ExponentialBucketsRange(10e-3, 1800, 10).
FLUX_BUCKETS = [10e-3 * (1800 / 10e-3) ** (i / 9) for i in range(10)]


def receiver_events(scenario: Scenario, name: str, type_: str | None = None) -> list[Any]:
    """The core/v1 Events about the Receiver `name` (of `type_`, if given)."""
    selector = f"involvedObject.kind=Receiver,involvedObject.name={name}"
    if type_:
        selector += f",type={type_}"
    return scenario.kube.core.list_namespaced_event(scenario.namespace,
                                                    field_selector=selector).items


def _describe(scenario: Scenario, name: str) -> str:
    return "; ".join(f"{e.type} {e.reason} x{e.count}: {e.message}"
                     for e in receiver_events(scenario, name)) or "no events"


def wait_event(scenario: Scenario, name: str, type_: str, reason: str, message: str) -> Any:
    def found() -> Any:
        return next((e for e in receiver_events(scenario, name, type_)
                     if e.reason == reason and e.message == message), None)

    event = wait_until(found, EVENT_TIMEOUT, f"a {type_} event {reason} about Receiver {name}",
                       interval=0.25, describe=lambda: _describe(scenario, name))
    scenario.event = event
    scenario.evidence("events", _describe(scenario, name))
    return event


EVENT_SENTENCE = (r'the Receiver "(?P<name>[^"]+)" has a (?P<type_>Normal|Warning) event '
                  r'"(?P<reason>[^"]+)": "(?P<message>[^"]+)"$')


@given(parsers.re(EVENT_SENTENCE))
@then(parsers.re(EVENT_SENTENCE))
def has_event(scenario: Scenario, name: str, type_: str, reason: str, message: str) -> None:
    wait_event(scenario, name, type_, reason, message)


@then(parsers.parse('the Receiver "{name}" has a Warning event "{reason}" with the Ready '
                    "condition's message"))
def has_warning_with_ready_message(scenario: Scenario, name: str, reason: str) -> None:
    ready = objects.condition(scenario.receiver_object(name), "Ready")
    wait_event(scenario, name, "Warning", reason, ready["message"])


@then(parsers.parse('that event names the Secret "{secret}"'))
def event_names_secret(scenario: Scenario, secret: str) -> None:
    assert secret in scenario.event.message, "the Warning names the missing Secret"


@then(parsers.parse('the event is reported by "{component}"'))
def event_reporter(scenario: Scenario, component: str) -> None:
    event = scenario.event
    assert event.source.component == component, "source.component is the controller's name"
    assert event.reporting_component == component, "reportingComponent is the controller"
    involved = event.involved_object
    receiver = scenario.receiver_object(involved.name)
    assert involved.kind == "Receiver"
    assert involved.api_version == "notification.toolkit.fluxcd.io/v1"
    assert involved.namespace == scenario.namespace
    assert involved.uid == receiver["metadata"]["uid"]
    assert event.metadata.namespace == scenario.namespace
    assert event.metadata.name.startswith(f"{involved.name}.")
    assert event.count == 1 and event.first_timestamp and event.last_timestamp


@then("the event is counted 2 times, with no second Normal event")
def event_counted_twice(scenario: Scenario) -> None:
    first = scenario.event
    name = first.involved_object.name

    def counted() -> Any:
        same = [e for e in receiver_events(scenario, name, first.type)
                if e.reason == first.reason and e.message == first.message]
        return same if any((e.count or 0) >= 2 for e in same) else None

    same = wait_until(counted, EVENT_TIMEOUT, "the event's count to reach 2", interval=0.25,
                      describe=lambda: _describe(scenario, name))
    scenario.evidence("events", _describe(scenario, name))
    assert [e.metadata.name for e in same] == [first.metadata.name], \
        "a repeat raises the count of the same Event, it does not make a new one"
    assert same[0].count == 2
    assert same[0].last_timestamp >= first.last_timestamp


@then("it has no Normal event")
def no_normal_event(scenario: Scenario) -> None:
    name = scenario.receiver
    assert not receiver_events(scenario, name, "Normal"), _describe(scenario, name)


# -- metrics ---------------------------------------------------------------------------


def scrape(scenario: Scenario) -> dict[str, Any]:
    url = scenario.target.metrics_url
    assert url, "a target with receiver-metrics gives its metrics URL"
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def duration_samples(scenario: Scenario, name: str) -> list[Any]:
    family = scrape(scenario).get(DURATION)
    if family is None:
        return []
    return [s for s in family.samples if s.labels.get("name") == name
            and s.labels.get("namespace") == scenario.namespace]


@then(parsers.parse('the receiver\'s metrics time the reconciles of the Receiver "{name}" in '
                    "gotk_reconcile_duration_seconds"))
def duration_recorded(scenario: Scenario, name: str) -> None:
    def counted() -> list[Any] | None:
        samples = duration_samples(scenario, name)
        count = [s for s in samples if s.name == f"{DURATION}_count"]
        return samples if count and count[0].value >= 1 else None

    samples = wait_until(counted, METRICS_TIMEOUT, f"{DURATION} for Receiver {name}",
                         interval=0.25)
    scenario.evidence(DURATION, "\n".join(f"{s.name}{s.labels} {s.value}" for s in samples))
    family = scrape(scenario)[DURATION]
    assert family.type == "histogram"
    for sample in samples:
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        assert labels == {"kind": "Receiver", "name": name, "namespace": scenario.namespace}
    scenario.duration_samples = samples


@then("that histogram has Flux's buckets, 10 from 10 ms to 30 minutes")
def flux_buckets(scenario: Scenario) -> None:
    bounds = sorted(float(s.labels["le"]) for s in scenario.duration_samples
                    if s.name == f"{DURATION}_bucket")
    assert bounds[-1] == float("inf")
    assert len(bounds[:-1]) == len(FLUX_BUCKETS)
    for got, want in zip(bounds[:-1], FLUX_BUCKETS, strict=True):
        assert abs(got - want) <= want * 1e-9, (bounds, FLUX_BUCKETS)


@then(parsers.parse('the receiver\'s metrics soon no longer time the Receiver "{name}"'))
def duration_dropped(scenario: Scenario, name: str) -> None:
    wait_until(lambda: not duration_samples(scenario, name), METRICS_TIMEOUT,
               f"{DURATION} for Receiver {name} to be dropped", interval=0.25)
