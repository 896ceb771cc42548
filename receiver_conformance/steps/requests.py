"""Steps that send webhooks and check what the receiver answered and annotated."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from receiver_conformance import senders
from receiver_conformance.flux import objects
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import Scenario

MIB = 1024 * 1024
SOON = 15.0  # seconds a receiver may take to notice a change of its Receiver

# How the GitHub feature names a delivery, and the sender variant that builds it.
GITHUB_VARIANTS = {
    "signed with legacy SHA-1 only": "legacy sha1 only",
    "sent form-encoded": "form-encoded",
    "with a charset parameter": "json with charset",
    "with a wrong signature": "wrong signature",
    "without a signature": "missing signature",
    "with a malformed signature": "malformed signature",
    "with its body changed after signing": "body changed after signing",
    "with a wrong SHA-256 but a valid SHA-1 signature": "wrong sha256 with valid sha1",
    "form-encoded but signed over the payload only": "form signed over payload only",
    "without a Content-Type": "missing content type",
    "with an unsupported Content-Type": "unsupported content type",
}


# -- GitHub ----------------------------------------------------------------------------


@when(parsers.re(r'GitHub sends a signed "(?P<event>[^"]+)" event$'))
def github_event(scenario: Scenario, event: str) -> None:
    scenario.deliver("github", event=event)


@when(parsers.parse('GitHub sends a signed "{event}" event to "{receiver}"'))
def github_event_to(scenario: Scenario, event: str, receiver: str) -> None:
    scenario.deliver("github", event=event, path=scenario.webhook_path(receiver))


@when(parsers.parse('GitHub sends a signed "{event}" event to the path the token would give'))
def github_event_to_unpublished(scenario: Scenario, event: str) -> None:
    scenario.deliver("github", event=event, path=scenario.expected_path())


@when(parsers.re(r'GitHub sends a signed "(?P<event>[^"]+)" event to the '
                 r'(?:old path|path it had)$'))
def github_event_to_old_path(scenario: Scenario, event: str) -> None:
    assert scenario.old_path, "the scenario did not record an earlier path"
    scenario.deliver("github", event=event, path=scenario.old_path)


@when(parsers.re(r'GitHub sends a "(?P<event>[^"]+)" event (?P<how>.+)$'))
def github_variant(scenario: Scenario, event: str, how: str) -> None:
    scenario.deliver("github", GITHUB_VARIANTS[how], event=event)


@then(parsers.re(r'a signed GitHub "(?P<event>[^"]+)" is soon answered (?P<status>\d{3})$'))
def github_soon(scenario: Scenario, event: str, status: str) -> None:
    """Resend until the answer is `status`: the receiver may take a moment to notice."""

    def answered() -> bool:
        return scenario.deliver("github", event=event).status_code == int(status)

    wait_until(answered, SOON, f"the receiver to answer {status}", interval=0.5,
               describe=lambda: str(scenario.response.status_code))


# -- generic and limits ----------------------------------------------------------------


@when("the generic sender posts an event")
def generic_event(scenario: Scenario) -> None:
    scenario.deliver("generic")


@when("the generic sender posts an event to a path no Receiver has")
def generic_unknown_path(scenario: Scenario) -> None:
    scenario.deliver("generic", path=senders.webhook_path("no-such-token", "x", "y"))


@when(parsers.parse("the generic sender posts a body of {size:d} bytes"))
def generic_sized_body(scenario: Scenario, size: int) -> None:
    body = b'{"padding":"' + b"x" * (size - 14) + b'"}'
    assert len(body) == size
    scenario.send(senders.Delivery("generic", f"{size}-byte body",
                                   {"Content-Type": "application/json"}, body))


@when(parsers.parse("the generic sender posts an event with {size:d} KiB of headers"))
def generic_big_headers(scenario: Scenario, size: int) -> None:
    headers = {"Content-Type": "application/json"}
    chunk = 8 * 1024
    for i in range(size * 1024 // chunk):
        headers[f"X-Padding-{i}"] = "x" * chunk
    try:
        scenario.send(senders.Delivery("generic", f"{size} KiB of headers", headers, b"{}"))
    except AssertionError:
        scenario.response = None  # no answer: the refusal step says so


# -- answers ---------------------------------------------------------------------------


@then(parsers.parse("the receiver answers {status:d}"))
def answers(scenario: Scenario, status: int) -> None:
    scenario.expect_status(status)


@then("the receiver refuses the request")
def refuses(scenario: Scenario) -> None:
    assert scenario.response is not None, (
        "the receiver gave no answer; a refusal is a 4xx answer")
    status = scenario.response.status_code
    assert 400 <= status < 500, f"expected a 4xx refusal, got {status}"


# -- annotations -----------------------------------------------------------------------


@then(parsers.re(r'the (?P<kind>\w+) "(?P<name>[^"]+)"(?P<elsewhere> in that namespace)? '
                 r'was annotated$'))
def annotated(scenario: Scenario, kind: str, name: str, elsewhere: str | None) -> None:
    namespace = scenario.other_namespace if elsewhere else None
    scenario.wait_annotated(scenario.source_key(kind, name, namespace))


@then(parsers.parse('the {kind} "{name}" was not annotated'))
def not_annotated(scenario: Scenario, kind: str, name: str) -> None:
    key = scenario.source_key(kind, name)
    assert not scenario.changed_sources(only=[key]), f"the {kind} {name} was annotated"


@then("every source was annotated")
def every_source_annotated(scenario: Scenario) -> None:
    for key in scenario.sources:
        scenario.wait_annotated(key)


@then("nothing was annotated")
def nothing_annotated(scenario: Scenario) -> None:
    assert scenario.sources, "a negative check needs at least one source to watch"
    changed = scenario.changed_sources()
    assert not changed, f"refused, yet annotated: {changed}"


@then(parsers.parse('nothing but that annotation changed on the {kind} "{name}"'))
def only_annotation_changed(scenario: Scenario, kind: str, name: str) -> None:
    changed = scenario.changed_besides_request(scenario.source_key(kind, name))
    assert not changed, f"the request changed more than {objects.REQUESTED_AT}: {sorted(changed)}"


@then(parsers.parse('the {kind} "{name}" reports the request as handled'))
def handled(scenario: Scenario, kind: str, name: str) -> None:
    key = scenario.source_key(kind, name)
    requested = scenario.wait_annotated(key)  # the request: a new requestedAt, not none at all

    def acknowledged() -> bool:
        obj = scenario.kube.get(objects.API_VERSIONS[kind], kind, name, scenario.namespace)
        return (obj.get("status") or {}).get("lastHandledReconcileAt") == requested

    wait_until(acknowledged, 60, f"{kind} {name} to report lastHandledReconcileAt")

