"""Hypothesis strategies for Receivers and requests, and how a request is built for a side."""

from __future__ import annotations

import json
import urllib.parse

from hypothesis import strategies as st

from receiver_conformance.diff import cel
from receiver_conformance.diff.model import (
    OTHER,
    SAME,
    Built,
    ReceiverSpec,
    RequestSpec,
    ResourceSpec,
)
from receiver_conformance.senders import payloads
from receiver_conformance.senders.signing import hex_hmac

TYPES = ("generic", "generic-hmac", "generic-oidc", "github", "gitlab", "bitbucket", "harbor",
         "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents")
# Each side holds Secrets of these names: two tokens, one without a `token` key; "absent"
# names none.
TOKENS = {"token-a": "a3f1c0de5b7e4d2a9c8b6f0e1d2c3b4a5f6e7d8c", "token-b": "b-second-token"}
SECRETS = ("token-a",) * 10 + ("token-b", "no-token", "absent")
KINDS = ("GitRepository", "GitRepository", "GitRepository", "OCIRepository", "HelmRepository",
         "Kustomization", "Bucket", "ImageRepository")
NAMES = ("app", "infra", "web", "charts", "repo", "apps", "shared", "missing")
LABELS = (("team", "a"), ("team", "b"), ("tier", "web"), ("team", "z"))
API_VERSIONS = {
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
    "Bucket": "source.toolkit.fluxcd.io/v1",
    "ImageRepository": "image.toolkit.fluxcd.io/v1",
    "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
}
WRONG_API_VERSION = "source.toolkit.fluxcd.io/v1beta9"
EVENTS = ("push", "ping", "PUSH", "release", "Push Hook", "Tag Push Hook",
          "repo:refs_changed", "dev.cdevents.change.merged.0.2.0", "")
EVENT_HEADERS = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event",
                 "bitbucket": "X-Event-Key", "cdevents": "Ce-Type"}
PAYLOADS = {"github": "github-push", "gitlab": "gitlab-push",
            "bitbucket": "bitbucket-refs-changed", "harbor": "harbor-push",
            "dockerhub": "dockerhub-push", "quay": "quay-push", "acr": "acr-push",
            "nexus": "nexus-component-created", "cdevents": "cdevents-change-merged",
            "gcr": "gcr-insert"}
HMAC_HUB = ("valid", "valid", "sha1-legacy", "sha512-legacy", "both", "wrong", "missing",
            "other-token", "upper-hex")
AUTH = {
    "github": HMAC_HUB,
    "bitbucket": HMAC_HUB,
    "gitlab": ("valid", "valid", "wrong", "missing", "empty", "other-token"),
    "harbor": ("valid", "valid", "wrong", "missing", "bearer", "other-token"),
    "generic-hmac": ("valid", "valid", "sha1", "sha512", "md5", "bare", "upper-hex", "wrong",
                     "missing", "other-token"),
    "nexus": ("valid", "valid", "prefixed", "upper-hex", "wrong", "missing", "other-token"),
    # No Bearer token for gcr and generic-oidc: checking one would fetch keys from the network.
    "gcr": ("missing", "basic"),
    "generic-oidc": ("missing", "basic"),
}
NO_AUTH = ("valid", "valid", "valid", "junk-authorization")
BODY_SHAPES = ("valid",) * 8 + ("mutated", "mutated", "mutated", "null",
               "empty", "form", "array", "non-utf8", "oversize", "at-limit")
MUTATIONS = 9
CONTENT_TYPES = ("application/json", "application/json", "application/json",
                 "application/json; charset=utf-8", "application/x-www-form-urlencoded",
                 "text/plain", None, "Application/JSON", "application/json, text/plain")
PATHS = ("own",) * 12 + ("unknown", "query", "trailing-slash", "upper")
CASINGS = ("canonical", "canonical", "lower", "upper")
MAX_BODY = 3 * 1024 * 1024


# -- Receivers ----------------------------------------------------------------------------

@st.composite
def resources(draw: st.DrawFn) -> ResourceSpec:
    kind = draw(st.sampled_from(KINDS))
    wildcard = draw(st.booleans())
    labels = None
    if wildcard:
        keep = draw(st.sampled_from((True, True, True, False)))
        if keep:
            labels = tuple(sorted(dict(draw(st.lists(st.sampled_from(LABELS), min_size=1,
                                                     max_size=2))).items()))
    api_version = draw(st.sampled_from(
        (None, None, None, API_VERSIONS.get(kind), WRONG_API_VERSION)))
    return ResourceSpec(
        kind=kind,
        name="*" if wildcard else draw(st.sampled_from(NAMES)),
        namespace=draw(st.sampled_from((None, None, SAME, OTHER))),
        api_version=api_version,
        match_labels=labels,
        filter=draw(st.one_of(st.none(), st.none(), cel.expressions())),
    )


