"""Steps about objects: sources, token Secrets, Receivers and their status."""

from __future__ import annotations

import re

from pytest_bdd import given, parsers, then, when

from receiver_conformance import senders
from receiver_conformance.flux import objects
from receiver_conformance.scenario import Scenario


def labels_of(text: str) -> dict[str, str]:
    """'team=payments, tier=web' -> {'team': 'payments', 'tier': 'web'}."""
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    return dict(p.split("=", 1) for p in pairs)


# -- sources ---------------------------------------------------------------------------


@given(parsers.parse('the guide\'s GitRepository "{name}"'))
def guide_git_repository(scenario: Scenario, name: str) -> None:
    scenario.add_guide_object("gitrepository-webapp.yaml", name=name)


@given(parsers.re(r'an? (?P<kind>\w+) "(?P<name>[^"]+)"$'))
def a_source(scenario: Scenario, kind: str, name: str) -> None:
    scenario.add_source(kind, name)


@given(parsers.re(r'an? (?P<kind>\w+) "(?P<name>[^"]+)" labelled "(?P<labels>[^"]+)"$'))
def a_labelled_source(scenario: Scenario, kind: str, name: str, labels: str) -> None:
    scenario.add_source(kind, name, labels=labels_of(labels))


@given(parsers.re(r'an? (?P<kind>\w+) "(?P<name>[^"]+)" in another namespace$'))
def a_source_elsewhere(scenario: Scenario, kind: str, name: str) -> None:
    scenario.add_source(kind, name, namespace=scenario.other_namespace)


