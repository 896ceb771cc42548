"""Steps of features/13: a Receiver's later life, near misses, order of checks, resources."""

from __future__ import annotations

import itertools

from pytest_bdd import given, parsers, then, when

from receiver_conformance import lifecycle, senders
from receiver_conformance.flux import objects
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import Scenario
from receiver_conformance.senders import near_miss
from receiver_conformance.steps.common import labels_of, resource_ref
from receiver_conformance.steps.other_senders import SENDERS
from receiver_conformance.steps.requests import SOON

JSON = {"Content-Type": "application/json"}

# -- the Receiver's status -------------------------------------------------------------


@then(parsers.parse('the Receiver "{name}" carries the finalizer "{finalizer}"'))
def has_finalizer(scenario: Scenario, name: str, finalizer: str) -> None:
    finalizers = scenario.receiver_object(name)["metadata"].get("finalizers") or []
    assert finalizer in finalizers, f"finalizers are {finalizers}, expected {finalizer!r}"


@then(parsers.parse('the Receiver "{name}" has no "{kind}" condition'))
def no_condition(scenario: Scenario, name: str, kind: str) -> None:
    found = objects.condition(scenario.receiver_object(name), kind)
    assert found is None, f"a Ready Receiver has no {kind} condition, found {found}"


@when(parsers.parse('the Receiver "{name}" is changed to list only the event "{event}"'))
def change_events(scenario: Scenario, name: str, event: str) -> None:
    scenario.old_generation = scenario.receiver_object(name)["metadata"]["generation"]
    scenario.patch_receiver(name, {"events": [event]})


@then(parsers.parse('the Receiver "{name}" soon reports the new generation as observed, and is '
                    'Ready'))
def new_generation_observed(scenario: Scenario, name: str) -> None:
    def observed(obj: dict) -> bool:
        ready = objects.condition(obj, "Ready") or {}
        return (obj["metadata"]["generation"] > scenario.old_generation
                and lifecycle.observed_current_generation(obj)
                and ready.get("status") == "True")

    lifecycle.wait_status(scenario, name, "to observe its new generation and be Ready", observed)


@when(parsers.parse('a reconcile of the Receiver "{name}" is requested, as "flux reconcile '
                    'receiver" does'))
def reconcile_requested(scenario: Scenario, name: str) -> None:
    scenario.reconcile_request = lifecycle.request_reconcile(scenario, name)


@then(parsers.parse('the Receiver "{name}" soon reports that request in lastHandledReconcileAt'))
def request_handled(scenario: Scenario, name: str) -> None:
    value = scenario.reconcile_request
    lifecycle.wait_status(
        scenario, name, f"to report lastHandledReconcileAt {value}",
        lambda obj: (obj.get("status") or {}).get("lastHandledReconcileAt") == value)


@when(parsers.parse('the Receiver "{name}" is deleted'))
def receiver_deleted(scenario: Scenario, name: str) -> None:
    scenario.old_path = scenario.webhook_path(name)
    lifecycle.delete_receiver(scenario, name)


@then(parsers.parse('the Receiver "{name}" is soon gone'))
def receiver_gone(scenario: Scenario, name: str) -> None:
    lifecycle.wait_receiver_gone(scenario, name)


@when(parsers.parse('the Secret "{secret}" is deleted'))
def secret_deleted(scenario: Scenario, secret: str) -> None:
    scenario.old_path = scenario.webhook_path()
    lifecycle.delete_secret(scenario, secret)


@when(parsers.parse('the Secret "{secret}" is replaced by one holding only a "{key}" key'))
def secret_emptied(scenario: Scenario, secret: str, key: str) -> None:
    scenario.old_path = scenario.webhook_path()
    scenario.put_secret(secret, {key: senders.generate_token()})


@then(parsers.parse('the Receiver "{name}" soon has no webhook path'))
def path_cleared(scenario: Scenario, name: str) -> None:
    lifecycle.wait_status(scenario, name, "to clear its webhook path",
                          lambda obj: not (obj.get("status") or {}).get("webhookPath"))


@when(parsers.parse('the first resource of the Receiver "{name}" gets the filter "{expression}"'))
def first_resource_filter(scenario: Scenario, name: str, expression: str) -> None:
    resources = scenario.receiver_object(name)["spec"]["resources"]
    resources[0]["filter"] = expression
    scenario.patch_receiver(name, {"resources": resources})


@when(parsers.parse('GitHub sends three signed "{event}" events within one second'))
def github_burst(scenario: Scenario, event: str) -> None:
    scenario.burst = lifecycle.burst(
        scenario, lambda: scenario.deliver("github", event=event).status_code)


@then(parsers.parse('each was answered 200 and set a new requestedAt on the {kind} "{name}"'))
def burst_annotated(scenario: Scenario, kind: str, name: str) -> None:
    key = scenario.source_key(kind, name)
    statuses = [status for status, _ in scenario.burst]
    assert statuses == [200] * len(statuses), f"the receiver answered {statuses}"
    values = [seen[key] for _, seen in scenario.burst]
    assert all(values), f"a request left no requestedAt: {values}"
    repeated = [v for before, v in itertools.pairwise(values) if v == before]
    assert not repeated, f"requestedAt did not change from one request to the next: {values}"


# -- near misses -----------------------------------------------------------------------


