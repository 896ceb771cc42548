"""What a reconcile makes of a Receiver and its Secret: the new status, and when to come back.

Pure functions, no I/O: the controller fetches the objects and writes the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import api, oidc_claims, redact
from .filters import FilterError, compile_filter

TERMINAL_PREFIX = "Reconciliation failed terminally due to configuration error"


@dataclass(frozen=True)
class Outcome:
    """The status to write and what the controller does next."""

    status: dict[str, Any]
    requeue_after: float | None  # seconds until the next reconcile, None for never
    retry: bool = False  # the reconcile failed: retry with backoff
    message: str = ""


def config_error(receiver: api.Receiver) -> tuple[str, str] | None:
    """(reason, message) when the spec cannot work whatever the Secret holds, else None."""
    oidc = receiver.type == api.GENERIC_OIDC
    if receiver.resource_filter:
        try:
            compile_filter(receiver.resource_filter, claims=oidc)
        except FilterError as exc:
            return api.INVALID_CEL_EXPRESSION, f"invalid resourceFilter expression: {exc}"
    for i, res in enumerate(receiver.resources):
        if not res.filter:
            continue
        try:
            compile_filter(res.filter, claims=oidc)
        except FilterError as exc:
            return api.INVALID_CEL_EXPRESSION, (
                f"invalid filter expression for resources[{i}] "
                f"(kind={res.kind!r}, name={res.name!r}): {exc}"
            )
    if oidc and not receiver.has_oidc_providers:
        return api.VALIDATION_FAILED, "generic-oidc receiver requires at least one oidcProvider"
    if not oidc and receiver.has_oidc_providers:
        return api.VALIDATION_FAILED, "oidcProviders can only be set when type is generic-oidc"
    if oidc and receiver.secret_name:
        return api.VALIDATION_FAILED, "secretRef cannot be set when type is generic-oidc"
    if not oidc and not receiver.secret_name:
        return api.VALIDATION_FAILED, "secretRef is required when type is not generic-oidc"
    invalid = oidc_claims.check_providers(receiver.oidc_providers)
    if invalid:
        return api.VALIDATION_FAILED, invalid
    invalid = oidc_claims.compile_providers(receiver.oidc_providers)
    if invalid:
        return api.INVALID_CEL_EXPRESSION, invalid
    return None


def token_of(receiver: api.Receiver, secret: Mapping[str, bytes] | None) -> bytes | str:
    """The token, or a message (str) saying why there is none.

    generic-oidc Receivers have no Secret: their token is empty, as Flux's."""
    if receiver.type == api.GENERIC_OIDC:
        return b""
    ref = f"{receiver.namespace}/{receiver.secret_name}"
    if secret is None:
        return (
            f"unable to read token from secret '{ref}' error: "
            f'secrets "{receiver.secret_name}" not found'
        )
    if api.TOKEN_KEY not in secret:
        return f"invalid '{ref}' secret data: required fields 'token'"
    return secret[api.TOKEN_KEY]


def reconcile(receiver: api.Receiver, secret: Mapping[str, bytes] | None, now: str) -> Outcome:
    """Compute the status of a Receiver that is neither suspended nor being deleted.

    `secret` is the data of the referenced Secret (None when it does not exist), `now`
    the RFC 3339 time used for conditions whose status changes.
    """
    conditions = _Conditions(receiver, now)
    status = dict(receiver.status)
    problem = config_error(receiver)
    if problem:
        reason, detail = problem
        message = f"{TERMINAL_PREFIX}: {detail}"
        conditions.set(api.READY, "False", reason, message)
        conditions.delete(api.RECONCILING)
        conditions.set(api.STALLED, "True", reason, message)
        status["observedGeneration"] = receiver.generation
        return _finish(receiver, status, conditions, None, message=message)

    conditions.delete(api.STALLED)
    conditions.set(api.RECONCILING, "True", api.PROGRESSING, "Reconciliation in progress")
    token = token_of(receiver, secret)
    if isinstance(token, str):
        conditions.set(api.READY, "False", api.TOKEN_NOT_FOUND, token)
        conditions.set(
            api.RECONCILING, "True", api.PROGRESSING_WITH_RETRY, "Reconciliation in progress"
        )
        status.pop("webhookPath", None)
        return _finish(receiver, status, conditions, None, retry=True, message=token)

    path = api.webhook_path(token, receiver.name, receiver.namespace)
    redact.register_token(token)
    redact.register_path(path)
    message = f"Receiver initialized for path: {path}"
    conditions.set(api.READY, "True", api.SUCCEEDED, message)
    conditions.delete(api.RECONCILING)
    status["webhookPath"] = path
    status["observedGeneration"] = receiver.generation
    return _finish(receiver, status, conditions, receiver.interval, message=message)


def _finish(
    receiver: api.Receiver,
    status: dict[str, Any],
    conditions: _Conditions,
    requeue_after: float | None,
    *,
    retry: bool = False,
    message: str = "",
) -> Outcome:
    status["conditions"] = conditions.items
    requested = receiver.annotations.get(api.RECONCILE_ANNOTATION)
    if requested:
        status["lastHandledReconcileAt"] = requested
    return Outcome(status=status, requeue_after=requeue_after, retry=retry, message=message)


class _Conditions:
    """The status conditions being edited; a transition time moves only when status does."""

    def __init__(self, receiver: api.Receiver, now: str) -> None:
        self._generation = receiver.generation
        self._now = now
        self.items: list[dict[str, Any]] = [
            dict(c) for c in receiver.status.get("conditions") or () if isinstance(c, Mapping)
        ]

    def set(self, type_: str, status: str, reason: str, message: str) -> None:
        old = next((c for c in self.items if c.get("type") == type_), None)
        changed = old is None or old.get("status") != status
        new = {
            "type": type_,
            "status": status,
            "observedGeneration": self._generation,
            "lastTransitionTime": self._now if changed else old.get("lastTransitionTime"),
            "reason": reason,
            "message": message,
        }
        if old is None:
            self.items.append(new)
        else:
            self.items[self.items.index(old)] = new
        self.items.sort(key=_condition_order)

    def delete(self, type_: str) -> None:
        self.items = [c for c in self.items if c.get("type") != type_]


def _condition_order(cond: Mapping[str, Any]) -> int:
    # Flux keeps Ready first, then the negative-polarity conditions.
    order = {api.READY: 0, api.RECONCILING: 1, api.STALLED: 2}
    return order.get(str(cond.get("type")), 3)
