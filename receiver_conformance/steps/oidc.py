"""Steps of the generic-oidc scenarios: a Receiver trusting the suite's issuer, CI tokens."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, then, when

from receiver_conformance import senders
from receiver_conformance.scenario import Scenario
from receiver_conformance.senders.oidc import TestOIDCIssuer
from receiver_conformance.steps.common import resource_ref

REPOSITORY = "example-org/webapp"
UNTRUSTED_ISSUER = "http://127.0.0.1:9/untrusted"
# A bad token per variant: the issuer mints it from these arguments (None: no token at all).
BAD_TOKENS: dict[str, dict[str, Any] | None] = {
    "that expired a minute ago": {"expires_in": -60},
    "for another audience": {"audience": "https://another-receiver.example.test"},
    "from an issuer the Receiver does not trust": {"issuer": UNTRUSTED_ISSUER},
    "signed with a key the issuer never published": {"signed_by_issuer": False},
    'for the repository "example-org/other"': {"repository": "example-org/other"},
    "missing": None,
}


def _add_oidc_receiver(scenario: Scenario, name: str, what: str,
                       provider: dict[str, Any]) -> None:
    scenario.add_receiver(name, "generic-oidc", [resource_ref(scenario, what)], secret=None,
                          oidcProviders=[provider])
    scenario.wait_receiver(name)


@given(parsers.re(r'a "generic-oidc" Receiver "(?P<name>[^"]+)" trusting the suite\'s issuer '
                  r'for tokens whose repository is "(?P<repository>[^"]+)", for (?P<what>.+)$'))
def oidc_receiver(scenario: Scenario, oidc_issuer: TestOIDCIssuer, name: str,
                  repository: str, what: str) -> None:
    _add_oidc_receiver(scenario, name, what, {
        "issuerURL": oidc_issuer.url,
        "validations": [{"expression": f'claims.repository == "{repository}"',
                         "message": f"the token is not for {repository}"}],
    })


@given(parsers.re(r'a "generic-oidc" Receiver "(?P<name>[^"]+)" trusting the suite\'s issuer '
                  r'with the audience "(?P<audience>[^"]+)", the variable "(?P<var>\w+)" = '
                  r"'(?P<expression>[^']+)' and the validation '(?P<validation>[^']+)', "
                  r"for (?P<what>.+)$"))
def oidc_receiver_with_variables(scenario: Scenario, oidc_issuer: TestOIDCIssuer, name: str,
                                 audience: str, var: str, expression: str, validation: str,
                                 what: str) -> None:
    _add_oidc_receiver(scenario, name, what, {
        "issuerURL": oidc_issuer.url,
        "audience": audience,
        "variables": [{"name": var, "expression": expression}],
        "validations": [{"expression": validation, "message": "the token fails the validation"}],
    })


@then("its webhook path is derived from its name and namespace alone")
def path_without_token(scenario: Scenario) -> None:
    assert scenario.webhook_path() == senders.webhook_path("", scenario.receiver,
                                                          scenario.namespace), \
        "webhookPath is /hook/ + sha256(name+namespace) when there is no token"


@when(parsers.parse('the CI job sends a valid ID token for the repository "{repository}"'))
def valid_token(scenario: Scenario, oidc_issuer: TestOIDCIssuer, repository: str) -> None:
    token = oidc_issuer.mint(repository=repository)
    scenario.send(oidc_issuer.delivery("valid", token))


@when(parsers.parse("the CI job sends an ID token {variant}"))
def bad_token(scenario: Scenario, oidc_issuer: TestOIDCIssuer, variant: str) -> None:
    minted = BAD_TOKENS[variant]
    token = None if minted is None else oidc_issuer.mint(**{"repository": REPOSITORY, **minted})
    scenario.send(oidc_issuer.delivery(variant, token))


@when(parsers.parse('the CI job sends a valid ID token for the audience "{audience}" and the '
                    'ref "{ref}"'))
def token_with_ref(scenario: Scenario, oidc_issuer: TestOIDCIssuer, audience: str,
                   ref: str) -> None:
    token = oidc_issuer.mint(audience=audience, repository=REPOSITORY, ref=ref)
    scenario.send(oidc_issuer.delivery(f"audience {audience}, ref {ref}", token))
