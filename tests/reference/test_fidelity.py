"""Flux fidelity (issue 12): CEL as Flux's environment has it, `null` bodies, the body gcr
filters see, log redaction; each table row is one behaviour Flux's controller shows."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from receiver_conformance.reference import api, redact, status
from receiver_conformance.reference.annotate import request_body
from receiver_conformance.reference.filters import FilterError, compile_filter
from receiver_conformance.reference.logs import ConsoleFormatter, JSONFormatter, WithoutRequestBytes
from receiver_conformance.reference.senders.base import Event, WebhookRequest
from receiver_conformance.reference.server import ReceiverServer

from .server_support import TOKEN, StubAnnotator, index_with, receiver_object

RES = {"metadata": {"name": "hello-world", "namespace": "apps", "generation": 2,
                    "labels": {"environment": "production"},
                    "annotations": {"update-image": "hello-world"}}}
REQ = {"tag": "us-east1-docker.pkg.dev/my-project/my-repo/hello-world:v1.1",
       "ref": "refs/heads/Main", "n": 3, "tags": ["a", "b"], "nothing": None}

# -- CEL: Flux's environment (fluxcd/pkg runtime/cel) ---------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Flux's receiver docs, image-tag filters (optional types: last(), first(), value()).
        ("req.tag.split(':').last().value().startsWith('v')", True),
        ("has(res.metadata.annotations) && req.tag.split('/').last().value().split(':')"
         ".first().value() == res.metadata.annotations['update-image']", True),
        ("req.tag.contains(res.metadata.name)", True),
        ("res.metadata.labels['environment'] == 'production'", True),
        # Optional types.
        ("req.?missing.orValue('none') == 'none'", True),
        ("req.tags.last().hasValue() && [].first() == optional.none()", True),
        ("optional.of(1).value() == 1", True),
        # Strings extension.
        ("req.ref.lowerAscii() == 'refs/heads/main'", True),
        ("req.ref.upperAscii() == 'REFS/HEADS/MAIN'", True),
        ("req.ref.replace('heads', 'tags') == 'refs/tags/Main'", True),
        ("req.ref.split('/').size() == 3", True),
        ("req.ref.substring(5, 10) == 'heads'", True),
        ("req.ref.indexOf('heads') == 5 && req.ref.lastIndexOf('/') == 10", True),
        ("req.ref.charAt(0) == 'r'", True),
        ("'  v1 '.trim() == 'v1'", True),
        ("req.tags.join('-') == 'a-b'", True),
        ("'%s/%s'.format([res.metadata.namespace, res.metadata.name]) == 'apps/hello-world'",
         True),
        ("strings.quote('a') == '\"a\"'", True),
        ("'abc'.reverse() == 'cba'", True),
        # Sets extension.
        ("sets.contains(req.tags, ['b'])", True),
        ("sets.equivalent(req.tags, ['b', 'a', 'a'])", True),
        ("sets.intersects(req.tags, ['c'])", False),
        # Encoders extension.
        ("base64.encode(b'hi') == 'aGk=' && base64.decode('aGk=') == b'hi'", True),
        # JSON numbers are doubles, as Go decodes them; comparisons cross numeric types.
        ("req.n / 2.0 == 1.5 && req.n == 3 && req.n < 3.5", True),
        ("res.metadata.generation == 2", True),
        ("req.nothing == null", True),
        # Core language.
        ("req.tags.exists(t, t == 'a') && req.ref.matches('^refs/')", True),
        ("has(req.missing)", False),
    ],
)
def test_filter_evaluates_like_flux(expression: str, expected: bool) -> None:
    assert compile_filter(expression)(RES, REQ) is expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("'test'", "expected bool, got string"),
        ("req.ref", "expected bool, got dyn"),
        ("1 + 1", "expected bool, got int"),
        ("req.ref ==", "failed to parse"),
        ("(", "failed to parse"),
        ("undeclared == 1", "undeclared reference"),
        ("claims.sub == 'x'", "undeclared reference"),  # claims is for generic-oidc only
        ("req.ref.noSuchFunction()", "undeclared reference"),
    ],
)
def test_filter_refuses_at_compile(expression: str, reason: str) -> None:
    with pytest.raises(FilterError, match=reason):
        compile_filter(expression)


@pytest.mark.parametrize(
    "expression",
    ["req.absent == 'x'", "1 / 0 == 1", "req.tags[5] == 'a'", "[].last().value() == 1"],
)
def test_filter_fails_at_evaluation(expression: str) -> None:
    flt = compile_filter(expression)
    with pytest.raises(FilterError, match="failed to evaluate"):
        flt(RES, REQ)


@pytest.mark.parametrize(
    ("spec", "ready"),
    [
        ({"resourceFilter": "'test'"}, False),
        ({"resourceFilter": "req.ref"}, False),
        ({"resourceFilter": "req.tag.split(':').last().value().startsWith('v')"}, True),
        ({"resources": [{"kind": "GitRepository", "name": "podinfo", "filter": "'test'"}]},
         False),
    ],
)
def test_a_filter_that_is_not_boolean_stalls_the_receiver(spec: dict[str, Any],
                                                           ready: bool) -> None:
    obj = receiver_object()
    obj["spec"].update(spec)
    outcome = status.reconcile(api.Receiver.from_dict(obj), {"token": TOKEN}, "now")
    conditions = {c["type"]: c for c in outcome.status["conditions"]}
    assert conditions["Ready"]["status"] == ("True" if ready else "False")
    if not ready:
        assert conditions["Ready"]["reason"] == api.INVALID_CEL_EXPRESSION
        assert conditions["Stalled"]["status"] == "True"
        assert conditions["Stalled"]["reason"] == api.INVALID_CEL_EXPRESSION


# -- the body filters see --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"null", {}),
        (b" null\n", {}),
        (b'{"a": null}', {"a": None}),
        (b"{}", {}),
    ],
)
def test_json_null_is_an_empty_map(body: bytes, expected: dict[str, Any]) -> None:
    request = WebhookRequest("POST", {"content-type": "application/json"}, body)
    assert request_body(request) == expected
    assert compile_filter(f"req.size() == {len(expected)}")(RES, request_body(request))


class _RewritingSender:
    """Valid for every request; the filters see `body` instead of the request's."""

    type = "stub"

    def __init__(self, body: bytes | None) -> None:
        self.body = body

    async def validate(self, request: WebhookRequest, secret: Any) -> Event:
        return Event(payload={}, body=self.body)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("rewritten", "seen"),
    [(None, b'{"message": {}}'), (b'{"tag": "v1"}', b'{"tag": "v1"}')],
    ids=["kept", "rewritten"],
)
async def test_the_annotator_gets_the_body_the_sender_rewrote(
    rewritten: bytes | None, seen: bytes
) -> None:
    annotator = StubAnnotator()
    server = ReceiverServer(index_with(receiver_object()), lambda _: _RewritingSender(rewritten),
                            annotator)
    host, port = await server.start("127.0.0.1", 0)
    try:
        import aiohttp

        path = api.webhook_path(TOKEN, "hook", "apps")
        async with aiohttp.ClientSession() as session, session.post(
            f"http://{host}:{port}{path}", data=b'{"message": {}}'
        ) as resp:
            assert resp.status == 200
    finally:
        await server.stop()
    assert [body for _, body in annotator.calls] == [seen]


