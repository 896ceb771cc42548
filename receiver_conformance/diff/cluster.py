"""The shared control plane as the diff sees it: set up sides, deploy, observe, send."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from receiver_conformance.diff.model import Answer, Built, ReceiverSpec, ReceiverState
from receiver_conformance.diff.world import (
    LABEL,
    NOTIFICATION,
    SOURCES,
    Side,
    expected_path,
    receiver_manifest,
    secrets,
    sources,
)
from receiver_conformance.kube import Kube

ANNOTATION = "reconcile.fluxcd.io/requestedAt"
SETTLE_TIMEOUT = 20.0
NOT_SETTLED = ReceiverState(conditions=(("Timeout", "Unknown", "NotSettled"),), path="absent")
PLURALS = {"GitRepository": ("source.toolkit.fluxcd.io", "v1", "gitrepositories"),
           "OCIRepository": ("source.toolkit.fluxcd.io", "v1", "ocirepositories"),
           "HelmRepository": ("source.toolkit.fluxcd.io", "v1", "helmrepositories"),
           "Kustomization": ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")}
SOURCE_KINDS = sorted({kind for kind, *_ in SOURCES})


class Rejected(Exception):
    """The API server refused the Receiver (the CRD's validation): nothing to compare."""


class Cluster:
    """Both sides' objects on one API server."""

    def __init__(self, api: client.ApiClient, sides: Iterable[Side]) -> None:
        self.kube = Kube(api)
        self.sides = tuple(sides)
        self._http = {side.name: requests.Session() for side in self.sides}

    # -- set-up --------------------------------------------------------------------------

    def create_namespaces(self) -> None:
        for side in self.sides:
            for ns in (side.namespace, side.other_namespace):
                self.kube.create_namespace(ns, {LABEL: "1"})

    def populate(self) -> None:
        """Secrets and sources, identical on both sides."""
        for side in self.sides:
            self.kube.apply_all(secrets(side) + sources(side))

    def delete_namespaces(self) -> None:
        for side in self.sides:
            for ns in (side.namespace, side.other_namespace):
                self.kube.delete_namespace(ns)

    # -- Receivers -----------------------------------------------------------------------

    def deploy(self, name: str, spec: ReceiverSpec) -> None:
        """Create the Receiver on every side; Rejected when the API server refuses it."""
        for side in self.sides:
            manifest = receiver_manifest(side, name, spec)
            try:
                self.kube.custom.create_namespaced_custom_object(
                    "notification.toolkit.fluxcd.io", "v1", side.namespace, "receivers",
                    manifest)
            except ApiException as err:
                if err.status == 422:
                    raise Rejected(_message(err)) from None
                raise

    def settle(self, name: str, spec: ReceiverSpec) -> dict[str, tuple[ReceiverState, str]]:
        """Wait until every side has settled the Receiver; its state and path per side."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        states: dict[str, tuple[ReceiverState, str]] = {}
        pending = list(self.sides)
        while pending and time.monotonic() < deadline:
            for side in list(pending):
                obj = self._receiver(side, name)
                if obj is not None and _settled(obj):
                    states[side.name] = (_state(obj, expected_path(side, name, spec)),
                                         (obj.get("status") or {}).get("webhookPath", ""))
                    pending.remove(side)
            if pending:
                time.sleep(0.02)
        time.sleep(0.1)  # Flux writes conditions and the rest of the status in two patches
        for side in self.sides:
            obj = self._receiver(side, name)
            if side not in pending and obj is not None:
                states[side.name] = (_state(obj, expected_path(side, name, spec)),
                                     (obj.get("status") or {}).get("webhookPath", ""))
            else:
                states[side.name] = (NOT_SETTLED, "")
        return states

    def suspend(self, name: str) -> None:
        for side in self.sides:
            self.kube.custom.patch_namespaced_custom_object(
                "notification.toolkit.fluxcd.io", "v1", side.namespace, "receivers", name,
                {"spec": {"suspend": True}})

    def _receiver(self, side: Side, name: str) -> dict[str, Any] | None:
        try:
            return self.kube.custom.get_namespaced_custom_object(
                "notification.toolkit.fluxcd.io", "v1", side.namespace, "receivers", name)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def delete_receiver(self, name: str) -> None:
        for side in self.sides:
            try:
                self.kube.custom.delete_namespaced_custom_object(
                    "notification.toolkit.fluxcd.io", "v1", side.namespace, "receivers", name)
            except ApiException as err:
                if err.status != 404:
                    raise

    # -- requests ------------------------------------------------------------------------

    def snapshot(self) -> dict[tuple[str, str], str]:
        """`(side, "Kind role/name")` -> requestedAt, for every source of every side."""
        out: dict[tuple[str, str], str] = {}
        for kind in SOURCE_KINDS:
            group, version, plural = PLURALS[kind]
            resp = self.kube.custom.list_cluster_custom_object(
                group, version, plural, label_selector=LABEL, _preload_content=False)
            for item in json.loads(resp.data)["items"]:
                meta = item["metadata"]
                for side in self.sides:
                    role = side.role_of(meta["namespace"])
                    if role:
                        key = f"{kind} {role}/{meta['name']}"
                        out[(side.name, key)] = (meta.get("annotations") or {}).get(ANNOTATION, "")
        return out

    def send(self, side: Side, base_url: str, built: Built) -> int:
        """POST the request; its status, or 0 when the connection failed."""
        try:
            resp = self._http[side.name].post(base_url + built.path, data=built.body,
                                              headers=dict(built.headers), timeout=30)
        except requests.RequestException:
            self._http[side.name] = requests.Session()
            return 0
        return resp.status_code


def annotated(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str],
              side: str) -> frozenset[str]:
    return frozenset(key for (s, key), value in after.items()
                     if s == side and value != before.get((s, key), ""))


def answer(status: int, before: dict, after: dict, side: str) -> Answer:
    return Answer(status=status, annotated=annotated(before, after, side))


def _settled(obj: dict[str, Any]) -> bool:
    """Ready is decided (not Progressing) and, when True, the webhook path is written."""
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    if ready is None or ready.get("reason") in ("Progressing", "ProgressingWithRetry"):
        return False
    if ready.get("status") == "True":
        return bool(status.get("webhookPath"))
    return True


def _state(obj: dict[str, Any], expected: str | None) -> ReceiverState:
    status = obj.get("status") or {}
    conditions = tuple(sorted((c.get("type", ""), c.get("status", ""), c.get("reason", ""))
                              for c in status.get("conditions") or ()))
    path = status.get("webhookPath") or ""
    judged = "absent" if not path else ("derived" if path == expected else "wrong")
    return ReceiverState(conditions=conditions, path=judged)


def _message(err: ApiException) -> str:
    try:
        return json.loads(err.body).get("message", str(err.status))
    except (ValueError, TypeError, AttributeError):
        return str(err.status)


__all__ = ["NOTIFICATION", "Cluster", "Rejected", "annotated", "answer"]
