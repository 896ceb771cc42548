"""Steps for the senders besides GitHub: a Receiver per type, and each sender's requests."""

from __future__ import annotations

import base64

from pytest_bdd import given, parsers, when

from receiver_conformance import senders
from receiver_conformance.scenario import Scenario
from receiver_conformance.steps.common import resource_ref

# How the features name a sender, and the Receiver type that checks its requests.
SENDERS = {
    "GitLab": "gitlab",
    "Bitbucket Server": "bitbucket",
    "Harbor": "harbor",
    "a generic sender": "generic",
    "a generic-hmac sender": "generic-hmac",
    "Docker Hub": "dockerhub",
    "Quay": "quay",
    "ACR": "acr",
    "Nexus": "nexus",
    "a CDEvents producer": "cdevents",
    "Google Pub/Sub": "gcr",
}


@given(parsers.parse('a "{kind}" Receiver "{name}" that lists its sender\'s events, for {what}'))
def receiver_with_sender_events(scenario: Scenario, kind: str, name: str, what: str) -> None:
    events = list(senders.listed_events(kind))
    scenario.add_receiver(name, kind, [resource_ref(scenario, what)], events=events)
    scenario.wait_receiver(name)


@given(
    parsers.parse(
        'the Secret "{secret}" also holds the email "{email}" and the audience "{audience}"'
    )
)
def secret_with_google_identity(scenario: Scenario, secret: str, email: str, audience: str) -> None:
    scenario.store_token(secret, scenario.tokens[secret], {"email": email, "audience": audience})


def secret_data(scenario: Scenario, secret: str) -> dict[str, str]:
    """The decoded data of a Secret in the scenario's namespace."""
    obj = scenario.kube.core.read_namespaced_secret(secret, scenario.namespace)
    return {key: base64.b64decode(value).decode() for key, value in (obj.data or {}).items()}


@when(parsers.re(r'(?P<sender>.+) sends its "(?P<variant>[^"]+)" request$'))
def sender_request(scenario: Scenario, sender: str, variant: str) -> None:
    sender_type = SENDERS[sender]
    context: dict[str, str] = {}
    if sender_type == "gcr":
        receiver = scenario.receiver_object()
        data = secret_data(scenario, receiver["spec"]["secretRef"]["name"])
        context = {"audience": data.get("audience", ""), "email": data.get("email", "")}
    scenario.deliver(sender_type, variant, **context)
