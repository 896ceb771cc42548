"""Deliberate flaws, each a monkeypatch of one seam of the reference receiver.

A flaw is applied in the receiver's own process before `reference.__main__.main()` runs;
nothing under reference/ changes. Each one breaks exactly the behaviour a group of the
conformance scenarios refuses, so a suite with teeth fails those scenarios.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from receiver_conformance.reference import (
    annotate,
    api,
    controller,
    events,
    filters,
    logs,
    senders,
    server,
    status,
)
from receiver_conformance.reference.annotate import AnnotationError, KubeAnnotator
from receiver_conformance.reference.coalesce import Coalescer
from receiver_conformance.reference.index import Index
from receiver_conformance.reference.kube import JSON_PATCH, KubeError
from receiver_conformance.reference.senders import _common as common
from receiver_conformance.reference.senders import (
    acr,
    bitbucket,
    cdevents,
    dockerhub,
    generic_hmac,
    generic_oidc,
    github,
    gitlab,
    harbor,
    nexus,
    quay,
)
from receiver_conformance.reference.senders._common import HASHES, hmac_hex, media_type, token
from receiver_conformance.reference.senders.base import Event, RefusedRequest, WebhookRequest
from receiver_conformance.reference.senders.gcr import GCRSender
from receiver_conformance.reference.server import Limits, ReceiverServer, TimedRequestHandler

PayloadCheck = Callable[[WebhookRequest, Mapping[str, bytes]], Any]
_SIGNATURE_HEADERS = ("x-hub-signature", "x-hub-signature-256")
_GITHUB_STYLE_TYPES = ("application/json", "application/x-www-form-urlencoded")
ANNOTATION_LAG = 0.2  # seconds between a refusal and annotate-after-refusing's annotation
# Seconds answer-before-annotating writes after its answer: longer than a burst's 50 answers
# take on a loaded machine, so that no answer can meet another push's late write instead of
# its own (at 0.2 s, a CI run busy enough to slow the answers let the flaw pass once).
ANSWER_LAG = 2.0


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


def empty_token_skips_signature() -> None:
    # As go-github's ValidatePayload does: no secret token, no signature check.
    def wrap(check: PayloadCheck) -> PayloadCheck:
        def lenient(request: WebhookRequest, secret: Mapping[str, bytes]) -> Any:
            if token(secret) == b"" and not any(request.header(h) for h in _SIGNATURE_HEADERS):
                headers = {**request.headers, "x-hub-signature-256": "sha256=" + hmac_hex(
                    "sha256", b"", request.body)}
                request = replace(request, headers=headers)
            return check(request, secret)

        return lenient

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
                  metrics: Any = None, limits: Limits | None = None, **options: Any) -> None:
        limits = replace(limits or Limits(), max_body_bytes=sys.maxsize)
        init(self, index, senders, annotator, metrics, limits, **options)

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


def annotation_errors_unlogged() -> None:
    def drop_annotation_errors(record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.ERROR and record.msg == "receiver %s: %s")

    logging.getLogger("reference.server").addFilter(drop_annotation_errors)


def count_header_lines() -> None:
    init = TimedRequestHandler.__init__

    def at_most_128(self: TimedRequestHandler, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "max_headers": 128})  # aiohttp's default: 400 past it

    TimedRequestHandler.__init__ = at_most_128  # type: ignore[method-assign]


def drop_oversized_headers() -> None:
    def hang_up(self: TimedRequestHandler, transport: Any) -> None:
        self._refused = True
        transport.abort()  # no answer at all: the client sees its connection reset

    TimedRequestHandler._refuse_headers = hang_up  # type: ignore[method-assign]


def filtered_annotated_late() -> None:
    annotate_one = KubeAnnotator._annotate_one
    pending: set[asyncio.Task[Any]] = set()

    async def late(self: KubeAnnotator, base: str, obj: dict[str, Any], filters: list[Any],
                   req: Any, stamp: str, claims: Mapping[str, Any] | None = None) -> None:
        if all(f(obj, req, claims) for f in filters):
            await annotate_one(self, base, obj, filters, req, stamp, claims)
            return

        async def anyway() -> None:  # after the answer: a check made at once sees nothing
            await asyncio.sleep(ANNOTATION_LAG)
            await annotate_one(self, base, obj, [], req, stamp, claims)

        task = asyncio.create_task(anyway())
        pending.add(task)
        task.add_done_callback(pending.discard)

    KubeAnnotator._annotate_one = late  # type: ignore[method-assign]


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
        await asyncio.sleep(ANSWER_LAG)
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
# --- every rule (features/13) ---------------------------------------------------------
# Each bends one rule of /work/shared/receiver-semantics.md that features/13 (or an older
# scenario named in its Teeth case) pins.


def _wrap_reconcile(bend: Callable[[api.Receiver, status.Outcome], None]) -> None:
    """Let `bend(receiver, outcome)` edit the status every reconcile computes."""
    compute = status.reconcile

    def bent(receiver: api.Receiver, secret: Any, now: str) -> status.Outcome:
        outcome = compute(receiver, secret, now)
        bend(receiver, outcome)
        return outcome

    status.reconcile = bent  # type: ignore[assignment]


def finalizer_misnamed() -> None:
    api.FINALIZER = "notification.example.com/finalizer"  # type: ignore[misc]


def finalizer_never_removed() -> None:
    async def keep(self: controller.Controller, path: str, receiver: api.Receiver) -> None:
        return None

    controller.Controller._remove_finalizer = keep  # type: ignore[method-assign]


def serve_deleted_receiver() -> None:
    Index.remove = lambda self, key: None  # type: ignore[method-assign]


def reconciling_left_when_ready() -> None:
    def still_reconciling(receiver: api.Receiver, outcome: status.Outcome) -> None:
        conditions = outcome.status["conditions"]
        if any(c["type"] == api.READY and c["status"] == "True" for c in conditions) and \
                not any(c["type"] == api.RECONCILING for c in conditions):
            conditions.append({**conditions[0], "type": api.RECONCILING,
                               "reason": api.PROGRESSING})

    _wrap_reconcile(still_reconciling)


def observed_generation_frozen() -> None:
    def first_seen(receiver: api.Receiver, outcome: status.Outcome) -> None:
        first = receiver.status.get("observedGeneration", -1)  # the CRD defaults it to -1
        if first > 0:
            outcome.status["observedGeneration"] = first

    _wrap_reconcile(first_seen)


def stalled_sticks() -> None:
    def sticky(receiver: api.Receiver, outcome: status.Outcome) -> None:
        stalled = receiver.condition(api.STALLED)
        conditions = outcome.status["conditions"]
        if stalled and not any(c["type"] == api.STALLED for c in conditions):
            conditions.append(dict(stalled))

    _wrap_reconcile(sticky)


def last_handled_not_reported() -> None:
    _wrap_reconcile(lambda receiver, outcome: outcome.status.pop("lastHandledReconcileAt", None))


def reconcile_request_ignored() -> None:
    def generation_only(old: api.Receiver | None, new: api.Receiver) -> bool:
        return old is None or old.uid != new.uid or new.deleting or \
            new.generation != old.generation

    controller._wants_reconcile = generation_only  # type: ignore[assignment]


def secret_deletions_ignored() -> None:
    on_event = controller.Controller._on_secret_event

    def ignore_deleted(self: controller.Controller, kind: str, obj: dict[str, Any]) -> None:
        if kind != "DELETED":
            on_event(self, kind, obj)

    controller.Controller._on_secret_event = ignore_deleted  # type: ignore[method-assign]


def token_key_kept() -> None:
    put_secret = Index.put_secret

    def merged(self: Index, key: str, data: Mapping[str, bytes]) -> None:
        put_secret(self, key, {**(self.secret(key) or {}), **data})  # old keys survive

    Index.put_secret = merged  # type: ignore[method-assign]


def serve_cleared_path() -> None:
    put = Index.put

    def keep_path(self: Index, receiver: api.Receiver) -> bool:
        old = self.get(receiver.key)
        stored = put(self, receiver)
        if stored and old is not None and old.webhook_path and not receiver.webhook_path:
            self._by_path[old.webhook_path] = receiver.key  # the cleared path still routes
        return stored

    Index.put = keep_path  # type: ignore[method-assign]


def resource_filters_unchecked() -> None:
    config_error = status.config_error

    def top_level_only(receiver: api.Receiver) -> tuple[str, str] | None:
        unfiltered = tuple(replace(r, filter=None) for r in receiver.resources)
        return config_error(replace(receiver, resources=unfiltered))

    status.config_error = top_level_only  # type: ignore[assignment]


def _bend_path(bend: Callable[[str], str]) -> None:
    by_path = Index.by_path

    def lenient(self: Index, path: str) -> api.Receiver | None:
        return by_path(self, path) or by_path(self, bend(path))

    Index.by_path = lenient  # type: ignore[method-assign]


def path_case_insensitive() -> None:
    _bend_path(str.lower)


def path_trailing_slash_ignored() -> None:
    _bend_path(lambda path: path.rstrip("/"))


def path_prefix_match() -> None:
    by_path = Index.by_path

    def prefix(self: Index, path: str) -> api.Receiver | None:
        found = by_path(self, path)
        if found is None and len(path) > len(api.HOOK_PREFIX) + 8:
            found = next((r for r in self.receivers()
                          if r.webhook_path and r.webhook_path.startswith(path)), None)
        return found

    Index.by_path = prefix  # type: ignore[method-assign]


SignatureCheck = Callable[[str, str | None, bytes, bytes], None]


def _bend_signature(wrap: Callable[[SignatureCheck], SignatureCheck]) -> None:
    common.check_prefixed_signature = wrap(common.check_prefixed_signature)


def signature_base64_accepted() -> None:
    def wrap(check: SignatureCheck) -> SignatureCheck:
        def either(header: str, signature: str | None, body: bytes, key: bytes) -> None:
            algorithm, _, digest = (signature or "").partition("=")
            if digest and not re.fullmatch(r"[0-9a-fA-F]*", digest):
                with contextlib.suppress(ValueError):
                    signature = f"{algorithm}={base64.b64decode(digest).hex()}"
            check(header, signature, body, key)

        return either

    _bend_signature(wrap)


def signature_algorithm_any_case() -> None:
    def wrap(check: SignatureCheck) -> SignatureCheck:
        def any_case(header: str, signature: str | None, body: bytes, key: bytes) -> None:
            algorithm, sep, digest = (signature or "").partition("=")
            check(header, f"{algorithm.lower()}{sep}{digest}" if sep else signature, body, key)

        return any_case

    _bend_signature(wrap)


def signature_prefix_match() -> None:
    def wrap(check: SignatureCheck) -> SignatureCheck:
        def prefix(header: str, signature: str | None, body: bytes, key: bytes) -> None:
            algorithm, _, digest = (signature or "").partition("=")
            if algorithm in HASHES and digest:
                expected = hmac_hex(algorithm, key, body)
                if expected.startswith(digest.lower()):
                    signature = f"{algorithm}={expected}"  # as many digits as were sent
            check(header, signature, body, key)

        return prefix

    _bend_signature(wrap)


def signature_hex_case_sensitive() -> None:
    def wrap(check: SignatureCheck) -> SignatureCheck:
        def lower_only(header: str, signature: str | None, body: bytes, key: bytes) -> None:
            if signature and signature != signature.lower():
                raise RefusedRequest(f"the {header} signature does not match the body")
            check(header, signature, body, key)

        return lower_only

    _bend_signature(wrap)


TokenCheck = Callable[[WebhookRequest, str, bytes], None]


def _bend_token(wrap: Callable[[TokenCheck], TokenCheck]) -> None:
    for module in (gitlab, harbor):
        module.check_header_equals_token = wrap(module.check_header_equals_token)


def token_case_insensitive() -> None:
    def wrap(check: TokenCheck) -> TokenCheck:
        def any_case(request: WebhookRequest, header: str, expected: bytes) -> None:
            given = request.header(header)
            if given is not None and given.lower().encode() == expected.lower():
                return None
            return check(request, header, expected)

        return any_case

    _bend_token(wrap)


def token_prefix_accepted() -> None:
    def wrap(check: TokenCheck) -> TokenCheck:
        def prefix(request: WebhookRequest, header: str, expected: bytes) -> None:
            given = request.header(header)
            if given and len(given) > 8 and expected.startswith(given.encode()):
                return None
            return check(request, header, expected)

        return prefix

    _bend_token(wrap)


def _bend_events(bend: Callable[[api.Receiver, str | None], bool | None]) -> None:
    """`bend` answers first; None leaves the decision to the reference."""
    accepts = api.Receiver.accepts_event

    def bent(self: api.Receiver, event: str | None) -> bool:
        verdict = bend(self, event)
        return accepts(self, event) if verdict is None else verdict

    api.Receiver.accepts_event = bent  # type: ignore[method-assign]


def missing_event_accepted() -> None:
    _bend_events(lambda receiver, event: True if event == "" else None)


def push_and_ping_by_default() -> None:
    _bend_events(lambda receiver, event: event in ("push", "ping")
                 if not receiver.events and event is not None else None)


def events_without_event_type() -> None:
    _bend_events(lambda receiver, event: False
                 if receiver.events and event is None else None)


def event_from_payload() -> None:
    validate = github.GitHubSender.validate

    async def guessed(self: github.GitHubSender, request: WebhookRequest,
                      secret: Mapping[str, bytes]) -> Event:
        event = await validate(self, request, secret)
        payload = event.payload if isinstance(event.payload, dict) else {}
        if "commits" in payload and "ref" in payload:
            return replace(event, name="push")  # the body's shape, not the header
        return event

    github.GitHubSender.validate = guessed  # type: ignore[method-assign]


def readiness_before_body() -> None:
    handle = ReceiverServer._handle

    async def unready_first(self: ReceiverServer, request: web.BaseRequest) -> tuple[int, str]:
        receiver = self.index.by_path(request.raw_path)
        if receiver is not None and (receiver.suspend or not receiver.ready):
            return 503, receiver.type  # before the body is read, whatever its size
        return await handle(self, request)

    ReceiverServer._handle = unready_first  # type: ignore[method-assign]


def validate_before_readiness() -> None:
    by_path = Index.by_path
    served = {"conditions": [{"type": api.READY, "status": "True", "reason": api.SUCCEEDED}]}
    unready: set[str] = set()

    def as_if_ready(self: Index, path: str) -> api.Receiver | None:
        receiver = by_path(self, path)
        if receiver is None or (receiver.ready and not receiver.suspend):
            return receiver
        unready.add(path)
        return replace(receiver, suspend=False, status={**receiver.status, **served})

    class Unready(AnnotationError):
        pass

    annotate_all = KubeAnnotator.annotate

    async def refuse_unready(self: KubeAnnotator, receiver: api.Receiver,
                             request: WebhookRequest) -> list[str]:
        if receiver.webhook_path in unready:
            raise Unready("suspended or not ready")
        return await annotate_all(self, receiver, request)

    handle = ReceiverServer._handle

    async def validated_then_503(self: ReceiverServer,
                                 request: web.BaseRequest) -> tuple[int, str]:
        try:
            return await handle(self, request)  # 400 when validation fails
        except Unready:
            return 503, "unknown"
        finally:
            unready.discard(request.raw_path)

    Index.by_path = as_if_ready  # type: ignore[method-assign]
    KubeAnnotator.annotate = refuse_unready  # type: ignore[method-assign]
    ReceiverServer._handle = validated_then_503  # type: ignore[method-assign]


def _bend_filters(bend: Callable[[api.ResourceRef, list[Any], Any], list[Any]]) -> None:
    """`bend(ref, top, own)` gives the filters of one resource (top: resourceFilter's)."""

    def filters(self: KubeAnnotator, receiver: api.Receiver,
                claims: bool = False) -> list[list[Any]]:
        top = ([annotate._compiled(receiver.resource_filter, claims)]
               if receiver.resource_filter else [])
        return [bend(r, top, annotate._compiled(r.filter, claims) if r.filter else None)
                for r in receiver.resources]

    KubeAnnotator._filters = filters  # type: ignore[method-assign]


def resource_filter_wildcard_only() -> None:
    _bend_filters(lambda ref, top, own: (top if ref.name == "*" else []) + ([own] if own else []))


def own_filters_ignored() -> None:
    _bend_filters(lambda ref, top, own: top)


def filters_either() -> None:
    def either(ref: api.ResourceRef, top: list[Any], own: Any) -> list[Any]:
        if not (top and own):
            return top + ([own] if own else [])
        return [lambda obj, req, claims=None: top[0](obj, req, claims) or own(obj, req, claims)]

    _bend_filters(either)


def own_filter_overrides() -> None:
    _bend_filters(lambda ref, top, own: [own] if own else top)


def wildcard_all_namespaces() -> None:
    annotate_ref = KubeAnnotator._annotate_ref

    async def everywhere(self: KubeAnnotator, receiver: api.Receiver, ref: api.ResourceRef,
                         filters: list[Any], req: Any, stamp: str,
                         claims: Any = None) -> None:
        if ref.name != "*" or not ref.match_labels:
            return await annotate_ref(self, receiver, ref, filters, req, stamp, claims)
        api_version = ref.api_version or api.DEFAULT_API_VERSIONS[ref.kind]
        mine = await self._collection(api_version, ref.kind, receiver.namespace)
        selector = ",".join(f"{k}={v}" for k, v in sorted(ref.match_labels.items()))
        listing = await self._kube.list(
            mine.replace(f"/namespaces/{receiver.namespace}", ""), labelSelector=selector)
        for item in listing.get("items") or ():
            base = await self._collection(api_version, ref.kind, item["metadata"]["namespace"])
            obj = {"apiVersion": api_version, "kind": ref.kind, "metadata": item["metadata"]}
            await self._annotate_one(base, obj, filters, req, stamp, claims)
        return None

    KubeAnnotator._annotate_ref = everywhere  # type: ignore[method-assign]


class _ReplacingKube(_LabellingKube):
    """A Kube whose annotation patches replace every annotation the object had."""

    async def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        if isinstance(body, dict) and api.RECONCILE_ANNOTATION in str(body):
            ops = [{"op": "add", "path": "/metadata/annotations",
                    "value": body["metadata"]["annotations"]}]
            return await self._kube.patch(path, ops, content_type=JSON_PATCH)
        return await self._kube.patch(path, body, **kwargs)


def annotations_replaced() -> None:
    init = KubeAnnotator.__init__

    def replacing(self: KubeAnnotator, kube: Any, **kwargs: Any) -> None:
        init(self, _ReplacingKube(kube), **kwargs)

    KubeAnnotator.__init__ = replacing  # type: ignore[method-assign]


def chunked_body_dropped() -> None:
    read_body = ReceiverServer._read_body

    async def length_only(self: ReceiverServer, request: web.BaseRequest) -> bytes:
        body = await read_body(self, request)
        return body if request.content_length is not None else b""  # no length, no body

    ReceiverServer._read_body = length_only  # type: ignore[method-assign]


def chunked_body_unlimited() -> None:
    read_body = ReceiverServer._read_body

    async def declared_only(self: ReceiverServer, request: web.BaseRequest) -> bytes:
        if request.content_length is not None:
            return await read_body(self, request)
        chunks = [chunk async for chunk in request.content.iter_any()]  # no limit
        if isinstance(request.protocol, TimedRequestHandler):
            request.protocol.body_read()
        return b"".join(chunks)

    ReceiverServer._read_body = declared_only  # type: ignore[method-assign]


def second_precision_timestamps() -> None:
    def whole_seconds(self: annotate.Timestamps) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    annotate.Timestamps.next = whole_seconds  # type: ignore[method-assign]


def stop_at_first_failure() -> None:
    async def in_turn(self: KubeAnnotator, receiver: api.Receiver,
                      request: WebhookRequest) -> list[str]:
        stamp = self._timestamps.next()
        for ref, flts in zip(receiver.resources, self._filters(receiver), strict=True):
            try:
                req = annotate.request_body(request) if flts else {}
                await self._annotate_ref(receiver, ref, flts, req, stamp)
            except (AnnotationError, KubeError) as exc:
                return [f"{ref.kind}/{ref.name}: {exc}"]  # the rest are never tried
        return []

    KubeAnnotator.annotate = in_turn  # type: ignore[method-assign]


def empty_wildcard_error() -> None:
    annotate_ref = KubeAnnotator._annotate_ref

    async def must_match(self: KubeAnnotator, receiver: api.Receiver, ref: api.ResourceRef,
                         filters: list[Any], req: Any, stamp: str,
                         claims: Any = None) -> None:
        if ref.name == "*" and ref.match_labels:
            api_version = ref.api_version or api.DEFAULT_API_VERSIONS[ref.kind]
            base = await self._collection(api_version, ref.kind, receiver.namespace)
            selector = ",".join(f"{k}={v}" for k, v in sorted(ref.match_labels.items()))
            if not (await self._kube.list(base, labelSelector=selector)).get("items"):
                raise AnnotationError(f"no {ref.kind} matches {selector}")
        return await annotate_ref(self, receiver, ref, filters, req, stamp, claims)

    KubeAnnotator._annotate_ref = must_match  # type: ignore[method-assign]


def registry_strict_json() -> None:
    strict = common.registry_payload

    def one_object_only(body: bytes, shape: Any, registry: str, stream: bool = True) -> Any:
        payload = common.decode_json(body, f"a {registry} webhook payload")
        if not isinstance(payload, dict):
            raise RefusedRequest(f"the body is not a {registry} webhook payload")
        return strict(body, shape, registry, stream=False)

    for module in (dockerhub, quay, acr):
        module.registry_payload = one_object_only  # type: ignore[attr-defined]


def no_events() -> None:
    events.Recorder.event = lambda self, obj, type_, reason, message: None  # type: ignore[method-assign]


def events_not_aggregated() -> None:
    record = events.Recorder._record

    async def always_new(self: events.Recorder, ref: dict[str, Any], type_: str, reason: str,
                         message: str) -> None:
        self._recorded.clear()  # forget what was recorded: every repeat is a new Event
        await record(self, ref, type_, reason, message)

    events.Recorder._record = always_new  # type: ignore[method-assign]


def registry_list_items_unchecked() -> None:
    check_shape = common.check_shape

    def lists_taken_whole(value: Any, shape: Any, where: str = "body") -> None:
        if not (isinstance(shape, list) and isinstance(value, list)):
            check_shape(value, shape, where)

    common.check_shape = lists_taken_whole  # type: ignore[assignment]


def no_artifactgenerator_default() -> None:
    api.DEFAULT_API_VERSIONS = {  # type: ignore[misc]
        kind: version for kind, version in api.DEFAULT_API_VERSIONS.items()
        if kind != "ArtifactGenerator"
    }


# --- rules of the spec that had no broken receiver (receiver_conformance/rules.yaml)


def events_case_sensitive() -> None:
    _bend_events(lambda receiver, event: event in receiver.events
                 if receiver.events and event else None)


def nexus_unsupported() -> None:
    del senders._SENDERS["nexus"]  # twelve types served: a nexus push is an unknown type


def oidc_needs_secret() -> None:
    token_of = status.token_of

    def as_any_other(receiver: api.Receiver, secret: Mapping[str, bytes] | None) -> bytes | str:
        if receiver.type == api.GENERIC_OIDC:  # wants a Secret it has no name for
            return token_of(replace(receiver, type="generic"), secret)
        return token_of(receiver, secret)

    status.token_of = as_any_other


def hook_prefix_ignored() -> None:
    class AnyPrefix:
        """The server's view of the API module: every path is a hook path."""

        HOOK_PREFIX = "/"

        def __getattr__(self, name: str) -> Any:
            return getattr(api, name)

    server.api = AnyPrefix()  # type: ignore[assignment]
    _bend_path(lambda path: api.HOOK_PREFIX + path.rsplit("/", 1)[-1])


def generic_hmac_sha256_only() -> None:
    validate = generic_hmac.GenericHMACSender.validate

    async def narrowed(self: generic_hmac.GenericHMACSender, request: WebhookRequest,
                       secret: Mapping[str, bytes]) -> Event:
        if not (request.header("X-Signature") or "").startswith("sha256="):
            raise RefusedRequest("only sha256 signatures are taken")
        return await validate(self, request, secret)

    generic_hmac.GenericHMACSender.validate = narrowed  # type: ignore[method-assign]


def nexus_prefix_stripped() -> None:
    validate = nexus.NexusSender.validate

    async def lenient(self: nexus.NexusSender, request: WebhookRequest,
                      secret: Mapping[str, bytes]) -> Event:
        signature = request.header(nexus.HEADER) or ""
        if "=" in signature:  # "sha1=<hex>" taken as the bare digest
            headers = {**request.headers, nexus.HEADER.lower(): signature.split("=", 1)[1]}
            request = replace(request, headers=headers)
        return await validate(self, request, secret)

    nexus.NexusSender.validate = lenient  # type: ignore[method-assign]


def gcr_email_unchecked() -> None:
    verify = GCRSender.verify_id_token

    async def any_email(self: GCRSender, token: str, email: str, audience: str,
                        ) -> dict[str, Any]:
        claims = jwt.decode(token, options={"verify_signature": False})
        return await verify(self, token, str(claims.get("email", email)), audience)

    GCRSender.verify_id_token = any_email  # type: ignore[method-assign]


def _bend_refs(bend: Callable[[api.Receiver, api.ResourceRef], api.ResourceRef]) -> None:
    """Let `bend` rewrite each resource of a Receiver before it is annotated."""
    annotate_ref = KubeAnnotator._annotate_ref

    async def bent(self: KubeAnnotator, receiver: api.Receiver, ref: api.ResourceRef,
                   *args: Any, **kwargs: Any) -> None:
        await annotate_ref(self, receiver, bend(receiver, ref), *args, **kwargs)

    KubeAnnotator._annotate_ref = bent  # type: ignore[method-assign]


def resource_namespace_default() -> None:
    _bend_refs(lambda receiver, ref: ref if ref.namespace else replace(ref, namespace="default"))


def wildcard_without_labels_takes_all() -> None:
    # Joined as "rc-none!=x": a label no object has, so every object of the kind matches.
    _bend_refs(lambda receiver, ref: replace(ref, match_labels={"rc-none!": "x"})
               if ref.name == "*" and not ref.match_labels else ref)


def api_version_guessed() -> None:
    api.DEFAULT_API_VERSIONS = {  # type: ignore[misc]
        **api.DEFAULT_API_VERSIONS, "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
        "HelmRelease": "helm.toolkit.fluxcd.io/v2"}


def ready_message_without_path() -> None:
    def pathless(receiver: api.Receiver, outcome: status.Outcome) -> None:
        for condition in outcome.status["conditions"]:
            if condition["type"] == api.READY and condition["status"] == "True":
                condition["message"] = "Receiver initialized"

    _wrap_reconcile(pathless)


FLAWS: dict[str, Flaw] = {
    flaw.name: flaw
    for flaw in (
        Flaw("accept-any-signature",
             "github and bitbucket accept any X-Hub-Signature(-256), or none",
             accept_any_signature),
        Flaw("empty-token-skips-signature",
             "github and bitbucket check no signature when the Secret's token is empty",
             empty_token_skips_signature),
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
        Flaw("annotation-errors-unlogged", "a resource that cannot be annotated is answered "
             "500 but never named in the log", annotation_errors_unlogged),
        Flaw("filtered-annotated-late", "a source a filter rejects is annotated anyway, "
             "a moment after the answer", filtered_annotated_late),
        Flaw("drop-oversized-headers", "headers over 256 KiB get no answer: the connection "
             "is reset", drop_oversized_headers),
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
        # --- every rule (features/13)
        Flaw("finalizer-misnamed", "the Receiver gets a finalizer of another name than "
             "finalizers.fluxcd.io", finalizer_misnamed),
        Flaw("finalizer-never-removed", "a deleted Receiver keeps its finalizer and never goes",
             finalizer_never_removed),
        Flaw("serve-deleted-receiver", "a deleted Receiver's path keeps serving",
             serve_deleted_receiver),
        Flaw("reconciling-left-when-ready", "a Ready Receiver still has Reconciling=True",
             reconciling_left_when_ready),
        Flaw("observed-generation-frozen", "status.observedGeneration stays at the first "
             "generation seen", observed_generation_frozen),
        Flaw("stalled-sticks", "Stalled stays once the invalid filter is corrected",
             stalled_sticks),
        Flaw("last-handled-not-reported", "a reconcile request is never copied into "
             "status.lastHandledReconcileAt", last_handled_not_reported),
        Flaw("reconcile-request-ignored", "the requestedAt annotation on a Receiver does not "
             "reconcile it", reconcile_request_ignored),
        Flaw("secret-deletions-ignored", "a deleted Secret goes unnoticed: the Receiver stays "
             "Ready", secret_deletions_ignored),
        Flaw("token-key-kept", "a token key removed from the Secret is still used",
             token_key_kept),
        Flaw("serve-cleared-path", "a path cleared from status still routes (503, not 404)",
             serve_cleared_path),
        Flaw("resource-filters-unchecked", "an invalid per-resource filter does not stall the "
             "Receiver", resource_filters_unchecked),
        Flaw("path-case-insensitive", "hook paths match whatever their case",
             path_case_insensitive),
        Flaw("path-trailing-slash-ignored", "a hook path with a trailing slash is served",
             path_trailing_slash_ignored),
        Flaw("path-prefix-match", "a truncated hook path is served", path_prefix_match),
        Flaw("signature-base64-accepted", "signatures in base64 are accepted",
             signature_base64_accepted),
        Flaw("signature-algorithm-any-case", "SHA256= is taken for sha256=",
             signature_algorithm_any_case),
        Flaw("signature-prefix-match", "a signature that is a prefix of the right one passes",
             signature_prefix_match),
        Flaw("signature-hex-case-sensitive", "a signature in upper-case hex is refused",
             signature_hex_case_sensitive),
        Flaw("token-case-insensitive", "gitlab and harbor tokens match whatever their case",
             token_case_insensitive),
        Flaw("token-prefix-accepted", "gitlab and harbor accept a prefix of the token",
             token_prefix_accepted),
        Flaw("missing-event-accepted", "a request without its event header passes spec.events",
             missing_event_accepted),
        Flaw("push-and-ping-by-default", "a Receiver without spec.events accepts only push and "
             "ping", push_and_ping_by_default),
        Flaw("events-without-event-type", "spec.events refuses requests of types that carry "
             "no event", events_without_event_type),
        Flaw("event-from-payload", "github takes the event from the body's shape, not "
             "X-GitHub-Event", event_from_payload),
        Flaw("readiness-before-body", "a suspended or not-Ready Receiver answers 503 before "
             "the body's size is checked", readiness_before_body),
        Flaw("validate-before-readiness", "a suspended or not-Ready Receiver validates first: "
             "400, not 503", validate_before_readiness),
        Flaw("resource-filter-wildcard-only", "resourceFilter applies to wildcard resources "
             "only", resource_filter_wildcard_only),
        Flaw("own-filters-ignored", "per-resource filters are ignored", own_filters_ignored),
        Flaw("filters-either", "either the resource's filter or resourceFilter suffices",
             filters_either),
        Flaw("own-filter-overrides", "a resource's own filter replaces resourceFilter",
             own_filter_overrides),
        Flaw("wildcard-all-namespaces", "a wildcard selects labelled objects of every "
             "namespace", wildcard_all_namespaces),
        Flaw("annotations-replaced", "annotating drops the source's other annotations",
             annotations_replaced),
        Flaw("chunked-body-dropped", "a body without Content-Length is read as empty",
             chunked_body_dropped),
        Flaw("chunked-body-unlimited", "the 3 MiB limit applies to Content-Length only",
             chunked_body_unlimited),
        Flaw("second-precision-timestamps", "requestedAt has whole seconds: two requests in one "
             "second leave the same value", second_precision_timestamps),
        Flaw("stop-at-first-failure", "the first resource that fails stops the others",
             stop_at_first_failure),
        Flaw("empty-wildcard-error", "a wildcard that selects nothing answers 500",
             empty_wildcard_error),
        # --- found by `receiver-conformance diff` against Flux
        Flaw("registry-strict-json", "registry bodies must be exactly one JSON object: null "
             "and trailing data are refused", registry_strict_json),
        Flaw("registry-list-items-unchecked", "a registry body's list is taken whole: an "
             "item of another type is accepted", registry_list_items_unchecked),
        Flaw("no-artifactgenerator-default", "an ArtifactGenerator without apiVersion is not "
             "defaulted to source.extensions.fluxcd.io/v1beta1", no_artifactgenerator_default),
        # --- events and metrics (features/14)
        Flaw("no-events", "no Kubernetes Event is recorded about a Receiver", no_events),
        Flaw("events-not-aggregated", "a repeated Event is written again as a new Event, "
             "not counted", events_not_aggregated),
        # --- rules of the spec that had no broken receiver
        Flaw("events-case-sensitive", "spec.events must match the event's letter case",
             events_case_sensitive),
        Flaw("generic-hmac-sha256-only", "generic-hmac refuses sha1 and sha512 signatures",
             generic_hmac_sha256_only),
        Flaw("nexus-prefix-stripped", "a Nexus signature with an algorithm prefix is taken",
             nexus_prefix_stripped),
        Flaw("gcr-email-unchecked", "a gcr ID token for any email is taken",
             gcr_email_unchecked),
        Flaw("resource-namespace-default", "a resource without namespace is looked for in "
             "default, not the Receiver's namespace", resource_namespace_default),
        Flaw("wildcard-without-labels-takes-all", "a wildcard without matchLabels selects "
             "every object of its kind", wildcard_without_labels_takes_all),
        Flaw("api-version-guessed", "Kustomization and HelmRelease get a default apiVersion",
             api_version_guessed),
        Flaw("ready-message-without-path", "the Ready message does not name the hook path",
             ready_message_without_path),
        Flaw("nexus-unsupported", "twelve sender types: nexus is not served",
             nexus_unsupported),
        Flaw("oidc-needs-secret", "a generic-oidc Receiver wants a Secret, as the other types do",
             oidc_needs_secret),
        Flaw("hook-prefix-ignored", "a known digest is served under any prefix, not only /hook/",
             hook_prefix_ignored),
    )
}
