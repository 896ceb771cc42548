"""The diff's generator reaches every type, body shape and header variant, and builds
requests as the sender systems would."""

from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver_conformance.diff import cel, generator
from receiver_conformance.diff.model import OTHER, ReceiverSpec, RequestSpec, ResourceSpec
from receiver_conformance.diff.world import Side, expected_path, receiver_manifest

SETTINGS = settings(max_examples=300, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


def _reaches(strategy: st.SearchStrategy, attribute, wanted: set) -> set:
    seen: set = set()

    @SETTINGS
    @given(strategy)
    def collect(value) -> None:
        seen.add(attribute(value))

    collect()
    return wanted - seen


def test_every_receiver_type_is_generated() -> None:
    assert _reaches(generator.receivers(), lambda r: r.type, set(generator.TYPES)) == set()


def test_every_body_shape_is_generated() -> None:
    shapes = set(generator.BODY_SHAPES)
    assert _reaches(generator.requests("github"), lambda r: r.body, shapes) == set()


def test_every_header_casing_content_type_and_path_is_generated() -> None:
    assert _reaches(generator.requests("gitlab"), lambda r: r.casing,
                    set(generator.CASINGS)) == set()
    assert _reaches(generator.requests("generic"), lambda r: r.content_type,
                    set(generator.CONTENT_TYPES)) == set()
    assert _reaches(generator.requests("harbor"), lambda r: r.path,
                    set(generator.PATHS)) == set()


def test_every_auth_variant_of_each_type_is_generated() -> None:
    for rtype in generator.TYPES:
        wanted = set(generator.AUTH.get(rtype, generator.NO_AUTH))
        assert _reaches(generator.requests(rtype), lambda r: r.auth, wanted) == set(), rtype


def test_receivers_reach_wildcards_cross_namespace_filters_and_suspend() -> None:
    def features(r: ReceiverSpec) -> frozenset[str]:
        out = {"suspend"} if r.suspend else set()
        out |= {"events"} if r.events else set()
        out |= {"resourceFilter"} if r.resource_filter else set()
        for ref in r.resources:
            out |= {"wildcard"} if ref.name == "*" else set()
            out |= {"wildcard-no-labels"} if ref.name == "*" and not ref.match_labels else set()
            out |= {"cross-namespace"} if ref.namespace == OTHER else set()
            out |= {"filter"} if ref.filter else set()
        return frozenset(out)

    seen: set[str] = set()

    @SETTINGS
    @given(generator.receivers())
    def collect(r: ReceiverSpec) -> None:
        seen.update(features(r))

    collect()
    assert seen == {"suspend", "events", "resourceFilter", "wildcard", "wildcard-no-labels",
                    "cross-namespace", "filter"}


def test_cel_grammar_gives_valid_and_invalid_expressions() -> None:
    assert _reaches(cel.expressions(), lambda e: e in cel.INVALID, {True, False}) == set()
    assert _reaches(cel.expressions(invalid=False), lambda e: e in cel.INVALID,
                    {True}) == {True}


def test_body_shapes() -> None:
    valid = generator.payload("github")
    assert json.loads(generator.body_bytes("github", "valid"))
    assert generator.body_bytes("github", "null") == b"null"
    assert generator.body_bytes("github", "empty") == b""
    assert generator.body_bytes("github", "form").startswith(b"payload=%7B")
    assert len(generator.body_bytes("github", "oversize")) == generator.MAX_BODY + 1
    assert len(generator.body_bytes("github", "at-limit")) == generator.MAX_BODY
    non_utf8 = generator.body_bytes("github", "non-utf8")
    try:
        non_utf8.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError("non-utf8 body decodes as UTF-8")
    assert generator.mutate(valid, 3) == valid + b" x"
    assert json.loads(generator.mutate(valid, 7))["unexpected"] == {"nested": [1, 2]}


def test_github_request_is_signed_over_the_body_with_the_receivers_token() -> None:
    spec = ReceiverSpec("github", (ResourceSpec("GitRepository", "app"),), secret="token-b")
    built = generator.build(spec, RequestSpec(event="push", casing="lower"), "/hook/abc")
    headers = dict(built.headers)
    want = hmac.new(generator.TOKENS["token-b"].encode(), built.body, hashlib.sha256)
    assert headers["x-hub-signature-256"] == "sha256=" + want.hexdigest()
    assert headers["x-github-event"] == "push"
    assert built.path == "/hook/abc"


def test_request_variants_change_what_they_say() -> None:
    spec = ReceiverSpec("gitlab", (ResourceSpec("GitRepository", "app"),))
    wrong = dict(generator.build(spec, RequestSpec(auth="wrong"), "/hook/x").headers)
    assert wrong["X-Gitlab-Token"] != generator.TOKENS["token-a"]
    upper = generator.build(spec, RequestSpec(casing="upper", content_type=None), "/hook/ab")
    assert dict(upper.headers) == {"X-GITLAB-TOKEN": generator.TOKENS["token-a"]}
    assert generator.build(spec, RequestSpec(path="query"), "/hook/ab").path == \
        "/hook/ab?source=diff"


def test_describe_never_shows_a_token() -> None:
    spec = ReceiverSpec("harbor", (ResourceSpec("GitRepository", "app"),))
    text = generator.build(spec, RequestSpec(), "/hook/x").describe()
    assert generator.TOKENS["token-a"] not in text and "Authorization: <" in text


def test_manifest_maps_symbolic_namespaces_to_the_side() -> None:
    side = Side("right", "flux")
    spec = ReceiverSpec("generic", (ResourceSpec("GitRepository", "app", namespace=OTHER,
                                                 filter="true"),), suspend=True)
    manifest = receiver_manifest(side, "r-1", spec)
    assert manifest["metadata"]["namespace"] == "diff-right"
    assert manifest["spec"]["resources"][0]["namespace"] == "diff-right-other"
    assert manifest["spec"]["suspend"] is True
    digest = hashlib.sha256((generator.TOKENS["token-a"] + "r-1diff-right").encode())
    assert expected_path(side, "r-1", spec) == "/hook/" + digest.hexdigest()
    assert expected_path(side, "r-1", ReceiverSpec("generic", (), secret="absent")) is None
