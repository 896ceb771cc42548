"""Ask Flux to reconcile: merge-patch `reconcile.fluxcd.io/requestedAt` on each resource.

Concurrent requests for one object coalesce: one PATCH in flight, later arrivals share the
next (reference.coalesce); each is answered once a PATCH that started after it is persisted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from . import api
from .coalesce import Coalescer
from .filters import Filter, FilterError, compile_filter
from .gojson import go_json
from .kube import Kube, KubeError
from .senders._common import parse_media_type
from .senders.base import WebhookRequest

log = logging.getLogger("reference.annotate")

# Plural resource names of the kinds a Receiver may reference (the CRD's enum).
FLUX_PLURALS: Mapping[str, str] = {
    "Bucket": "buckets",
    "GitRepository": "gitrepositories",
    "Kustomization": "kustomizations",
    "HelmRelease": "helmreleases",
    "HelmChart": "helmcharts",
    "HelmRepository": "helmrepositories",
    "ImageRepository": "imagerepositories",
    "ImagePolicy": "imagepolicies",
    "ImageUpdateAutomation": "imageupdateautomations",
    "OCIRepository": "ocirepositories",
    "ArtifactGenerator": "artifactgenerators",
    "ExternalArtifact": "externalartifacts",
}


class AnnotationError(Exception):
    """A resource could not be annotated; the server answers 500."""


class Annotator(Protocol):
    """What the server needs: annotate every resource of a Receiver, return the failures."""

    async def annotate(self, receiver: api.Receiver, request: WebhookRequest,
                       claims: Mapping[str, Any] | None = None) -> list[str]: ...


class Timestamps:
    """RFC 3339 timestamps with nanoseconds, strictly increasing within this process."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        ns = max(time.time_ns(), self._last + 1)
        self._last = ns
        seconds, frac = divmod(ns, 1_000_000_000)
        stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{stamp}.{frac:09d}Z"


@lru_cache(maxsize=1024)
def _compiled(expression: str, claims: bool = False) -> Filter:
    return compile_filter(expression, claims=claims)


