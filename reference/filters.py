"""CEL resource filters: boolean expressions over `res` (object metadata) and `req` (body)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import celpy
from celpy import celtypes
from lark import Token, Tree

VARIABLES = frozenset({"res", "req"})
# Macros whose first argument binds a new variable inside the expression.
_BINDING_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"}
)

_ENV = celpy.Environment()


class FilterError(Exception):
    """An expression does not compile, or does not evaluate to a boolean."""


class Filter:
    """One compiled expression."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        try:
            ast = _ENV.compile(expression)
        except Exception as exc:  # celpy raises CELParseError and lark errors
            raise FilterError(f"failed to parse expression {expression!r}: {exc}") from None
        unknown = _undeclared(ast)
        if unknown:
            raise FilterError(f"undeclared reference to {sorted(unknown)[0]!r}")
        self._program = _ENV.program(ast)

    def __call__(self, res: Mapping[str, Any], req: Any) -> bool:
        try:
            result = self._program.evaluate(
                {"res": celpy.json_to_cel(res), "req": celpy.json_to_cel(req)}
            )
        except Exception as exc:
            raise FilterError(f"failed to evaluate {self.expression!r}: {exc}") from None
        if not isinstance(result, celtypes.BoolType):
            raise FilterError(f"expression {self.expression!r} did not return a boolean")
        return bool(result)


def compile_filter(expression: str) -> Filter:
    """Compile an expression, raising FilterError when it is invalid."""
    return Filter(expression)


def _undeclared(ast: Tree) -> set[str]:
    """Identifiers that are neither `res`/`req`, macro-bound variables nor type names."""
    bound: set[str] = set()
    for node in ast.iter_subtrees():
        if node.data != "member_dot_arg" or len(node.children) < 3:
            continue
        method, args = node.children[1], node.children[2]
        if isinstance(method, Token) and str(method) in _BINDING_MACROS:
            first = next(iter(_idents(args.children[0]) if args.children else ()), None)
            if first:
                bound.add(first)
    used = set(_idents(ast))
    return used - VARIABLES - bound - _TYPE_NAMES


def _idents(tree: Tree) -> list[str]:
    names = []
    for node in tree.iter_subtrees():
        if node.data == "ident":
            names.extend(str(c) for c in node.children if isinstance(c, Token))
    return names
