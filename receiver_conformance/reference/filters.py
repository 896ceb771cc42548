"""CEL resource filters: boolean expressions over `res` (object metadata) and `req` (body).

The environment is Flux's (fluxcd/pkg runtime/cel): `res` and `req` are
`google.protobuf.Struct`, with cel-go's optional types (`.last().value()`, `.?field`,
`orValue`), the strings extension (`split`, `lowerAscii`, `replace`, `format`, ...), the
sets extension (`sets.contains`, `sets.equivalent`, `sets.intersects`) and the encoders
(`base64.encode`, `base64.decode`). The expression is type-checked when compiled and its
output type must be bool: `'test'` and `req.flag` (dyn) are refused, as Flux refuses them.
Evaluation runs on Google's C++ CEL runtime (cel-expr-python).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_encoders, ext_optional, ext_strings

VARIABLES = ("res", "req")
_STRUCT = cel.Type("google.protobuf.Struct")
_ANY_LIST = cel.Type.List(cel.Type.DYN)


class FilterError(Exception):
    """An expression does not compile, is not boolean, or fails to evaluate."""


def _sets() -> cel.CelExtension:
    """cel-go's sets extension: the runtime has the functions, the checker needs them."""
    return cel.CelExtension("sets", [
        cel.FunctionDecl(f"sets.{name}", [
            cel.Overload(f"list_sets_{name}_list", cel.Type.BOOL, [_ANY_LIST, _ANY_LIST]),
        ])
        for name in ("contains", "equivalent", "intersects")
    ])


def new_env(variables: tuple[str, ...]) -> cel.Env:
    """Flux's CEL environment with these Struct variables."""
    return cel.NewEnv(
        variables=dict.fromkeys(variables, _STRUCT),
        extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional(),
                    ext_encoders.ExtEncoders(), _sets()],
    )


_ENV = new_env(VARIABLES)
# generic-oidc Receivers: their filters also see the verified token's `claims`.
_CLAIMS_ENV = new_env((*VARIABLES, "claims"))


class Filter:
    """One compiled, type-checked expression whose output type is bool."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        try:
            self._program = self._env().compile(expression)
        except Exception as exc:  # the runtime raises ValueError-like status errors
            raise FilterError(
                f"failed to parse the CEL expression {expression!r}: {_first_line(exc)}"
            ) from None
        output = self._program.return_type()
        if output != cel.Type.BOOL:
            raise FilterError(
                f"CEL expression output type mismatch: expected bool, got {output.name().lower()}"
            )

    @staticmethod
    def _env() -> cel.Env:
        return _ENV

    def __call__(self, res: Mapping[str, Any], req: Mapping[str, Any] | None,
                 claims: Mapping[str, Any] | None = None) -> bool:
        data = {"res": as_json(res), "req": as_json(req or {})}
        if claims is not None:
            data["claims"] = as_json(claims)
        try:
            result = self._program.eval(data=data)
        except Exception as exc:
            raise FilterError(
                f"failed to evaluate the CEL expression {self.expression!r}: {_first_line(exc)}"
            ) from None
        value = result.value()
        if result.type() != cel.Type.BOOL or not isinstance(value, bool):
            raise FilterError(
                f"failed to evaluate the CEL expression {self.expression!r}: {value}"
            )
        return value


class ClaimsFilter(Filter):
    """A filter of a generic-oidc Receiver: `claims` is declared beside `res` and `req`."""

    @staticmethod
    def _env() -> cel.Env:
        return _CLAIMS_ENV


def compile_filter(expression: str, claims: bool = False) -> Filter:
    """Compile an expression, raising FilterError when Flux would call it invalid.

    `claims` declares the verified OIDC token claims, as Flux does for generic-oidc."""
    return ClaimsFilter(expression) if claims else Filter(expression)


def as_json(value: Any) -> Any:
    """`value` as Go's encoding/json decodes it into `any`: every number a float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return str(value)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
