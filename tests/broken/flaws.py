"""Deliberate flaws, each a monkeypatch of one seam of the reference receiver.

A flaw is applied in the receiver's own process before `reference.__main__.main()` runs;
nothing under reference/ changes. Each one breaks exactly the behaviour a group of the
conformance scenarios refuses, so a suite with teeth fails those scenarios.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from reference import annotate, api, filters, logs
from reference.annotate import KubeAnnotator
from reference.coalesce import Coalescer
from reference.index import Index
from reference.senders import bitbucket, cdevents, generic_oidc, github, gitlab
from reference.senders._common import hmac_hex, media_type, token
from reference.senders.base import RefusedRequest, WebhookRequest
from reference.senders.gcr import GCRSender
from reference.server import Limits, ReceiverServer, TimedRequestHandler

PayloadCheck = Callable[[WebhookRequest, Mapping[str, bytes]], Any]
_SIGNATURE_HEADERS = ("x-hub-signature", "x-hub-signature-256")
_GITHUB_STYLE_TYPES = ("application/json", "application/x-www-form-urlencoded")
ANNOTATION_LAG = 0.2  # seconds between a refusal and annotate-after-refusing's annotation


@dataclass(frozen=True)
class Flaw:
    """One way to be non-conformant, and the patch that makes the reference so."""

    name: str
    description: str
    apply: Callable[[], None]


def _patch_github_style(wrap: Callable[[PayloadCheck], PayloadCheck]) -> None:
    """Replace the GitHub-style check that the github and bitbucket senders call."""
    for module in (github, bitbucket):
        module.github_style_payload = wrap(module.github_style_payload)


def accept_any_signature() -> None:
    def wrap(check: PayloadCheck) -> PayloadCheck:
        def unsigned(request: WebhookRequest, secret: Mapping[str, bytes]) -> Any:
            # Sign the body ourselves: whatever signature came (or none) now passes.
            headers = {k: v for k, v in request.headers.items() if k not in _SIGNATURE_HEADERS}
            headers["x-hub-signature-256"] = "sha256=" + hmac_hex(
                "sha256", token(secret), request.body)
            return check(replace(request, headers=headers), secret)

        return unsigned

    _patch_github_style(wrap)


def ignore_content_type() -> None:
    def wrap(check: PayloadCheck) -> PayloadCheck:
        def any_type(request: WebhookRequest, secret: Mapping[str, bytes]) -> Any:
            try:
                kind = media_type(request)
            except RefusedRequest:
                kind = None
            if kind not in _GITHUB_STYLE_TYPES:
                headers = {**request.headers, "content-type": "application/json"}
                request = replace(request, headers=headers)
            return check(request, secret)

        return any_type

    _patch_github_style(wrap)


def ignore_event_filter() -> None:
    def accepts_event(self: api.Receiver, event: str | None) -> bool:
        return True

    api.Receiver.accepts_event = accepts_event  # type: ignore[method-assign]


def annotate_before_validating() -> None:
    handle = ReceiverServer._handle

    async def annotate_first(self: ReceiverServer, request: web.BaseRequest) -> tuple[int, str]:
        # As soon as a request reaches a live hook, before its sender's checks.
        receiver = self.index.by_path(request.raw_path)
        small = (request.content_length or 0) <= self.limits.max_body_bytes
        if receiver is not None and receiver.ready and not receiver.suspend and small:
            arrived = WebhookRequest(method=request.method, headers={}, body=b"")
            await self.annotator.annotate(receiver, arrived)
        return await handle(self, request)

    ReceiverServer._handle = annotate_first  # type: ignore[method-assign]


def annotate_after_refusing() -> None:
    handle = ReceiverServer._handle
    pending: set[asyncio.Task[Any]] = set()

    async def annotate_later(server: ReceiverServer, receiver: api.Receiver) -> None:
        await asyncio.sleep(ANNOTATION_LAG)
        await server.annotator.annotate(receiver, WebhookRequest("POST", {}, b""))

    async def answer_then_annotate(self: ReceiverServer,
                                   request: web.BaseRequest) -> tuple[int, str]:
        status, receiver_type = await handle(self, request)
        receiver = self.index.by_path(request.raw_path)
        if status == 400 and receiver is not None:
            # Work queued behind the answer: the client has its 400 before the annotation.
            task = asyncio.create_task(annotate_later(self, receiver))
            pending.add(task)
            task.add_done_callback(pending.discard)
        return status, receiver_type

    ReceiverServer._handle = answer_then_annotate  # type: ignore[method-assign]


def no_body_limit() -> None:
    init = ReceiverServer.__init__

    def unlimited(self: ReceiverServer, index: Index, senders: Any, annotator: Any,
                  metrics: Any = None, limits: Limits | None = None) -> None:
        limits = replace(limits or Limits(), max_body_bytes=sys.maxsize)
        init(self, index, senders, annotator, metrics, limits)

    ReceiverServer.__init__ = unlimited  # type: ignore[method-assign]


def serve_unready() -> None:
    by_path = Index.by_path
    ready = {"conditions": [{"type": api.READY, "status": "True", "reason": api.SUCCEEDED}]}

    def always_served(self: Index, path: str) -> api.Receiver | None:
        receiver = by_path(self, path)
        if receiver is None:
            return None
        return replace(receiver, suspend=False, status={**receiver.status, **ready})

    Index.by_path = always_served  # type: ignore[method-assign]


def gitlab_any_token() -> None:
    def any_token(request: WebhookRequest, header: str, expected: bytes) -> None:
        return None

    gitlab.check_header_equals_token = any_token  # type: ignore[assignment]


def no_404_after_rotation() -> None:
    put = Index.put

    def keep_old_paths(self: Index, receiver: api.Receiver) -> bool:
        old = self.get(receiver.key)
        stored = put(self, receiver)
        moved = old is not None and old.uid == receiver.uid and old.webhook_path \
            and old.webhook_path != receiver.webhook_path
        if stored and moved:
            self._by_path[old.webhook_path] = receiver.key  # the old path keeps serving
        return stored

    Index.put = keep_old_paths  # type: ignore[method-assign]


def logs_request_bytes() -> None:
    hook_path = re.compile(r"(/hook/[0-9a-fA-F]{8})[0-9a-fA-F]+")

    def hook_paths_only(text: str) -> str:
        return hook_path.sub(r"\1…", text)  # the old redaction: hook paths in messages

    logs.redact = hook_paths_only  # type: ignore[assignment]
    logs.WithoutRequestBytes.filter = lambda self, record: True  # type: ignore[method-assign]


def count_header_lines() -> None:
    init = TimedRequestHandler.__init__

    def at_most_128(self: TimedRequestHandler, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "max_headers": 128})  # aiohttp's default: 400 past it

    TimedRequestHandler.__init__ = at_most_128  # type: ignore[method-assign]


def null_body_fails() -> None:
    request_body = annotate.request_body

    def refuse_null(request: WebhookRequest) -> dict[str, Any]:
        if request.body.strip() == b"null":
            raise annotate.AnnotationError("failed to parse request body as JSON: not an object")
        return request_body(request)

    annotate.request_body = refuse_null  # type: ignore[assignment]


def cdevents_content_required() -> None:
    check = cdevents.check_cdevent

    def content_required(document: Any) -> None:
        check(document)
        if not isinstance(document["subject"].get("content"), dict):
            raise RefusedRequest("the CDEvent subject has no content object")

    cdevents.check_cdevent = content_required  # type: ignore[assignment]


def gcr_envelope_to_filters() -> None:
    validate = GCRSender.validate

    async def envelope(self: GCRSender, request: WebhookRequest, secret: Any) -> Any:
        event = await validate(self, request, secret)
        return replace(event, body=None)  # the filters decode the Pub/Sub envelope

    GCRSender.validate = envelope  # type: ignore[method-assign]


def cel_without_extensions() -> None:
    variables = dict.fromkeys(filters.VARIABLES, filters.cel.Type("google.protobuf.Struct"))
    filters._ENV = filters.cel.NewEnv(variables=variables)  # standard CEL only


def cel_any_output_type() -> None:
    def unchecked(self: filters.Filter, expression: str) -> None:
        self.expression = expression
        try:
            self._program = filters._ENV.compile(expression)
        except Exception as exc:
            raise filters.FilterError(str(exc)) from None

    filters.Filter.__init__ = unchecked  # type: ignore[method-assign]

class _LabellingKube:
    """A Kube whose annotation patches also add a label to the annotated object."""

    def __init__(self, kube: Any) -> None:
        self._kube = kube

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kube, name)

    async def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        if isinstance(body, dict) and api.RECONCILE_ANNOTATION in str(body):
            body = {"metadata": {**body["metadata"], "labels": {"touched-by": "receiver"}}}
        return await self._kube.patch(path, body, **kwargs)


def touch_more_than_requested_at() -> None:
    init = KubeAnnotator.__init__

    def labelling(self: KubeAnnotator, kube: Any, **kwargs: Any) -> None:
        init(self, _LabellingKube(kube), **kwargs)

    KubeAnnotator.__init__ = labelling  # type: ignore[method-assign]


class _NoValidations:
    """A ClaimsProcessor that compiles nothing and accepts every claim set."""

    def __init__(self, provider: Any) -> None:
        pass

    def evaluate(self, claims: Any) -> None:
        return None


def oidc_skip_validations() -> None:
    generic_oidc.ClaimsProcessor = _NoValidations  # type: ignore[assignment,misc]


def oidc_accept_expired() -> None:
    check = generic_oidc.check_claims

    def never_expired(claims: Mapping[str, Any], provider: Any, now: float | None = None) -> None:
        check({**claims, "exp": time.time() + 60}, provider, now)

    generic_oidc.check_claims = never_expired  # type: ignore[assignment]


def answer_before_annotating() -> None:
    patch = Coalescer.patch
    pending: set[asyncio.Task[Any]] = set()

    async def later(self: Coalescer, path: str, body: Any, version: str = "") -> Any:
        await asyncio.sleep(ANNOTATION_LAG)
        return await patch(self, path, body, version)

    async def in_background(self: Coalescer, path: str, body: Any, version: str = "") -> Any:
        task = asyncio.create_task(later(self, path, body, version))  # written after the 200
        pending.add(task)
        task.add_done_callback(pending.discard)
        return None

    Coalescer.patch = in_background  # type: ignore[method-assign]


def cross_namespace_despite_flag() -> None:
    init = KubeAnnotator.__init__

    def permissive(self: KubeAnnotator, kube: Any, **kwargs: Any) -> None:
        init(self, kube, **{**kwargs, "no_cross_namespace_refs": False})

    KubeAnnotator.__init__ = permissive  # type: ignore[method-assign]


FLAWS: dict[str, Flaw] = {
    flaw.name: flaw
    for flaw in (
        Flaw("accept-any-signature",
             "github and bitbucket accept any X-Hub-Signature(-256), or none",
             accept_any_signature),
        Flaw("ignore-content-type",
             "github and bitbucket accept a missing or unsupported Content-Type",
             ignore_content_type),
        Flaw("ignore-event-filter", "events outside spec.events are accepted",
             ignore_event_filter),
        Flaw("annotate-before-validating",
             "sources are annotated before the request is validated, even when refused",
             annotate_before_validating),
        Flaw("annotate-after-refusing",
             "sources are annotated shortly after a request was refused with 400",
             annotate_after_refusing),
        Flaw("no-body-limit", "bodies over 3 MiB are read and accepted, never 413",
             no_body_limit),
        Flaw("serve-unready", "suspended and not-Ready Receivers are served, never 503",
             serve_unready),
        Flaw("gitlab-any-token", "gitlab accepts any X-Gitlab-Token, or none",
             gitlab_any_token),
        Flaw("no-404-after-rotation", "a Receiver's old webhook path keeps serving after the "
             "token is rotated", no_404_after_rotation),
        Flaw("logs-request-bytes", "parser errors log the request bytes, tracebacks and "
             "library lines are not redacted", logs_request_bytes),
        Flaw("count-header-lines", "more than 128 header lines answer 400, however small",
             count_header_lines),
        Flaw("null-body-fails", "a JSON null body fails the filters with 500", null_body_fails),
        Flaw("cdevents-content-required", "a CDEvent subject without content is refused",
             cdevents_content_required),
        Flaw("gcr-envelope-to-filters", "gcr filters see the Pub/Sub envelope, not the "
             "notification", gcr_envelope_to_filters),
        Flaw("cel-without-extensions", "CEL has no strings, optional, sets or encoders "
             "extensions", cel_without_extensions),
        Flaw("cel-any-output-type", "a filter whose output is not bool is accepted",
             cel_any_output_type),
        Flaw("touch-more-than-requested-at", "annotated sources also get a label",
             touch_more_than_requested_at),
        Flaw("oidc-skip-validations", "generic-oidc accepts any token its issuer signed, "
             "whatever the provider's CEL validations say", oidc_skip_validations),
        Flaw("oidc-accept-expired", "generic-oidc accepts expired ID tokens",
             oidc_accept_expired),
        Flaw("answer-before-annotating", "accepted requests are answered 200 before their "
             "annotation is written", answer_before_annotating),
        Flaw("cross-namespace-despite-flag", "--no-cross-namespace-refs is ignored: sources "
             "in other namespaces are annotated", cross_namespace_despite_flag),
    )
}
