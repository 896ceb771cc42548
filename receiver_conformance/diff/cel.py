"""A small CEL grammar for `resourceFilter` and per-resource `filter` expressions.

Atoms read `res` (the resource's metadata) or `req` (the decoded body), a few use cel-go's
extension libraries (strings, optionals); combinators are `!`, `&&`, `||`. Some expressions
are invalid on purpose: a syntax error, an undeclared variable, a non-bool result.
"""

from __future__ import annotations

from hypothesis import strategies as st

RES_ATOMS = (
    "res.metadata.name == 'app'",
    "res.metadata.name.startsWith('in')",
    "'team' in res.metadata.labels",
    "res.metadata.labels.team == 'a'",
    "res.metadata.namespace.endsWith('-other')",
    "res.kind == 'GitRepository'",
    "has(res.metadata.annotations)",
)
REQ_ATOMS = (
    "has(req.ref)",
    "req.ref == 'refs/heads/main'",
    "req.ref.endsWith('/main')",
    "size(req) == 0",
    "'repository' in req",
    "req.status == 'succeeded'",
    "req.revision.split('@').last().value() != ''",
    "req.source.lowerAscii().contains('example')",
)
CONSTANTS = ("true", "false")
INVALID = (
    "res.metadata.name ==",
    "'test'",
    "unknown == 1",
    "res.metadata.name + 1",
    "req.ref.nosuch()",
)


def atoms() -> st.SearchStrategy[str]:
    return st.sampled_from(CONSTANTS + RES_ATOMS + REQ_ATOMS)


def expressions(invalid: bool = True) -> st.SearchStrategy[str]:
    """A boolean expression of depth at most two; with `invalid`, sometimes a broken one."""
    def combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            inner,
            inner.map(lambda e: f"!({e})"),
            st.tuples(inner, st.sampled_from(("&&", "||")), inner)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        )

    valid = st.recursive(atoms(), combine, max_leaves=3)
    if not invalid:
        return valid
    return st.one_of(valid, valid, valid, valid, st.sampled_from(INVALID))  # 1 in 5 broken