# -- redaction -------------------------------------------------------------------------------

SECRET_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f12345678"
HOOK = api.webhook_path(SECRET_TOKEN, "webapp", "flux-system")
DIGEST = HOOK.rsplit("/", 1)[1]


@pytest.fixture
def registered() -> None:
    redact.register_token(SECRET_TOKEN)
    redact.register_path(HOOK)


@pytest.mark.parametrize(
    "text",
    [
        f"POST {HOOK} HTTP/1.1",
        f"bad line {HOOK.upper()}",
        f"digest alone {DIGEST}",
        f"X-Gitlab-Token: {SECRET_TOKEN}",
        f"secret data {{'token': '{redact.base64.b64encode(SECRET_TOKEN.encode()).decode()}'}}",
        f"/hook/{SECRET_TOKEN}{DIGEST}",
    ],
)
def test_redact_removes_tokens_and_paths(registered: None, text: str) -> None:
    out = redact.redact(text)
    assert SECRET_TOKEN not in out
    assert DIGEST not in out.lower()
    assert redact.base64.b64encode(SECRET_TOKEN.encode()).decode() not in out


def _record_with_traceback() -> logging.LogRecord:
    try:
        raise ValueError(f"while handling {HOOK} with {SECRET_TOKEN}")
    except ValueError as exc:
        return logging.LogRecord("aiohttp.server", logging.ERROR, "", 0, "failed %s",
                                 (HOOK,), (ValueError, exc, exc.__traceback__))


@pytest.mark.parametrize("formatter", [JSONFormatter(), ConsoleFormatter()],
                         ids=["json", "console"])
def test_every_part_of_a_log_line_is_redacted(registered: None,
                                              formatter: logging.Formatter) -> None:
    record = _record_with_traceback()
    record.path = HOOK  # an `extra` field
    line = formatter.format(record)
    assert "ValueError" in line  # the traceback is there...
    assert SECRET_TOKEN not in line and DIGEST not in line  # ...without the secrets


def test_parser_errors_lose_the_request_bytes_they_quote() -> None:
    from aiohttp.http_exceptions import BadStatusLine

    exc = BadStatusLine(f"POST {HOOK[:40]}")  # aiohttp quotes a prefix, cut anywhere
    record = logging.LogRecord("aiohttp.server", logging.ERROR, "", 0,
                               "Error handling request from %s", ("127.0.0.1",),
                               (BadStatusLine, exc, None))
    assert WithoutRequestBytes().filter(record)
    line = JSONFormatter().format(record)
    assert json.loads(line)["msg"] == (
        "Error handling request from 127.0.0.1: malformed request (BadStatusLine)")
    assert HOOK[6:40] not in line
