"""CEL over a verified OIDC token: an OIDC provider's `variables`, then its `validations`.

As Flux's oidcClaimsProcessor: every expression sees `claims` (the token's claims) and `vars`
(the variables evaluated so far, in order); a validation must type-check to bool. All
validations are evaluated and the messages of those that are false are joined with "; ".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import api
from .filters import as_json, cel, new_env

_ENV = new_env(("claims", "vars"))


class ClaimsError(Exception):
    """An expression does not compile, fails to evaluate, or a validation is false."""


@dataclass(frozen=True)
class _Compiled:
    label: str  # the variable's name or the validation's message
    program: Any


def _compile(expression: str, boolean: bool, what: str) -> Any:
    try:
        program = _ENV.compile(expression)
    except Exception as exc:
        raise ClaimsError(f"invalid expression for {what}: {_first_line(exc)}") from None
    if boolean and program.return_type() != cel.Type.BOOL:
        got = program.return_type().name().lower()
        raise ClaimsError(f"invalid expression for {what}: output type mismatch: "
                          f"expected bool, got {got}")
    return program


class ClaimsProcessor:
    """The compiled variables and validations of one OIDC provider."""

    def __init__(self, provider: api.OIDCProvider) -> None:
        self.variables = [
            _Compiled(v.name, _compile(v.expression, False, f"variable {v.name!r}"))
            for v in provider.variables
        ]
        self.validations = [
            _Compiled(v.message, _compile(v.expression, True, f"validation {v.message!r}"))
            for v in provider.validations
        ]

    def evaluate(self, claims: Mapping[str, Any]) -> None:
        """Raise ClaimsError unless every validation holds for `claims`."""
        variables: dict[str, Any] = {}
        data = {"claims": as_json(claims), "vars": variables}
        for variable in self.variables:
            try:
                variables[variable.label] = variable.program.eval(data=data).plain_value()
            except Exception as exc:
                raise ClaimsError(f"failed to evaluate variable {variable.label!r}: "
                                  f"{_first_line(exc)}") from None
        failures = []
        for validation in self.validations:
            try:
                result = validation.program.eval(data=data)
            except Exception as exc:
                raise ClaimsError(f"failed to evaluate validation: {_first_line(exc)}") from None
            if result.type() != cel.Type.BOOL:  # an error value, e.g. a missing claim
                raise ClaimsError(f"failed to evaluate validation: {result.value()}")
            if result.value() is not True:
                failures.append(validation.label)
        if failures:
            raise ClaimsError(f"token validation failed: {'; '.join(failures)}")


def check_providers(providers: tuple[api.OIDCProvider, ...]) -> str | None:
    """Why the providers' spec is invalid (Flux's ValidateOIDCProvidersSpec), else None."""
    seen: set[str] = set()
    for i, p in enumerate(providers):
        where = f"oidcProviders[{i}] (issuerURL={p.issuer_url!r})"
        if not p.issuer_url:
            return f"oidcProviders[{i}]: issuerURL is required"
        if not p.issuer_url.startswith(("http://", "https://")):
            return f"oidcProviders[{i}]: issuerURL {p.issuer_url!r} must start with http:// " \
                "or https://"
        if p.issuer_url in seen:
            return f"oidcProviders[{i}]: duplicate issuerURL {p.issuer_url!r}"
        seen.add(p.issuer_url)
        if not p.validations:
            return f"{where}: at least one validation is required"
        for j, v in enumerate(p.variables):
            if not v.name or not v.expression:
                return f"{where}: variables[{j}]: name and expression are required"
        for j, w in enumerate(p.validations):
            if not w.expression or not w.message:
                return f"{where}: validations[{j}]: expression and message are required"
    return None


def compile_providers(providers: tuple[api.OIDCProvider, ...]) -> str | None:
    """Why an expression of the providers does not compile, else None."""
    for i, p in enumerate(providers):
        try:
            ClaimsProcessor(p)
        except ClaimsError as exc:
            return f"oidcProviders[{i}] (issuerURL={p.issuer_url!r}): {exc}"
    return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