@when(parsers.parse('GitHub sends a signed "{event}" event to its path {how}'))
def github_near_path(scenario: Scenario, event: str, how: str) -> None:
    path = near_miss.PATHS[how](scenario.webhook_path())
    scenario.deliver("github", event=event, path=path)


@when(parsers.parse('GitHub signs a "{event}" event only in X-Hub-Signature-256, {how}'))
def github_near_signature(scenario: Scenario, event: str, how: str) -> None:
    scenario.send(near_miss.github_signed(scenario.token, how, event))


@when(parsers.parse("{sender} sends its request with the token {how}"))
def near_token(scenario: Scenario, sender: str, how: str) -> None:
    scenario.deliver(SENDERS[sender], token=near_miss.TOKENS[how](scenario.token))


@when(parsers.re(r'GitHub sends a signed push body (?:announced by X-GitHub-Event '
                 r'"(?P<header>[^"]+)"|without an X-GitHub-Event header)$'))
def github_event_header(scenario: Scenario, header: str | None) -> None:
    scenario.send(near_miss.github_event_header(scenario.token, header))


@when(parsers.parse('{sender} sends its "{variant}" request without the header "{header}"'))
def without_event_header(scenario: Scenario, sender: str, variant: str, header: str) -> None:
    delivery = senders.delivery(SENDERS[sender], variant, scenario.token)
    scenario.send(near_miss.without_header(delivery, header))


@given(parsers.parse('a "{kind}" Receiver "{name}" listing the event "{event}", for {what}'))
def receiver_listing_event(scenario: Scenario, kind: str, name: str, event: str,
                           what: str) -> None:
    scenario.add_receiver(name, kind, [resource_ref(scenario, what)], events=[event])
    scenario.wait_receiver(name)


# -- order of checks -------------------------------------------------------------------


@then(parsers.parse("the generic sender is soon answered {status:d}"))
def generic_soon(scenario: Scenario, status: int) -> None:
    wait_until(lambda: scenario.deliver("generic").status_code == status, SOON,
               f"the receiver to answer {status}", interval=0.5,
               describe=lambda: str(scenario.response.status_code))


def sized_body(size: int) -> senders.Delivery:
    body = b'{"padding":"' + b"x" * (size - 14) + b'"}'
    assert len(body) == size
    return senders.Delivery("generic", f"{size}-byte body", dict(JSON), body)


@when(parsers.parse("the generic sender posts a body of {size:d} bytes to the path it had"))
def big_body_old_path(scenario: Scenario, size: int) -> None:
    assert scenario.old_path, "the scenario did not record an earlier path"
    scenario.send(sized_body(size), scenario.old_path)


@when(parsers.parse("the generic sender posts a body of {size:d} bytes in chunks of {chunk:d} "
                    "bytes"))
def big_body_chunked(scenario: Scenario, size: int, chunk: int) -> None:
    scenario.send(sized_body(size), chunk_size=chunk)


@when(parsers.parse('GitHub sends a signed "{event}" event in chunks of {chunk:d} bytes'))
def github_chunked(scenario: Scenario, event: str, chunk: int) -> None:
    delivery = senders.delivery("github", "valid", scenario.token, event=event)
    scenario.send(delivery, chunk_size=chunk)


# -- resources -------------------------------------------------------------------------


@given(parsers.parse('a "{kind}" Receiver "{name}" listing, each with its own filter:'))
def receiver_with_filters(scenario: Scenario, kind: str, name: str,
                          datatable: list[list[str]]) -> None:
    header, *rows = datatable
    resources = []
    for row in rows:
        cells = dict(zip([h.strip() for h in header], [c.strip() for c in row], strict=True))
        ref = {"kind": cells["kind"], "name": cells["name"]}
        if cells.get("filter"):
            ref["filter"] = cells["filter"]
        resources.append(ref)
    scenario.add_receiver(name, kind, resources)
    scenario.wait_receiver(name)


@given(parsers.re(r'an? (?P<kind>\w+) "(?P<name>[^"]+)" labelled "(?P<labels>[^"]+)" in another '
                  r'namespace$'))
def a_labelled_source_elsewhere(scenario: Scenario, kind: str, name: str, labels: str) -> None:
    scenario.add_source(kind, name, namespace=scenario.other_namespace, labels=labels_of(labels))


@then(parsers.parse('the {kind} "{name}" in that namespace was not annotated'))
def not_annotated_elsewhere(scenario: Scenario, kind: str, name: str) -> None:
    key = scenario.source_key(kind, name, scenario.other_namespace)
    assert not scenario.changed_sources(only=[key]), (
        f"{kind} {key[2]}/{name} was annotated, though outside the Receiver's namespace")


@given(parsers.parse('the {kind} "{name}" carries the annotation "{annotation}"'))
def source_annotation(scenario: Scenario, kind: str, name: str, annotation: str) -> None:
    key, value = annotation.split("=", 1)
    scenario.kube.resource(objects.API_VERSIONS[kind], kind).patch(
        name=name, namespace=scenario.namespace, body={"metadata": {"annotations": {key: value}}},
        content_type="application/merge-patch+json")


@then(parsers.parse('the {kind} "{name}" still carries the annotation "{annotation}"'))
def source_keeps_annotation(scenario: Scenario, kind: str, name: str, annotation: str) -> None:
    key, value = annotation.split("=", 1)
    found = objects.annotations(scenario.kube, *scenario.source_key(kind, name))
    assert found.get(key) == value, f"the annotation {key} is gone: annotations are {found}"