@given("these sources:")
def these_sources(scenario: Scenario, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    for row in rows:
        cells = dict(zip([h.strip() for h in header], [c.strip() for c in row], strict=True))
        scenario.add_source(cells["kind"], cells["name"], labels=labels_of(cells.get("labels", "")))


# -- the token Secret ------------------------------------------------------------------


@given("a token generated as the guide does")
def a_guide_token(scenario: Scenario) -> None:
    scenario.pending_token = flux_token()


def flux_token() -> str:
    token = senders.generate_token()
    assert re.fullmatch(r"[0-9a-f]{40}", token), "the guide's token is 40 hex characters"
    return token


STORED_TOKEN = r'"(?P<secret>[^"]+)"(?: labelled "(?P<labels>[^"]+)")?$'


@given(parsers.re(r"a token generated as the guide does, stored in the Secret " + STORED_TOKEN))
@when(parsers.re(r"a token generated as the guide does is stored in the Secret " + STORED_TOKEN))
def a_stored_guide_token(scenario: Scenario, secret: str, labels: str | None) -> None:
    scenario.store_token(secret, flux_token(), labels=labels_of(labels) if labels else None)


@when(parsers.parse('the token in the Secret "{secret}" is replaced by a new one'))
def rotate_token(scenario: Scenario, secret: str) -> None:
    scenario.old_path = scenario.webhook_path()
    scenario.store_token(secret, flux_token())


@given(parsers.parse('the Secret "{secret}" holding only a "{key}" key'))
def secret_without_token(scenario: Scenario, secret: str, key: str) -> None:
    scenario.put_secret(secret, {key: flux_token()})


@given(parsers.parse('the Secret "{secret}" holding an empty token'))
def secret_with_empty_token(scenario: Scenario, secret: str) -> None:
    scenario.put_secret(secret, {"token": ""})
    scenario.tokens[secret] = ""


# -- Receivers -------------------------------------------------------------------------


@given(parsers.parse('the guide\'s Receiver "{name}"'))
@when(parsers.parse('the guide\'s Receiver "{name}" is created'))
def guide_receiver(scenario: Scenario, name: str) -> None:
    scenario.add_guide_object("receiver-webapp.yaml", name=name)


@given(parsers.re(r'the guide\'s Receiver "(?P<name>[^"]+)" is Ready$'))
def guide_receiver_ready(scenario: Scenario, name: str) -> None:
    scenario.add_guide_object("receiver-webapp.yaml", name=name)
    scenario.wait_receiver(name)


@given(parsers.parse('the guide\'s Receiver "{name}" with the interval "{interval}" is Ready'))
def guide_receiver_with_interval_ready(scenario: Scenario, name: str, interval: str) -> None:
    scenario.add_guide_receiver(name, interval)
    scenario.wait_receiver(name)


@given(parsers.parse('the guide\'s image Receiver "{name}" pointing at the {kind} "{source}"'))
def guide_image_receiver(scenario: Scenario, name: str, kind: str, source: str) -> None:
    obj = objects.guide_object("receiver-webapp-image.yaml", scenario.namespace, name=name)
    obj["spec"]["resources"] = [{"kind": kind, "name": source}]
    scenario.apply(obj)
    scenario.receiver = name


RESOURCE = re.compile(
    r'(?P<every>every )?(?:the )?(?P<kind>\w+)(?: "(?P<name>[^"]+)")?'
    r'(?P<elsewhere> in that namespace)?'
    r'(?: labelled "(?P<labels>[^"]+)")?'
    r'(?P<nolabels>, with no labels)?'
    r'(?: with apiVersion "(?P<api>[^"]+)")?'
    r'(?P<noapi> without an apiVersion)?$'
)


def resource_ref(scenario: Scenario, text: str) -> dict:
    """Turn 'the GitRepository "webapp"' or 'every GitRepository labelled "a=b"' into a
    Receiver resource reference."""
    match = RESOURCE.match(text)
    if not match:
        raise ValueError(f"cannot read a resource from {text!r}")
    ref: dict = {"kind": match["kind"], "name": "*" if match["every"] else match["name"]}
    if match["labels"]:
        ref["matchLabels"] = labels_of(match["labels"])
    if match["elsewhere"]:
        ref["namespace"] = scenario.other_namespace
    if match["api"]:
        ref["apiVersion"] = match["api"]
    elif not match["noapi"] and match["kind"] not in objects.DEFAULTED_KINDS:
        ref["apiVersion"] = objects.API_VERSIONS[match["kind"]]
    return ref


@given(parsers.re(r'an? "(?P<kind>[\w-]+)" Receiver "(?P<name>[^"]+)" for (?P<what>.+)$'))
def typed_receiver(scenario: Scenario, kind: str, name: str, what: str) -> None:
    scenario.add_receiver(name, kind, [resource_ref(scenario, what)])
    scenario.wait_receiver(name)


@given(parsers.parse('a "{kind}" Receiver "{name}" listing every one of them'))
def receiver_for_all(scenario: Scenario, kind: str, name: str) -> None:
    scenario.add_receiver(name, kind, [{"kind": k, "name": n} for k, n, _ in scenario.sources])
    scenario.wait_receiver(name)


@given(parsers.parse("the Receiver \"{name}\" has the resource filter '{expression}'"))
def receiver_filter(scenario: Scenario, name: str, expression: str) -> None:
    scenario.patch_receiver(name, {"resourceFilter": expression})
    scenario.wait_receiver(name)


@when(parsers.parse('the Receiver "{name}" gets the resource filter "{expression}"'))
def receiver_bad_filter(scenario: Scenario, name: str, expression: str) -> None:
    scenario.old_path = scenario.webhook_path(name)
    scenario.patch_receiver(name, {"resourceFilter": expression})


@when(parsers.parse('the Receiver "{name}" is suspended'))
def suspend(scenario: Scenario, name: str) -> None:
    scenario.patch_receiver(name, {"suspend": True})


@when(parsers.parse('the Receiver "{name}" is resumed'))
def resume(scenario: Scenario, name: str) -> None:
    scenario.patch_receiver(name, {"suspend": False})


@when(parsers.re(r'the same Receiver is also created as "(?P<name>[^"]+)" in (?P<where>.+)$'))
def same_receiver_elsewhere(scenario: Scenario, name: str, where: str) -> None:
    namespace = scenario.namespace
    if where == "another namespace":
        namespace = scenario.other_namespace
        objects.put_token_secret(scenario.kube, namespace, "webhook-token",
                              {"token": scenario.token})
    obj = objects.guide_object("receiver-webapp.yaml", namespace, name=name)
    scenario.apply(obj)
    scenario.first_path = scenario.webhook_path("webapp")
    scenario.other = (name, namespace)


@then(parsers.parse('the Receiver "{name}" there becomes Ready'))
def other_ready(scenario: Scenario, name: str) -> None:
    _, namespace = scenario.other
    receiver = objects.wait_receiver_condition(scenario.kube, namespace, name)
    scenario.other_path = receiver["status"]["webhookPath"]


@then(parsers.parse('its webhook path differs from the one of "{name}"'))
def other_path_differs(scenario: Scenario, name: str) -> None:
    assert scenario.other_path != scenario.first_path


@then("its webhook path is derived from the token, its name and its namespace")
def other_path_formula(scenario: Scenario) -> None:
    name, namespace = scenario.other
    assert scenario.other_path == scenario.expected_path(name=name, namespace=namespace)


# -- status ----------------------------------------------------------------------------


@given(parsers.parse('the Receiver "{name}" becomes Ready'))
@then(parsers.parse('the Receiver "{name}" becomes Ready'))
def becomes_ready(scenario: Scenario, name: str) -> None:
    scenario.wait_receiver(name)


@given(parsers.parse('the Receiver "{name}" is not Ready, with reason "{reason}"'))
@then(parsers.parse('the Receiver "{name}" is not Ready, with reason "{reason}"'))
def not_ready(scenario: Scenario, name: str, reason: str) -> None:
    scenario.wait_receiver(name, "False", reason)


@then(parsers.parse('the Receiver "{name}" is Stalled, with reason "{reason}"'))
def stalled(scenario: Scenario, name: str, reason: str) -> None:
    scenario.wait_receiver(name, "True", reason, kind="Stalled")


@then(parsers.parse('the Stalled message of the Receiver "{name}" carries the CEL error '
                    '"{text}"'))
def stalled_message(scenario: Scenario, name: str, text: str) -> None:
    conditions = (scenario.receiver_object(name).get("status") or {}).get("conditions") or []
    message = next((c.get("message", "") for c in conditions if c.get("type") == "Stalled"), "")
    assert text in message, f"the Stalled message should carry the compiler's error: {message!r}"


@then(parsers.parse('the Receiver "{name}" has no webhook path'))
def no_path(scenario: Scenario, name: str) -> None:
    status = scenario.receiver_object(name).get("status") or {}
    assert not status.get("webhookPath"), "a Receiver without a token has no webhook path"


@then("its webhook path is derived from the token, the name and the namespace")
def path_formula(scenario: Scenario) -> None:
    path = scenario.webhook_path()
    assert re.fullmatch(r"/hook/[0-9a-f]{64}", path), "the path is /hook/ and 64 hex digits"
    assert path == scenario.expected_path(), "webhookPath is /hook/ + sha256(token+name+namespace)"


@then("its Ready message names the webhook path")
def ready_message(scenario: Scenario) -> None:
    receiver = scenario.receiver_object()
    ready = objects.condition(receiver, "Ready")
    assert ready["reason"] == "Succeeded", f"Ready's reason is {ready['reason']!r}, not Succeeded"
    assert receiver["status"]["webhookPath"] in ready["message"], (
        f"the Ready message does not name the webhook path: {ready['message']!r}")


@then("it reports the generation it observed")
def observed_generation(scenario: Scenario) -> None:
    receiver = scenario.receiver_object()
    assert receiver["status"]["observedGeneration"] == receiver["metadata"]["generation"]


@then("the webhook path changes to the one derived from the new token")
def path_rotated(scenario: Scenario) -> None:
    expected = scenario.expected_path()
    assert expected != scenario.old_path
    scenario.wait_for_path(expected)


@then("by the Receiver's next reconcile the webhook path changes to the one derived from the "
      "new token")
def path_rotated_by_next_reconcile(scenario: Scenario) -> None:
    expected = scenario.expected_path()
    assert expected != scenario.old_path
    scenario.wait_for_path(expected, timeout=scenario.next_reconcile_deadline())
