"""The state of one conformance scenario and the actions its steps take.

Steps parse a sentence and call one method here; this class talks to the target's API
server and its receiver, keeps what the scenario created, and records evidence for the
report (requests sent, answers and object states observed, durations measured).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance import senders
from receiver_conformance.config import timing
from receiver_conformance.flux import objects
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.targets.base import Target

Evidence = Callable[[str, Any], None]
# A measured duration: what, seconds, and the wait it replaces (text, seconds) if any.
Timing = Callable[[str, float, str | None, float | None], None]
SourceKey = tuple[str, str, str]  # kind, name, namespace
ANNOTATION_TIMEOUT = 10.0
CLEANUP_TIMEOUT = 30.0
# Metadata a receiver's annotation patch may change besides requestedAt: server bookkeeping.
VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields"})
# How long a refused request must leave every source alone: a receiver that annotates
# after answering is caught within this period (RC_QUIET_PERIOD, seconds).
QUIET_PERIOD = timing("RC_QUIET_PERIOD")


@dataclass
class Scenario:
    """What one scenario has done so far."""

    target: Target
    kube: Kube
    namespace: str
    evidence: Evidence = lambda title, body: None
    timing: Timing = lambda name, seconds, instead_of, instead_of_seconds: None
    tokens: dict[str, str] = field(default_factory=dict)  # Secret name -> token
    receiver: str | None = None  # the Receiver the last step was about
    sources: list[SourceKey] = field(default_factory=list)
    before: dict[SourceKey, str | None] = field(default_factory=dict)
    states: dict[SourceKey, dict[str, Any]] = field(default_factory=dict)  # before the request
    response: requests.Response | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    pending_token: str | None = None  # generated, not stored yet
    old_path: str | None = None  # the webhook path before a change
    first_path: str | None = None
    other: tuple[str, str] | None = None  # (name, namespace) of a second Receiver
    other_path: str | None = None
    kubectl_output: str = ""
    secrets: set[str] = field(default_factory=set)  # Secrets created in the namespace
    secret_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # kept on rotation
    other_namespaces: list[str] = field(default_factory=list)  # namespaces it created
    old_generation: int = 0  # metadata.generation before a spec change
    reconcile_request: str | None = None  # the requestedAt value asked of a Receiver
    # (status, every source's requestedAt) after each request of a burst
    burst: list[tuple[int, dict[SourceKey, str | None]]] = field(default_factory=list)

    # -- objects ------------------------------------------------------------------------

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        applied = self.kube.apply(obj, self.namespace)
        self.created.append(obj)
        return applied

    def add_source(self, kind: str, name: str, namespace: str | None = None,
                   labels: Mapping[str, str] | None = None) -> None:
        namespace = namespace or self.namespace
        if namespace != self.namespace and namespace not in self.other_namespaces:
            self.kube.create_namespace(namespace)
            self.other_namespaces.append(namespace)
        self.apply(objects.source_object(kind, name, namespace, labels))
        self.sources.append((kind, name, namespace))

    def add_guide_object(self, file: str, name: str | None = None) -> dict[str, Any]:
        obj = objects.guide_object(file, self.namespace, name=name)
        self.apply(obj)
        if obj["kind"] == "Receiver":
            self.receiver = obj["metadata"]["name"]
        elif obj["kind"] in objects.API_VERSIONS:
            self.sources.append((obj["kind"], obj["metadata"]["name"], self.namespace))
        return obj

    def add_guide_receiver(self, name: str, interval: str | None = None) -> None:
        """The guide's Receiver named `name`, with `spec.interval` if given."""
        obj = objects.guide_object("receiver-webapp.yaml", self.namespace, name=name)
        if interval:
            obj["spec"]["interval"] = interval
        self.apply(obj)
        self.receiver = name

    def add_receiver(self, name: str, receiver_type: str, resources: list[dict[str, Any]],
                     events: list[str] | None = None, secret: str | None = "webhook-token",
                     **extra_spec: Any) -> None:
        self.apply(objects.receiver_object(name, self.namespace, receiver_type, resources,
                                        events, secret, extra_spec))
        self.receiver = name

    def store_token(self, secret: str, token: str | None = None,
                    extra: Mapping[str, str] | None = None,
                    labels: Mapping[str, str] | None = None) -> str:
        """Keep `token` (a new one made as the guide does if None) in the Secret `secret`."""
        token = token or senders.generate_token()
        self.put_secret(secret, {"token": token, **(extra or {})}, labels)
        self.tokens[secret] = token
        return token

    def put_secret(self, name: str, data: Mapping[str, str],
                   labels: Mapping[str, str] | None = None) -> None:
        """Create or replace a Secret in the scenario's namespace in one write; it keeps the
        labels it was first given unless `labels` says otherwise."""
        if labels is not None:
            self.secret_labels[name] = dict(labels)
        meta = client.V1ObjectMeta(name=name, namespace=self.namespace,
                                   labels=self.secret_labels.get(name) or None)
        body = client.V1Secret(metadata=meta, string_data=dict(data), type="Opaque")
        try:
            self.kube.core.create_namespaced_secret(self.namespace, body)
        except ApiException as err:
            if err.status != 409:
                raise
            self.kube.core.replace_namespaced_secret(name, self.namespace, body)
        self.secrets.add(name)

    @property
    def other_namespace(self) -> str:
        """A second namespace for the scenario, created on first use."""
        name = f"{self.namespace}-other"
        if name not in self.other_namespaces:
            self.kube.create_namespace(name)
            self.other_namespaces.append(name)
        return name

    @property
    def token(self) -> str:
        if self.tokens:
            return self.tokens.get("webhook-token") or next(iter(self.tokens.values()))
        if self.pending_token:
            return self.pending_token
        raise AssertionError("the scenario has no token yet")

    def cleanup(self, shared: bool) -> None:
        """Delete the namespaces the scenario added and, when `shared` (the target's
        namespace is shared), every object it created there, waiting until they are gone."""
        if not self.target.disposable:  # else they go with the cluster
            for namespace in self.other_namespaces:
                self.kube.delete_namespace(namespace)
        if not shared:
            return
        gone: list[tuple[str, str, str, str]] = []
        for obj in reversed(self.created):
            meta = obj["metadata"]
            key = (obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
                   or self.namespace)
            if key[3] in self.other_namespaces or key in gone:
                continue
            self._delete(*key)
            gone.append(key)
        for secret in self.secrets:
            self._delete("v1", "Secret", secret, self.namespace)
            gone.append(("v1", "Secret", secret, self.namespace))
        # Receivers carry a finalizer: a new object of the same name applied while the old
        # one is terminating would vanish with it.
        wait_until(lambda: not any(self.kube.get(*key) for key in gone), CLEANUP_TIMEOUT,
                   "the scenario's objects to be deleted")

    def _delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        try:
            self.kube.resource(api_version, kind).delete(name=name, namespace=namespace)
        except Exception as err:  # already gone is fine
            if getattr(err, "status", None) != 404:
                raise

    # -- receivers ----------------------------------------------------------------------

    def receiver_object(self, name: str | None = None) -> dict[str, Any]:
        name = name or self.receiver
        obj = objects.get_receiver(self.kube, self.namespace, name)
        if obj is None:
            raise AssertionError(f"Receiver {name} does not exist")
        self.evidence(f"Receiver {name} observed", {"status": obj.get("status")})
        return obj

    def wait_receiver(self, name: str, status: str = "True", reason: str | None = None,
                      kind: str = "Ready") -> dict[str, Any]:
        self.receiver = name
        try:
            return objects.wait_receiver_condition(self.kube, self.namespace, name, status,
                                                reason, kind)
        except AssertionError:
            self.receiver_object(name)
            if self.target.log_tail:
                self.evidence("receiver log (last lines)", self.target.log_tail())
            raise

    def patch_receiver(self, name: str, spec: Mapping[str, Any]) -> None:
        """Merge `spec` into the Receiver's spec."""
        self.kube.custom.patch_namespaced_custom_object(
            "notification.toolkit.fluxcd.io", "v1", self.namespace, "receivers", name,
            {"spec": dict(spec)},
        )
        self.receiver = name

    def next_reconcile_deadline(self, name: str | None = None) -> float:
        """Seconds by which the Receiver's next periodic reconcile is due: twice its
        spec.interval (Flux adds jitter and counts from the last reconcile) plus 10 s."""
        spec = self.receiver_object(name).get("spec") or {}
        return 2 * duration_seconds(spec.get("interval") or "10m") + 10.0

    def wait_for_path(self, path: str, name: str | None = None,
                      timeout: float = objects.READY_TIMEOUT) -> None:
        """Wait (up to `timeout` seconds) until the Receiver publishes `path`."""
        name = name or self.receiver

        def published() -> bool:
            receiver = objects.get_receiver(self.kube, self.namespace, name) or {}
            return (receiver.get("status") or {}).get("webhookPath") == path

        wait_until(published, timeout, f"Receiver {name} to publish its new path",
                   describe=lambda: objects.describe_receiver(self.kube, self.namespace, name))

    def webhook_path(self, name: str | None = None) -> str:
        path = (self.receiver_object(name).get("status") or {}).get("webhookPath")
        if not path:
            raise AssertionError(f"Receiver {name or self.receiver} has no webhookPath")
        return path

    def expected_path(self, token: str | None = None, name: str | None = None,
                      namespace: str | None = None) -> str:
        return senders.webhook_path(token or self.token, name or self.receiver,
                                    namespace or self.namespace)

    # -- requests -----------------------------------------------------------------------

    def snapshot(self) -> None:
        """Remember every source before a request: its requestedAt annotation, and its spec
        and metadata (see :func:`comparable`) to compare with afterwards."""
        self.before, self.states = {}, {}
        for key in self.sources:
            obj = self.kube.get(objects.API_VERSIONS[key[0]], key[0], key[1], key[2])
            if obj is None:
                raise LookupError(f"{key[0]} {key[2]}/{key[1]} does not exist")
            self.before[key] = (obj["metadata"].get("annotations") or {}).get(
                objects.REQUESTED_AT)
            self.states[key] = comparable(obj)

    def send(self, delivery: senders.Delivery, path: str | None = None,
             chunk_size: int | None = None) -> requests.Response:
        """Send one webhook request to the receiver, after a snapshot of the sources (its
        body in chunks of `chunk_size` bytes if given)."""
        path = path or self.webhook_path()
        self.snapshot()
        chunked = f" in chunks of {chunk_size} bytes" if chunk_size else ""
        self.evidence("request sent",
                      f"POST {senders.short_path(path)}{chunked}\n{delivery.describe()}")
        try:
            self.response = senders.send(self.target.receiver_url, path, delivery,
                                         chunk_size=chunk_size)
        except requests.RequestException as err:
            self.evidence("no answer", f"{type(err).__name__}: {err}")
            raise AssertionError(f"the receiver did not answer: {type(err).__name__}") from err
        self.evidence("response observed", {
            "status": self.response.status_code,
            "body": self.response.text[:2000],
        })
        return self.response

    def deliver(self, sender_type: str, variant: str = "valid", path: str | None = None,
                token: str | None = None, **context: Any) -> requests.Response:
        if sender_type == "gcr" and self.target.google_issuer is not None:
            context.setdefault("issuer", self.target.google_issuer)
        return self.send(senders.delivery(sender_type, variant, token or self.token,
                                          **context), path)

    def expect_status(self, status: int) -> None:
        assert self.response is not None, "no answer came (or no request was sent)"
        got = self.response.status_code
        assert got == status, f"the receiver answered {got}, expected {status}: " \
            f"{self.response.text[:200]!r}"

    # -- annotations --------------------------------------------------------------------

    def source_key(self, kind: str, name: str, namespace: str | None = None) -> SourceKey:
        return (kind, name, namespace or self.namespace)

    def wait_annotated(self, key: SourceKey) -> str:
        """Wait until the source carries a requestedAt different from the snapshot."""
        old = self.before.get(key)

        def changed() -> str | None:
            value = objects.requested_at(self.kube, *key)
            return value if value and value != old else None

        try:
            return wait_until(changed, ANNOTATION_TIMEOUT,
                              f"{key[0]} {key[2]}/{key[1]} to get a new requestedAt")
        except AssertionError:
            self.evidence(f"{key[0]} {key[1]} annotations observed",
                          objects.annotations(self.kube, *key))
            raise

    def changed_besides_request(self, key: SourceKey) -> dict[str, tuple[Any, Any]]:
        """What changed on a source since the last snapshot, but for its requestedAt
        annotation and the server's bookkeeping: {field: (before, after)}."""
        before = self.states.get(key)
        assert before is not None, f"{key[0]} {key[1]} was not snapshot before the request"
        obj = self.kube.get(objects.API_VERSIONS[key[0]], key[0], key[1], key[2])
        assert obj is not None, f"{key[0]} {key[2]}/{key[1]} is gone"
        after = comparable(obj)
        fields = sorted(set(before) | set(after))
        diff = {f: (before.get(f), after.get(f)) for f in fields
                if before.get(f) != after.get(f)}
        if diff:
            self.evidence(f"{key[0]} {key[1]} changed besides requestedAt", diff)
        return diff

    def changed_sources(self, quiet_period: float = QUIET_PERIOD,
                        only: list[SourceKey] | None = None) -> list[SourceKey]:
        """Sources (all of the scenario's, or `only`) whose requestedAt differs from before
        the last request, watched for `quiet_period` seconds after the answer (a refused
        request must change none; a source a request must leave alone stays untouched)."""
        deadline = time.monotonic() + quiet_period
        watched = self.sources if only is None else only
        while True:
            changed = [key for key in watched
                       if objects.requested_at(self.kube, *key) != self.before.get(key)]
            if changed or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if changed:
            self.evidence("annotated although refused",
                          {f"{k[0]} {k[2]}/{k[1]}": objects.requested_at(self.kube, *k)
                           for k in changed})
        return changed


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A Receiver's `spec.interval` ("5s", "1m30s", "500ms") in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration like 5s, 1m30s or 500ms")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A source's spec and metadata as {field: value}, without what a receiver's request
    legitimately changes (the requestedAt annotation) or the API server keeps by itself
    (resourceVersion, managedFields). Status belongs to the source controller."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k not in VOLATILE_METADATA}
    annotations = dict(meta.pop("annotations", None) or {})
    annotations.pop(objects.REQUESTED_AT, None)
    state = {f"metadata.{k}": v for k, v in meta.items()}
    state["metadata.annotations"] = annotations
    state["spec"] = obj.get("spec")
    return state