@st.composite
def receivers(draw: st.DrawFn, types: tuple[str, ...] = TYPES) -> ReceiverSpec:
    """A Receiver of any type; now and then one a conformant controller refuses."""
    rtype = draw(st.sampled_from(types))
    oidc = rtype == "generic-oidc" and draw(st.sampled_from((True, True, True, False)))
    secret = draw(st.sampled_from(SECRETS))
    if rtype == "generic-oidc" and draw(st.sampled_from((True, True, True, False))):
        secret = None
    if rtype != "generic-oidc" and secret is None:
        secret = "token-a"
    return ReceiverSpec(
        type=rtype,
        resources=tuple(draw(st.lists(resources(), min_size=1, max_size=3))),
        secret=secret,
        events=tuple(draw(st.lists(st.sampled_from(EVENTS), max_size=3))),
        resource_filter=draw(st.one_of(st.none(), st.none(), cel.expressions())),
        suspend=draw(st.sampled_from((False, False, False, False, True))),
        oidc=oidc,
    )


# -- requests -----------------------------------------------------------------------------

@st.composite
def requests(draw: st.DrawFn, receiver_type: str) -> RequestSpec:
    """A request for a Receiver of `receiver_type`: mostly well-formed, often broken."""
    event = None
    if receiver_type in EVENT_HEADERS:
        event = draw(st.sampled_from((*EVENTS, None)))
    body = draw(st.sampled_from(BODY_SHAPES))
    return RequestSpec(
        path=draw(st.sampled_from(PATHS)),
        event=event,
        auth=draw(st.sampled_from(AUTH.get(receiver_type, NO_AUTH))),
        casing=draw(st.sampled_from(CASINGS)),
        content_type=draw(st.sampled_from(CONTENT_TYPES)),
        body=body,
        mutation=draw(st.integers(0, MUTATIONS - 1)) if body == "mutated" else 0,
    )


def payload(receiver_type: str) -> bytes:
    """The type's example payload, compact."""
    name = PAYLOADS.get(receiver_type, "generic")
    return payloads.compact(payloads.load(name))


def body_bytes(receiver_type: str, shape: str, mutation: int = 0) -> bytes:
    """The raw body of a request for `receiver_type` in `shape`."""
    valid = payload(receiver_type)
    if shape == "valid":
        return valid
    if shape == "mutated":
        return mutate(valid, mutation)
    if shape == "null":
        return b"null"
    if shape == "empty":
        return b""
    if shape == "form":
        return b"payload=" + urllib.parse.quote_plus(valid.decode()).encode()
    if shape == "array":
        return b"[" + valid + b"]"
    if shape == "non-utf8":
        return valid[:-1] + b',"note":"caf\xe9 \xff\xfe"}'
    if shape == "oversize":
        return pad(valid, MAX_BODY + 1)
    if shape == "at-limit":
        return pad(valid, MAX_BODY)
    raise ValueError(f"unknown body shape {shape!r}")


def pad(valid: bytes, size: int) -> bytes:
    """`valid` with a padding field, exactly `size` bytes long."""
    head = valid[:-1] + b',"pad":"'
    return head + b"a" * (size - len(head) - 2) + b'"}'


