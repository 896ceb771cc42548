"""The controller's pure parts: hook path, status computation, filters, queue, flags."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest

from receiver_conformance.reference import api, status
from receiver_conformance.reference.__main__ import options_from
from receiver_conformance.reference.annotate import AnnotationError, Timestamps, request_body
from receiver_conformance.reference.controller import (
    WorkQueue,
    _merge,
    _wants_reconcile,
    decode_secret,
)
from receiver_conformance.reference.filters import FilterError, compile_filter
from receiver_conformance.reference.logs import JSONFormatter
from receiver_conformance.reference.senders.base import WebhookRequest

NOW = "2026-01-01T00:00:00Z"
EARLIER = "2025-01-01T00:00:00Z"


# -- hook path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "name", "namespace", "digest"),
    [
        ("It's a Secret to Everybody", "webhook-receiver", "flux-system",
         "8636bd66e6bf759826c961a66725f92ff82742ef1eeeb55e0073658bc5884930"),
        ("token", "github", "apps",
         "d6540b32231d760c63ec88341077a0359cf4dfa3cf89ea010d071d5d914388ca"),
        (b"token", "github", "apps",
         "d6540b32231d760c63ec88341077a0359cf4dfa3cf89ea010d071d5d914388ca"),
    ],
)
def test_webhook_path(token: str | bytes, name: str, namespace: str, digest: str) -> None:
    assert api.webhook_path(token, name, namespace) == "/hook/" + digest


def test_short_path_keeps_8_hex_characters() -> None:
    path = api.webhook_path("t", "n", "ns")
    assert api.short_path(path) == path[:14] + "…"
    assert path[14:] not in api.short_path(path)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 600), ("", 600), ("10m", 600), ("1h30m", 5400), ("500ms", 0.5),
     ("1.5s", 1.5), ("bogus", 600), ("10", 600)],
)
def test_parse_interval(value: str | None, seconds: float) -> None:
    assert api.parse_interval(value) == seconds


# -- status -------------------------------------------------------------------------


def receiver(**spec: Any) -> api.Receiver:
    status_ = spec.pop("status", {})
    annotations = spec.pop("annotations", {})
    body = {"type": "github", "secretRef": {"name": "webhook-token"},
            "resources": [{"kind": "GitRepository", "name": "podinfo"}], **spec}
    return api.Receiver.from_dict({
        "metadata": {"name": "github", "namespace": "apps", "generation": 3,
                     "annotations": annotations},
        "spec": {k: v for k, v in body.items() if v is not None},
        "status": status_,
    })


def cond(outcome: status.Outcome, type_: str) -> dict[str, Any] | None:
    return next((c for c in outcome.status["conditions"] if c["type"] == type_), None)


PATH = api.webhook_path("tok", "github", "apps")
SECRET = {"token": b"tok"}
OIDC_PATH = api.webhook_path("", "github", "apps")  # no Secret: name and namespace alone


@pytest.mark.parametrize(
    ("spec", "secret", "ready", "reason", "reconciling", "stalled", "path", "requeue", "retry"),
    [
        pytest.param({}, SECRET, "True", "Succeeded", None, None, PATH, 600, False, id="ready"),
        pytest.param({"interval": "1m"}, SECRET, "True", "Succeeded", None, None, PATH, 60,
                     False, id="interval"),
        pytest.param({}, None, "False", "TokenNotFound", "ProgressingWithRetry", None, None,
                     None, True, id="no-secret"),
        pytest.param({}, {"tokn": b"x"}, "False", "TokenNotFound", "ProgressingWithRetry",
                     None, None, None, True, id="no-token-key"),
        pytest.param({"resourceFilter": "res.metadata.name =="}, SECRET, "False",
                     "InvalidCELExpression", None, "InvalidCELExpression", None, None, False,
                     id="bad-resource-filter"),
        pytest.param({"resources": [{"kind": "GitRepository", "name": "a",
                                     "filter": "nope.x == 1"}]}, SECRET, "False",
                     "InvalidCELExpression", None, "InvalidCELExpression", None, None, False,
                     id="undeclared-variable"),
        pytest.param({"type": "generic-oidc", "secretRef": None,
                      "oidcProviders": [{"issuerURL": "https://x"}]}, None, "False",
                     "ValidationFailed", None, "ValidationFailed", None, None, False,
                     id="oidc-without-validations"),
        pytest.param({"type": "generic-oidc", "secretRef": None, "oidcProviders": [
                          {"issuerURL": "https://x",
                           "validations": [{"expression": "claims.sub", "message": "m"}]}]},
                     None, "False", "InvalidCELExpression", None, "InvalidCELExpression", None,
                     None, False, id="oidc-validation-not-bool"),
        pytest.param({"type": "generic-oidc", "secretRef": None,
                      "resourceFilter": "claims.sub == 'x'", "oidcProviders": [
                          {"issuerURL": "https://x",
                           "validations": [{"expression": "true", "message": "m"}]}]},
                     None, "True", "Succeeded", None, None, OIDC_PATH, 600, False,
                     id="generic-oidc"),
        pytest.param({"type": "generic-oidc"}, SECRET, "False", "ValidationFailed", None,
                     "ValidationFailed", None, None, False, id="oidc-without-providers"),
        pytest.param({"secretRef": None}, None, "False", "ValidationFailed", None,
                     "ValidationFailed", None, None, False, id="no-secret-ref"),
    ],
)
def test_status(
    spec: dict[str, Any], secret: dict[str, bytes] | None, ready: str, reason: str,
    reconciling: str | None, stalled: str | None, path: str | None,
    requeue: float | None, retry: bool,
) -> None:
    outcome = status.reconcile(receiver(**spec), secret, NOW)
    ready_cond = cond(outcome, "Ready")
    assert ready_cond is not None
    assert (ready_cond["status"], ready_cond["reason"]) == (ready, reason)
    assert ready_cond["observedGeneration"] == 3
    assert (cond(outcome, "Reconciling") or {}).get("reason") == reconciling
    stalled_cond = cond(outcome, "Stalled")
    assert (stalled_cond or {}).get("reason") == stalled
    if stalled_cond:
        assert stalled_cond["status"] == "True"
        assert ready_cond["message"].startswith(status.TERMINAL_PREFIX)
    assert outcome.status.get("webhookPath") == path
    assert outcome.requeue_after == requeue
    assert outcome.retry == retry
    if ready == "True" or stalled:
        assert outcome.status["observedGeneration"] == 3
    else:
        assert "observedGeneration" not in outcome.status


def test_ready_message_names_the_path() -> None:
    outcome = status.reconcile(receiver(), SECRET, NOW)
    assert cond(outcome, "Ready")["message"] == f"Receiver initialized for path: {PATH}"


def test_token_not_found_clears_the_path() -> None:
    before = receiver(status={"webhookPath": PATH})
    assert "webhookPath" not in status.reconcile(before, None, NOW).status
    assert _merge(before.status, {"conditions": []}) == {"conditions": [], "webhookPath": None}


def test_transition_time_moves_only_with_the_status() -> None:
    first = status.reconcile(receiver(), SECRET, EARLIER)
    again = status.reconcile(receiver(status=first.status), SECRET, NOW)
    assert cond(again, "Ready")["lastTransitionTime"] == EARLIER
    assert again.status == first.status  # nothing to write
    lost = status.reconcile(receiver(status=first.status), None, NOW)
    assert cond(lost, "Ready")["lastTransitionTime"] == NOW


def test_recovery_drops_stalled() -> None:
    stalled = status.reconcile(receiver(resourceFilter="("), SECRET, NOW)
    fixed = status.reconcile(receiver(status=stalled.status), SECRET, NOW)
    assert cond(fixed, "Stalled") is None
    assert cond(fixed, "Ready")["status"] == "True"


def test_requested_reconcile_is_recorded() -> None:
    requested = receiver(annotations={api.RECONCILE_ANNOTATION: "now-1"})
    assert status.reconcile(requested, SECRET, NOW).status["lastHandledReconcileAt"] == "now-1"


# -- what triggers a reconcile --------------------------------------------------------


def obj(generation: int = 1, uid: str = "u1", requested: str | None = None,
        deleting: bool = False) -> api.Receiver:
    meta: dict[str, Any] = {"name": "r", "namespace": "n", "uid": uid, "generation": generation,
                            "annotations": {api.RECONCILE_ANNOTATION: requested} if requested
                            else {}}
    if deleting:
        meta["deletionTimestamp"] = NOW
    return api.Receiver.from_dict({"metadata": meta, "spec": {}})


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, obj(), True),
        (obj(), obj(), False),
        (obj(), obj(generation=2), True),
        (obj(), obj(uid="u2"), True),
        (obj(), obj(requested="a"), True),
        (obj(requested="a"), obj(requested="a"), False),
        (obj(), obj(deleting=True), True),
    ],
)
def test_wants_reconcile(old: api.Receiver | None, new: api.Receiver, expected: bool) -> None:
    assert _wants_reconcile(old, new) is expected


def test_decode_secret() -> None:
    data = {"token": base64.b64encode(b"\xffraw").decode(), "empty": ""}
    assert decode_secret({"data": data}) == {"token": b"\xffraw", "empty": b""}


# -- filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("res.metadata.name == 'podinfo'", True),
        ("req.ref == 'refs/heads/main' && res.metadata.labels['team'] == 'x'", True),
        ("req.commits.exists(c, c.id == 'abc')", True),
        ("has(req.missing)", False),
    ],
)
def test_filter_evaluates(expression: str, expected: bool) -> None:
    res = {"metadata": {"name": "podinfo", "labels": {"team": "x"}}}
    req = {"ref": "refs/heads/main", "commits": [{"id": "abc"}]}
    assert compile_filter(expression)(res, req) is expected


@pytest.mark.parametrize("expression", ["res.metadata.name ==", "(", "foo == 1", "x.y"])
def test_filter_refuses_at_compile(expression: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(expression)


@pytest.mark.parametrize("expression", ["'text'", "req.nothing.deeper == 1"])
def test_filter_refuses_at_evaluation(expression: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(expression)({"metadata": {}}, {})


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"a": 1}', {"a": 1}),
        ("application/json; charset=utf-8", b'{"a": 1}', {"a": 1}),
        ("application/x-www-form-urlencoded", b"payload=%7B%7D", {}),
        ("", b'{"a": 1}', {}),
        # As Go's mime.ParseMediaType in Flux's isJSONContent: a bare token is a media type,
        # "text/" or a parameter without a value is not and ends the search.
        ("text, application/json", b'{"a": 1}', {"a": 1}),
        ("text/plain;, application/json", b'{"a": 1}', {"a": 1}),
        ("text/, application/json", b'{"a": 1}', {}),
        ("text/plain; charset, application/json", b'{"a": 1}', {}),
        (", application/json", b'{"a": 1}', {}),
    ],
)
def test_request_body_for_cel(content_type: str, body: bytes, expected: Any) -> None:
    request = WebhookRequest("POST", {"content-type": content_type}, body)
    assert request_body(request) == expected


@pytest.mark.parametrize("body", [b"[1, 2]", b"{", b"\xff"])
def test_request_body_refuses_non_objects(body: bytes) -> None:
    with pytest.raises(AnnotationError):
        request_body(WebhookRequest("POST", {"content-type": "application/json"}, body))


def test_timestamps_are_unique_and_rfc3339() -> None:
    clock = Timestamps()
    stamps = [clock.next() for _ in range(1000)]
    assert len(set(stamps)) == 1000
    assert stamps == sorted(stamps)
    assert all(len(s) == 30 and s.endswith("Z") and s[19] == "." for s in stamps)


# -- work queue ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_queue_deduplicates_and_serialises_a_key() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")  # while active: runs again after done()
    assert queue._queue.empty()
    queue.done("a")
    assert await asyncio.wait_for(queue.get(), 1) == "a"


@pytest.mark.asyncio
async def test_queue_add_after_keeps_the_earliest() -> None:
    queue = WorkQueue()
    queue.add_after("a", 60)
    queue.add_after("a", 0.01)
    queue.add_after("a", 30)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


def test_backoff_grows_and_caps() -> None:
    queue = WorkQueue()
    delays = [queue.backoff("a") for _ in range(15)]
    assert delays[:3] == [0.75, 1.5, 3.0]
    assert delays[-1] == 15 * 60


# -- flags --------------------------------------------------------------------------


def test_flag_defaults_are_fluxs() -> None:
    options, _ = options_from([])
    assert options.receiver_addr == ("", 9292)
    assert options.health_addr == ("", 9440)
    assert options.metrics_addr == ("", 8080)
    assert options.namespace is None
    assert options.no_cross_namespace_refs is False


def test_watch_one_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME_NAMESPACE", "flux-system")
    options, _ = options_from(["--watch-all-namespaces=false", "--receiver-addr", "127.0.0.1:0"])
    assert options.namespace == "flux-system"
    assert options.receiver_addr == ("127.0.0.1", 0)


@pytest.mark.parametrize(
    "argv",
    [["--receiver-addr", "9292"], ["--receiver-addr", ":99999"], ["--log-encoding", "xml"],
     ["--watch-all-namespaces=maybe"], ["--kubeconfig", "/nonexistent/kubeconfig"],
     ["--no-such-flag"]],
)
def test_bad_flags_exit_2(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_NAMESPACE", raising=False)
    with pytest.raises(SystemExit) as exc:
        options_from(argv)
    assert exc.value.code == 2


def test_one_namespace_needs_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_NAMESPACE", raising=False)
    with pytest.raises(SystemExit) as exc:
        options_from(["--watch-all-namespaces=false"])
    assert exc.value.code == 2


def test_logs_never_carry_a_whole_hook_path() -> None:
    path = api.webhook_path("tok", "github", "apps")
    record = logging.LogRecord("x", logging.INFO, "", 0, "bad line %s", (f"POST {path}",), None)
    assert json.loads(JSONFormatter().format(record))["msg"] == f"bad line POST {path[:14]}…"
