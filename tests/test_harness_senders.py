"""Unit tests of the suite's senders: signatures, variants, evidence, the HTTP client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from urllib.parse import parse_qs

import jwt
import pytest
import responses

from receiver_conformance import senders
from receiver_conformance.senders import gcr, signing
from receiver_conformance.senders.gcr import TestGoogleIssuer

TOKEN = "0123456789abcdef0123456789abcdef01234567"
AUDIENCE = "https://receiver.example.test/hook/x"
EMAIL = "pusher@example-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def issuer() -> TestGoogleIssuer:
    return TestGoogleIssuer()


def all_variants() -> list[tuple[str, str]]:
    return [(t, v) for t in senders.SENDER_TYPES for v in senders.variant_names(t)]


def build(sender_type: str, variant: str, issuer: TestGoogleIssuer, **context):
    if sender_type == "gcr":
        context = {"issuer": issuer, "audience": AUDIENCE, "email": EMAIL, **context}
    return senders.delivery(sender_type, variant, TOKEN, **context)


def header(delivery: senders.Delivery, name: str) -> str | None:
    return {k.lower(): v for k, v in delivery.headers.items()}.get(name.lower())


# --- signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("sha256", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
        ("sha1", "01dc10d0c83e72ed246219cdd91669667fe2ca59"),
    ],
)
def test_hmac_matches_githubs_published_vector(algorithm: str, expected: str) -> None:
    assert signing.hex_hmac(algorithm, "It's a Secret to Everybody", b"Hello, World!") == expected


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_hmac_agrees_with_the_standard_library(algorithm: str) -> None:
    body = b'{"a":1}'
    expected = hmac.new(TOKEN.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    assert signing.prefixed(algorithm, TOKEN, body) == f"{algorithm}={expected}"


def test_unknown_hmac_algorithm_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"md5.*sha1, sha256, sha512"):
        signing.hex_hmac("md5", TOKEN, b"")


# --- token and hook path ------------------------------------------------------------------


def test_generated_tokens_are_40_hex_and_differ() -> None:
    first, second = senders.generate_token(), senders.generate_token()
    assert re.fullmatch(r"[0-9a-f]{40}", first)
    assert first != second


def test_webhook_path_is_sha256_of_token_name_namespace() -> None:
    digest = hashlib.sha256(b"tok" + b"webapp" + b"flux-system").hexdigest()
    assert senders.webhook_path("tok", "webapp", "flux-system") == "/hook/" + digest


def test_short_path_keeps_only_a_prefix() -> None:
    path = senders.webhook_path(TOKEN, "webapp", "flux-system")
    assert senders.short_path(path) == path[:14] + "…"


# --- variants ----------------------------------------------------------------------------


@pytest.mark.parametrize(("sender_type", "variant"), all_variants())
def test_every_variant_builds_and_keeps_the_token_out_of_evidence(
    sender_type: str, variant: str, issuer: TestGoogleIssuer
) -> None:
    delivery = build(sender_type, variant, issuer)
    assert isinstance(delivery.body, bytes)
    assert all(isinstance(v, str) for v in delivery.headers.values())
    description = delivery.describe()
    assert TOKEN not in description
    assert sender_type in description and variant in description
    assert senders.expected_status(sender_type, variant) in (200, 400)


@pytest.mark.parametrize("sender_type", senders.SENDER_TYPES)
def test_every_type_has_an_accepted_valid_variant(sender_type: str) -> None:
    assert senders.expected_status(sender_type, "valid") == 200


@pytest.mark.parametrize("sender_type", [t for t in senders.SENDER_TYPES if t != "generic"])
def test_every_checked_type_has_a_refused_variant(sender_type: str) -> None:
    statuses = {senders.expected_status(sender_type, v) for v in senders.variant_names(sender_type)}
    assert statuses == {200, 400}


def test_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(KeyError) as caught:
        senders.delivery("gitlab", "bogus", TOKEN)
    assert "'wrong token'" in str(caught.value) and "bogus" in str(caught.value)


def test_unknown_sender_type_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="generic-hmac"):
        senders.delivery("svn", "valid", TOKEN)


def test_gcr_without_its_context_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="issuer, audience, email"):
        senders.delivery("gcr", "valid", TOKEN)


@pytest.mark.parametrize(
    ("sender_type", "events"),
    [
        ("github", ("ping", "push", "package")),
        ("gitlab", ("Push Hook", "Tag Push Hook")),
        ("bitbucket", ("repo:refs_changed",)),
        ("cdevents", ("dev.cdevents.change.merged.0.2.0",)),
        ("harbor", ()),
        ("gcr", ()),
    ],
)
def test_listed_events(sender_type: str, events: tuple[str, ...]) -> None:
    assert senders.listed_events(sender_type) == events


@pytest.mark.parametrize(
    ("sender_type", "header_name"),
    [
        ("github", "X-GitHub-Event"),
        ("gitlab", "X-Gitlab-Event"),
        ("bitbucket", "X-Event-Key"),
        ("cdevents", "Ce-Type"),
    ],
)
def test_unlisted_event_is_outside_the_listed_ones(sender_type: str, header_name: str) -> None:
    delivery = senders.delivery(sender_type, "unlisted event", TOKEN)
    event = header(delivery, header_name)
    assert event and event.lower() not in {e.lower() for e in senders.listed_events(sender_type)}


# --- what the variants contain ------------------------------------------------------------


def hub_ok(signature: str, body: bytes) -> bool:
    algorithm, _, digest = signature.partition("=")
    return hmac.compare_digest(signing.hex_hmac(algorithm, TOKEN, body), digest)


@pytest.mark.parametrize("event", ["ping", "push", "package"])
def test_github_valid_signs_the_event_payload(event: str) -> None:
    delivery = senders.delivery("github", "valid", TOKEN, event=event)
    assert header(delivery, "X-GitHub-Event") == event
    assert header(delivery, "Content-Type") == "application/json"
    assert hub_ok(header(delivery, "X-Hub-Signature-256"), delivery.body)
    assert hub_ok(header(delivery, "X-Hub-Signature"), delivery.body)
    assert header(delivery, "X-Hub-Signature-256").startswith("sha256=")
    assert header(delivery, "X-Hub-Signature").startswith("sha1=")
    document = json.loads(delivery.body)
    assert ("zen" in document) == (event == "ping")
    assert ("package" in document) == (event == "package")


def test_github_form_encoded_signs_the_raw_form_body() -> None:
    delivery = senders.delivery("github", "form-encoded", TOKEN)
    assert header(delivery, "Content-Type") == "application/x-www-form-urlencoded"
    assert hub_ok(header(delivery, "X-Hub-Signature-256"), delivery.body)
    payload = parse_qs(delivery.body.decode())["payload"][0]
    assert json.loads(payload)["ref"] == "refs/heads/master"


@pytest.mark.parametrize(("variant", "signed"), [("valid", True), ("wrong signature", False)])
def test_github_signs_a_given_payload(variant: str, signed: bool) -> None:
    body = b'{"ref":"refs/heads/main","after":"abc"}'
    delivery = senders.delivery("github", variant, TOKEN, event="push", payload=body)
    assert delivery.body == body
    assert hub_ok(header(delivery, "X-Hub-Signature-256"), body) == signed


def test_github_form_signed_over_payload_only_does_not_cover_the_body() -> None:
    delivery = senders.delivery("github", "form signed over payload only", TOKEN)
    payload = parse_qs(delivery.body.decode())["payload"][0].encode()
    assert not hub_ok(header(delivery, "X-Hub-Signature-256"), delivery.body)
    assert hub_ok(header(delivery, "X-Hub-Signature-256"), payload)


@pytest.mark.parametrize(
    ("variant", "sha256_ok", "sha1_ok"),
    [
        ("valid", True, True),
        ("sha256 only", True, None),
        ("legacy sha1 only", None, True),
        ("wrong signature", False, False),
        ("wrong sha256 with valid sha1", False, True),
        ("missing signature", None, None),
        ("body changed after signing", False, False),
    ],
)
def test_github_signature_variants(variant: str, sha256_ok: bool | None, sha1_ok: bool | None):
    delivery = senders.delivery("github", variant, TOKEN)
    for name, ok in (("X-Hub-Signature-256", sha256_ok), ("X-Hub-Signature", sha1_ok)):
        value = header(delivery, name)
        if ok is None:
            assert value is None
        else:
            assert hub_ok(value, delivery.body) is ok


@pytest.mark.parametrize(
    ("sender_type", "content_type"),
    [
        ("github", None),
        ("bitbucket", None),
    ],
)
def test_missing_content_type_has_no_header(sender_type: str, content_type: None) -> None:
    delivery = senders.delivery(sender_type, "missing content type", TOKEN)
    assert header(delivery, "Content-Type") is content_type


def test_malformed_signature_has_no_algorithm_prefix() -> None:
    delivery = senders.delivery("github", "malformed signature", TOKEN)
    assert re.fullmatch(r"[0-9a-f]{64}", header(delivery, "X-Hub-Signature-256"))


@pytest.mark.parametrize(
    ("variant", "ok"),
    [("valid", True), ("wrong signature", False), ("body changed after signing", False)],
)
def test_bitbucket_signs_in_x_hub_signature_with_sha256(variant: str, ok: bool) -> None:
    delivery = senders.delivery("bitbucket", variant, TOKEN)
    signature = header(delivery, "X-Hub-Signature")
    assert signature.startswith("sha256=")
    assert hub_ok(signature, delivery.body) is ok
    assert header(delivery, "X-Hub-Signature-256") is None


@pytest.mark.parametrize(
    ("sender_type", "variant", "name", "value"),
    [
        ("gitlab", "valid", "X-Gitlab-Token", TOKEN),
        ("gitlab", "missing token", "X-Gitlab-Token", None),
        ("harbor", "valid", "Authorization", TOKEN),
        ("harbor", "missing token", "Authorization", None),
        ("harbor", "bearer token", "Authorization", f"Bearer {TOKEN}"),
    ],
)
def test_token_headers(sender_type: str, variant: str, name: str, value: str | None) -> None:
    assert header(senders.delivery(sender_type, variant, TOKEN), name) == value


@pytest.mark.parametrize("sender_type", ["gitlab", "harbor"])
def test_wrong_token_differs_from_the_token(sender_type: str) -> None:
    delivery = senders.delivery(sender_type, "wrong token", TOKEN)
    assert TOKEN not in delivery.headers.values()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_generic_hmac_signs_with_each_algorithm(algorithm: str) -> None:
    delivery = senders.delivery("generic-hmac", f"valid {algorithm}", TOKEN)
    signature = header(delivery, "X-Signature")
    assert signature.startswith(f"{algorithm}=")
    assert hub_ok(signature, delivery.body)


def test_nexus_signs_with_bare_sha1_hex() -> None:
    delivery = senders.delivery("nexus", "valid", TOKEN)
    expected = hmac.new(TOKEN.encode(), delivery.body, hashlib.sha1).hexdigest()
    assert header(delivery, "X-Nexus-Webhook-Signature") == expected
    json.loads(delivery.body)


def test_nexus_invalid_json_is_correctly_signed() -> None:
    delivery = senders.delivery("nexus", "invalid JSON", TOKEN)
    expected = hmac.new(TOKEN.encode(), delivery.body, hashlib.sha1).hexdigest()
    assert header(delivery, "X-Nexus-Webhook-Signature") == expected
    with pytest.raises(json.JSONDecodeError):
        json.loads(delivery.body)


@pytest.mark.parametrize("sender_type", ["dockerhub", "quay", "acr"])
@pytest.mark.parametrize(
    ("variant", "decodes"),
    [("valid", True), ("invalid JSON", False), ("empty body", False), ("wrong field type", True)],
)
def test_registry_bodies(sender_type: str, variant: str, decodes: bool) -> None:
    body = senders.delivery(sender_type, variant, TOKEN).body
    if decodes:
        assert isinstance(json.loads(body), dict)
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)


@pytest.mark.parametrize(
    ("sender_type", "check"),
    [
        ("dockerhub", lambda d: isinstance(d["push_data"]["tag"], str)),
        ("quay", lambda d: isinstance(d["updated_tags"], list)),
        ("acr", lambda d: isinstance(d["target"], dict)),
    ],
)
def test_registry_wrong_field_type_breaks_exactly_the_checked_field(sender_type, check) -> None:
    assert check(json.loads(senders.delivery(sender_type, "valid", TOKEN).body))
    assert not check(json.loads(senders.delivery(sender_type, "wrong field type", TOKEN).body))


def test_cdevent_is_a_change_merged_event_with_matching_ce_type() -> None:
    delivery = senders.delivery("cdevents", "valid", TOKEN)
    event = json.loads(delivery.body)
    assert event["context"]["version"] == "0.4.1"
    assert event["context"]["type"] == "dev.cdevents.change.merged.0.2.0"
    assert header(delivery, "Ce-Type") == event["context"]["type"]
    assert set(event["context"]) >= {"id", "source", "type", "timestamp", "version"}
    assert event["subject"]["type"] == "change"
    assert event["subject"]["content"]["repository"]["id"]


def test_cdevent_missing_context_id_lacks_only_the_id() -> None:
    event = json.loads(senders.delivery("cdevents", "missing context id", TOKEN).body)
    assert "id" not in event["context"] and "type" in event["context"]


# --- gcr ----------------------------------------------------------------------------------


def verify(token: str, jwks_path, audience: str = AUDIENCE) -> dict:
    keys = jwt.PyJWKSet.from_json(jwks_path.read_text())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer="https://accounts.google.com",
    )


def bearer(delivery: senders.Delivery) -> str:
    value = header(delivery, "Authorization")
    assert value.startswith("Bearer ")
    return value.removeprefix("Bearer ")


def test_gcr_valid_token_verifies_against_the_written_jwks(issuer, tmp_path) -> None:
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    claims = verify(bearer(build("gcr", "valid", issuer)), jwks)
    assert claims["email"] == EMAIL and claims["email_verified"] is True
    assert claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    ("variant", "error"),
    [
        ("wrong audience", jwt.InvalidAudienceError),
        ("expired", jwt.ExpiredSignatureError),
        ("not signed by Google", jwt.InvalidSignatureError),
        ("wrong issuer", jwt.InvalidIssuerError),
    ],
)
def test_gcr_refused_tokens_fail_verification(issuer, tmp_path, variant, error) -> None:
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    with pytest.raises(error):
        verify(bearer(build("gcr", variant, issuer)), jwks)


@pytest.mark.parametrize(
    ("variant", "claim", "value"),
    [
        ("wrong email", "email", "someone-else@example-project.iam.gserviceaccount.com"),
        ("unverified email", "email_verified", False),
    ],
)
def test_gcr_claim_variants_verify_but_carry_the_wrong_claim(
    issuer, tmp_path, variant, claim, value
) -> None:
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    assert verify(bearer(build("gcr", variant, issuer)), jwks)[claim] == value


def test_gcr_body_is_a_pubsub_push_of_an_insert(issuer) -> None:
    message = json.loads(build("gcr", "valid", issuer).body)["message"]
    notification = json.loads(base64.b64decode(message["data"]))
    assert notification["action"] == "INSERT"
    assert set(notification) == {"action", "digest", "tag"}
    assert message["messageId"] and message["publishTime"].endswith("Z")


def test_gcr_jwks_holds_only_the_public_key(issuer) -> None:
    (key,) = issuer.jwks()["keys"]
    assert key["kid"] == issuer.kid and key["kty"] == "RSA" and key["alg"] == "RS256"
    assert not {"d", "p", "q"} & set(key)


def test_gcr_missing_token_has_no_authorization(issuer) -> None:
    assert header(build("gcr", "missing token", issuer), "Authorization") is None


def test_gcr_issuer_is_checked_in_context() -> None:
    with pytest.raises(TypeError, match="TestGoogleIssuer"):
        senders.delivery("gcr", "valid", TOKEN, issuer="x", audience="a", email="e")
    assert gcr.GOOGLE_ISSUER == "https://accounts.google.com"


# --- send ---------------------------------------------------------------------------------


@responses.activate
def test_send_posts_headers_and_raw_body() -> None:
    path = senders.webhook_path(TOKEN, "webapp", "flux-system")
    responses.post(f"http://receiver.test:9292{path}", status=200)
    delivery = senders.delivery("github", "valid", TOKEN)
    response = senders.send("http://receiver.test:9292/", path, delivery, timeout=3)
    assert response.status_code == 200
    sent = responses.calls[0].request
    assert sent.method == "POST"
    assert sent.body == delivery.body
    for name, value in delivery.headers.items():
        assert sent.headers[name] == value


@responses.activate
def test_send_without_content_type_sends_none() -> None:
    responses.post("http://receiver.test/hook/abc", status=400)
    delivery = senders.delivery("github", "missing content type", TOKEN)
    assert senders.send("http://receiver.test", "/hook/abc", delivery).status_code == 400
    assert "Content-Type" not in responses.calls[0].request.headers


@responses.activate
def test_send_does_not_follow_redirects() -> None:
    responses.post(
        "http://receiver.test/hook/abc", status=302, headers={"Location": "http://elsewhere.test/"}
    )
    delivery = senders.delivery("generic", "valid", TOKEN)
    assert senders.send("http://receiver.test", "/hook/abc", delivery).status_code == 302
    assert len(responses.calls) == 1


def test_send_refuses_a_relative_path() -> None:
    with pytest.raises(ValueError, match="start with '/'"):
        senders.send(
            "http://receiver.test", "hook/abc", senders.delivery("generic", "valid", TOKEN)
        )


# --- the other_senders feature agrees with the variants' expected statuses ----------------


def feature_rows() -> list[tuple[str, dict[str, str], int]]:
    """(scenario name, example row, status its Then step expects) of other_senders.feature."""
    from pytest_bdd.parser import FeatureParser

    from receiver_conformance.paths import FEATURES

    feature = FeatureParser(str(FEATURES), "06_other_senders.feature").parse()
    rows = []
    for template in feature.scenarios.values():
        [answer] = [s.name for s in template.steps if s.name.startswith("the receiver answers")]
        status = int(answer.rsplit(" ", 1)[1])
        for examples in template.examples:
            rows.extend((template.name, row, status) for row in examples.as_contexts())
    return rows


def test_the_feature_covers_every_type_but_generic_oidc() -> None:
    from receiver_conformance.steps.other_senders import SENDERS

    covered = set()
    for _, row, status in feature_rows():
        sender_type = row.get("type") or "gcr"
        covered.add((sender_type, status))
        assert SENDERS[row.get("sender", "Google Pub/Sub")] == sender_type
    types = set(senders.SENDER_TYPES) - {"github"}
    assert {t for t, s in covered if s == 200} == types
    assert {t for t, s in covered if s == 400} == types - {"generic"}


@pytest.mark.parametrize(
    ("scenario", "row", "status"),
    feature_rows(),
    ids=lambda v: "-".join(v.values()) if isinstance(v, dict) else None,
)
def test_feature_rows_expect_what_the_spec_says(scenario: str, row: dict, status: int) -> None:
    sender_type = row.get("type") or "gcr"
    assert senders.expected_status(sender_type, row["variant"]) == status, scenario