def mutate(valid: bytes, mutation: int) -> bytes:
    """One of a few changes to a JSON object's bytes."""
    doc = json.loads(valid)
    keys = list(doc)
    if mutation == 0:  # drop the first field
        doc.pop(keys[0])
    elif mutation == 1:  # null the first field
        doc[keys[0]] = None
    elif mutation == 2:  # truncated
        return valid[: len(valid) // 2]
    elif mutation == 3:  # trailing garbage
        return valid + b" x"
    elif mutation == 4:  # a second JSON value after the first
        return valid + b"{}"
    elif mutation == 5:  # the first field a number
        doc[keys[0]] = 42
    elif mutation == 6:  # a field of the first nested object dropped ("context.id", ...)
        nested = next((v for v in doc.values() if isinstance(v, dict) and v), None)
        if nested:
            nested.pop(next(iter(nested)))
    elif mutation == 7:  # an unknown field
        doc["unexpected"] = {"nested": [1, 2]}
    elif mutation == 8:  # duplicate key, the second one null
        return valid[:-1] + b',"' + keys[0].encode() + b'":null}'
    return payloads.compact(doc)


# -- building a request for one side ------------------------------------------------------

def build(receiver: ReceiverSpec, request: RequestSpec, hook_path: str) -> Built:
    """The request `request` describes, against `hook_path`, signed with the token."""
    body = body_bytes(receiver.type, request.body, request.mutation)
    token = TOKENS.get(receiver.secret or "", TOKENS["token-a"])
    if request.auth == "other-token":
        token = TOKENS["token-b"] if token != TOKENS["token-b"] else TOKENS["token-a"]
    headers: list[tuple[str, str]] = []
    if request.content_type is not None:
        headers.append(("Content-Type", request.content_type))
    if request.event is not None and receiver.type in EVENT_HEADERS:
        headers.append((EVENT_HEADERS[receiver.type], request.event))
    headers += auth_headers(receiver.type, request.auth, token, body)
    return Built(path=request_path(hook_path, request.path),
                 headers=tuple((cased(k, request.casing), v) for k, v in headers), body=body)


def request_path(hook_path: str, variant: str) -> str:
    if variant == "unknown":
        return "/hook/" + "0" * 63 + "1"
    if variant == "query":
        return hook_path + "?source=diff"
    if variant == "trailing-slash":
        return hook_path + "/"
    if variant == "upper":
        return "/hook/" + hook_path.removeprefix("/hook/").upper()
    return hook_path


def cased(name: str, casing: str) -> str:
    return {"lower": name.lower(), "upper": name.upper()}.get(casing, name)


def auth_headers(rtype: str, auth: str, token: str, body: bytes) -> list[tuple[str, str]]:
    """The authenticity headers of `rtype` in variant `auth` (see AUTH)."""
    if auth == "missing":
        return []
    if auth == "junk-authorization":
        return [("Authorization", "Bearer not-a-token")]
    if rtype in ("github", "bitbucket"):
        return _hub(auth, token, body)
    if rtype == "gitlab":
        value = {"wrong": token + "x", "empty": ""}.get(auth, token)
        return [("X-Gitlab-Token", value)]
    if rtype == "harbor":
        value = {"wrong": token + "x", "bearer": f"Bearer {token}"}.get(auth, token)
        return [("Authorization", value)]
    if rtype == "generic-hmac":
        return [("X-Signature", _generic_hmac(auth, token, body))]
    if rtype == "nexus":
        sig = hex_hmac("sha1", token, body)
        value = {"prefixed": f"sha1={sig}", "upper-hex": sig.upper(),
                 "wrong": _wrong(sig)}.get(auth, sig)
        return [("X-Nexus-Webhook-Signature", value)]
    if rtype in ("gcr", "generic-oidc") and auth == "basic":
        return [("Authorization", "Basic dXNlcjpwYXNz")]
    return []


def _hub(auth: str, token: str, body: bytes) -> list[tuple[str, str]]:
    sig256 = "sha256=" + hex_hmac("sha256", token, body)
    if auth == "sha1-legacy":
        return [("X-Hub-Signature", "sha1=" + hex_hmac("sha1", token, body))]
    if auth == "sha512-legacy":
        return [("X-Hub-Signature", "sha512=" + hex_hmac("sha512", token, body))]
    if auth == "both":
        return [("X-Hub-Signature", "sha1=" + hex_hmac("sha1", token, body)),
                ("X-Hub-Signature-256", sig256)]
    if auth == "wrong":
        return [("X-Hub-Signature-256", _wrong(sig256))]
    if auth == "upper-hex":
        return [("X-Hub-Signature-256", "sha256=" + hex_hmac("sha256", token, body).upper())]
    return [("X-Hub-Signature-256", sig256)]


def _generic_hmac(auth: str, token: str, body: bytes) -> str:
    if auth in ("sha1", "sha512"):
        return f"{auth}=" + hex_hmac(auth, token, body)
    if auth == "md5":
        import hashlib
        import hmac

        return "md5=" + hmac.new(token.encode(), body, hashlib.md5).hexdigest()
    sig = hex_hmac("sha256", token, body)
    if auth == "bare":
        return sig
    if auth == "upper-hex":
        return "sha256=" + sig.upper()
    if auth == "wrong":
        return "sha256=" + _wrong(sig)
    return "sha256=" + sig


def _wrong(signature: str) -> str:
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")
