"""`python -m tests.broken <flaw> -- <reference receiver args>`: a deliberately flawed receiver."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tests.broken.flaws import FLAWS

USAGE = "usage: python -m tests.broken <flaw> -- <reference receiver args>"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in FLAWS:
        given = f"unknown flaw {args[0]!r}; " if args else ""
        print(f"{USAGE}\n{given}flaws: {', '.join(FLAWS)}", file=sys.stderr)
        return 2
    flaw, rest = FLAWS[args[0]], args[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    flaw.apply()
    print(f"tests.broken: deliberately non-conformant: {flaw.description}", file=sys.stderr)

    from receiver_conformance.reference.__main__ import main as reference_main

    return reference_main(rest)


if __name__ == "__main__":
    sys.exit(main())
