"""The generic-oidc sender against the suite's local issuer, and its CEL over claims."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from receiver_conformance.reference import api
from receiver_conformance.reference.oidc_claims import ClaimsError, ClaimsProcessor, check_providers
from receiver_conformance.reference.senders import RefusedRequest, WebhookRequest, sender_for
from receiver_conformance.reference.senders.generic_oidc import check_claims, unverified_issuer
from receiver_conformance.senders.oidc import TestOIDCIssuer

REPO = 'claims.repository == "org/app"'


@pytest.fixture(scope="module")
def issuer() -> Iterator[TestOIDCIssuer]:
    with TestOIDCIssuer() as running:
        yield running


def provider(issuer_url: str, validation: str = REPO, **extra: Any) -> api.OIDCProvider:
    return api.OIDCProvider.from_dict({
        "issuerURL": issuer_url, "validations": [{"expression": validation, "message": "no"}],
        **extra})


def bearer(token: str) -> WebhookRequest:
    return WebhookRequest.from_headers("POST", {"Authorization": f"Bearer {token}"}, b"{}")


async def validate(request: WebhookRequest, *providers: api.OIDCProvider) -> Any:
    return await sender_for("generic-oidc").validate(  # type: ignore[call-arg]
        request, {}, providers=providers)


@pytest.mark.asyncio
async def test_a_valid_token_gives_its_claims(issuer: TestOIDCIssuer) -> None:
    event = await validate(bearer(issuer.mint(repository="org/app")), provider(issuer.url))
    assert event.claims["repository"] == "org/app"
    assert event.claims["iss"] == issuer.url


@pytest.mark.parametrize(("minted", "message"), [
    ({"expires_in": -5}, "expired"),
    ({"audience": "someone-else"}, "another audience"),
    ({"issuer": "http://127.0.0.1:9"}, "no oidcProvider"),
    ({"signed_by_issuer": False}, "signature"),
    ({"repository": "org/other"}, "token validation failed: no"),
])
@pytest.mark.asyncio
async def test_a_bad_token_is_refused(issuer: TestOIDCIssuer, minted: dict[str, Any],
                                      message: str) -> None:
    token = issuer.mint(**{"repository": "org/app", **minted})
    with pytest.raises(RefusedRequest, match=message) as refused:
        await validate(bearer(token), provider(issuer.url))
    assert token not in str(refused.value)


@pytest.mark.asyncio
async def test_the_audience_and_variables_of_the_provider_apply(issuer: TestOIDCIssuer) -> None:
    custom = provider(issuer.url, 'vars.owner == "org"', audience="flux",
                      variables=[{"name": "owner",
                                  "expression": 'claims.repository.split("/")[0]'}])
    await validate(bearer(issuer.mint(audience="flux", repository="org/app")), custom)
    with pytest.raises(RefusedRequest, match="another audience"):
        await validate(bearer(issuer.mint(repository="org/app")), custom)


@pytest.mark.asyncio
async def test_a_discovery_document_naming_another_issuer_is_refused(
        issuer: TestOIDCIssuer) -> None:
    alias = issuer.url.replace("127.0.0.1", "localhost")  # same server, another issuer URL
    token = issuer.mint(issuer=alias, repository="org/app")
    with pytest.raises(RefusedRequest, match="another issuer"):
        await validate(bearer(token), provider(alias))


@pytest.mark.parametrize("authorization", [None, "Basic abc", "Bearer ", "Bearer a.b"])
@pytest.mark.asyncio
async def test_without_a_bearer_jwt_the_request_is_refused(
        issuer: TestOIDCIssuer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with pytest.raises(RefusedRequest):
        await validate(WebhookRequest.from_headers("POST", headers, b""), provider(issuer.url))


def test_claims_checks_follow_go_oidc() -> None:
    p = provider("https://i")
    now = time.time()
    check_claims({"iss": "https://i", "aud": ["x", api.DEFAULT_OIDC_AUDIENCE],
                  "exp": now + 1, "nbf": now + 200}, p, now)  # nbf within 5 minutes
    for claims in ({"iss": "https://i", "aud": api.DEFAULT_OIDC_AUDIENCE},  # no exp
                   {"iss": "https://i/", "aud": api.DEFAULT_OIDC_AUDIENCE, "exp": now + 9},
                   {"iss": "https://i", "aud": api.DEFAULT_OIDC_AUDIENCE, "exp": now - 1},
                   {"iss": "https://i", "aud": api.DEFAULT_OIDC_AUDIENCE, "exp": now + 9,
                    "nbf": now + 400}):
        with pytest.raises(RefusedRequest):
            check_claims(claims, p, now)


def test_the_unverified_issuer_picks_the_provider() -> None:
    assert unverified_issuer(TestOIDCIssuer().mint(issuer="https://x")) == "https://x"
    with pytest.raises(RefusedRequest, match="not a JWT"):
        unverified_issuer("abc")


def test_every_failed_validation_is_named() -> None:
    processor = ClaimsProcessor(api.OIDCProvider.from_dict({"issuerURL": "https://i",
        "validations": [{"expression": "claims.a == 1", "message": "a"},
                        {"expression": "claims.b == 2", "message": "b"},
                        {"expression": "true", "message": "c"}]}))
    with pytest.raises(ClaimsError, match=r"token validation failed: a; b$"):
        processor.evaluate({"a": 0, "b": 0})
    processor.evaluate({"a": 1, "b": 2})


def test_provider_specs_are_checked_as_flux_does() -> None:
    ok = {"issuerURL": "https://i", "validations": [{"expression": "true", "message": "m"}]}
    assert check_providers((api.OIDCProvider.from_dict(ok),)) is None
    assert "duplicate" in check_providers((api.OIDCProvider.from_dict(ok),) * 2)
    assert "at least one validation" in check_providers(
        (api.OIDCProvider.from_dict({"issuerURL": "https://i"}),))
    with pytest.raises(ClaimsError, match="expected bool"):
        ClaimsProcessor(provider("https://i", "claims.sub"))