def request_body(request: WebhookRequest) -> dict[str, Any]:
    """`req` for CEL: the JSON body when the Content-Type says JSON, else an empty map.

    JSON `null` is an empty map (Go decodes it into a nil map); any other non-object fails.
    """
    if not _is_json(request.header("content-type") or ""):
        return {}
    try:
        value = go_json(request.body, stream=True)  # Flux: json.NewDecoder(body).Decode
    except (ValueError, RecursionError) as exc:
        raise AnnotationError(f"failed to parse request body as JSON: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnnotationError("failed to parse request body as JSON: not an object")
    return value


def _is_json(content_type: str) -> bool:
    """Flux's isJSONContent: the comma-separated media types in order; the first that Go's
    mime.ParseMediaType refuses ends the search."""
    for part in content_type.split(","):
        media = parse_media_type(part)
        if media is None:
            return False
        if media == "application/json":
            return True
    return False


class KubeAnnotator:
    """Annotates resources through the API server."""

    def __init__(self, kube: Kube, *, no_cross_namespace_refs: bool = False,
                 namespace: str | None = None) -> None:
        self._kube = kube
        self._no_cross_namespace_refs = no_cross_namespace_refs
        # Watching one namespace, Flux reads sources through a cache of that namespace only:
        # any object elsewhere is an error ("unknown namespace for the cache").
        self._namespace = namespace
        self._timestamps = Timestamps()
        self._plurals: dict[tuple[str, str], str] = {}
        # Concurrent requests for one object share PATCHes (see reference.coalesce).
        self._writes = Coalescer(self._kube.patch)

    async def annotate(self, receiver: api.Receiver, request: WebhookRequest,
                       claims: Mapping[str, Any] | None = None) -> list[str]:
        """Annotate every resource of `receiver`; the messages of those that failed.

        `claims` (generic-oidc) are the verified token's, offered to the filters."""
        stamp = self._timestamps.next()
        try:
            filters = self._filters(receiver, claims is not None)
            req = request_body(request) if any(filters) else {}
        except (AnnotationError, FilterError) as exc:
            return [str(exc)]
        results = await asyncio.gather(
            *(
                self._annotate_ref(receiver, ref, flt, req, stamp, claims)
                for ref, flt in zip(receiver.resources, filters, strict=True)
            ),
            return_exceptions=True,
        )
        errors = []
        for ref, result in zip(receiver.resources, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, AnnotationError | KubeError | FilterError):
                    log.exception("annotating %s/%s failed", ref.kind, ref.name, exc_info=result)
                errors.append(f"{ref.kind}/{ref.name}: {result}")
        return errors

    def _filters(self, receiver: api.Receiver, claims: bool = False) -> list[list[Filter]]:
        top = [_compiled(receiver.resource_filter, claims)] if receiver.resource_filter else []
        return [top + ([_compiled(r.filter, claims)] if r.filter else [])
                for r in receiver.resources]

    async def _annotate_ref(
        self,
        receiver: api.Receiver,
        ref: api.ResourceRef,
        filters: list[Filter],
        req: Any,
        stamp: str,
        claims: Mapping[str, Any] | None = None,
    ) -> None:
        namespace = receiver.namespace
        if ref.namespace:
            if self._no_cross_namespace_refs and ref.namespace != receiver.namespace:
                raise AnnotationError("cross-namespace references are not allowed")
            namespace = ref.namespace
        if self._namespace is not None and namespace != self._namespace:
            raise AnnotationError(f"unknown namespace {namespace!r} for the cache: the "
                                  f"receiver watches {self._namespace!r} only")
        api_version = ref.api_version or api.DEFAULT_API_VERSIONS.get(ref.kind)
        if not api_version:
            raise AnnotationError(f"apiVersion must be specified for kind {ref.kind!r}")
        base = await self._collection(api_version, ref.kind, namespace)

        if ref.name == "*":
            if not ref.match_labels:
                raise AnnotationError("matchLabels field not set when using wildcard '*' as name")
            selector = ",".join(f"{k}={v}" for k, v in sorted(ref.match_labels.items()))
            listing = await self._kube.list(base, labelSelector=selector)
            for item in listing.get("items") or ():
                obj = {"apiVersion": api_version, "kind": ref.kind, "metadata": item["metadata"]}
                await self._annotate_one(base, obj, filters, req, stamp, claims)
            return

        if filters:
            try:
                found = await self._kube.get(f"{base}/{ref.name}")
            except KubeError as exc:
                raise AnnotationError(
                    f"unable to read {ref.kind} {namespace}/{ref.name}: {exc}"
                ) from None
            obj = {"apiVersion": api_version, "kind": ref.kind, "metadata": found["metadata"]}
        else:
            obj = {"apiVersion": api_version, "kind": ref.kind,
                   "metadata": {"name": ref.name, "namespace": namespace}}
        await self._annotate_one(base, obj, filters, req, stamp, claims)

    async def _annotate_one(
        self, base: str, obj: dict[str, Any], filters: list[Filter], req: Any, stamp: str,
        claims: Mapping[str, Any] | None = None,
    ) -> None:
        meta = obj["metadata"]
        if not all(f(obj, req, claims) for f in filters):
            log.debug("%s %s/%s not annotated: filter returned false",
                      obj["kind"], meta.get("namespace"), meta["name"])
            return
        body = {"metadata": {"annotations": {api.RECONCILE_ANNOTATION: stamp}}}
        try:
            await self._writes.patch(f"{base}/{meta['name']}", body, version=stamp)
        except KubeError as exc:
            raise AnnotationError(
                f"unable to annotate {obj['kind']} {meta.get('namespace')}/{meta['name']}: {exc}"
            ) from None
        log.info("resource %s %s/%s annotated", obj["kind"], meta.get("namespace"), meta["name"])

    async def _collection(self, api_version: str, kind: str, namespace: str) -> str:
        """The API path of the namespaced collection of `kind`."""
        group, _, version = api_version.rpartition("/")
        plural = await self._plural(group, version, kind)
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        return f"{prefix}/namespaces/{namespace}/{plural}"

    async def _plural(self, group: str, version: str, kind: str) -> str:
        if kind in FLUX_PLURALS and group.endswith(".fluxcd.io"):
            return FLUX_PLURALS[kind]
        cached = self._plurals.get((group, kind))
        if cached:
            return cached
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            discovery = await self._kube.get(path)
        except KubeError as exc:
            raise AnnotationError(f"no API {group}/{version} for kind {kind!r}: {exc}") from None
        for resource in discovery.get("resources") or ():
            if resource.get("kind") == kind and "/" not in resource.get("name", ""):
                self._plurals[(group, kind)] = resource["name"]
                return resource["name"]
        raise AnnotationError(f"kind {kind!r} is not served by {group}/{version}")
