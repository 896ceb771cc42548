"""`python -m harness.mutation.launch SRC -- ARGS`: the reference receiver loaded from SRC.

SRC holds a (mutated) copy of the `reference` package; it goes first on sys.path, so the
copy is what runs, whatever is installed.
"""

from __future__ import annotations

import runpy
import sys

USAGE = "usage: python -m harness.mutation.launch SRC -- <reference receiver args>"


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    src, rest = argv[0], argv[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if "reference" in sys.modules:
        raise RuntimeError("reference was imported before its copy could be chosen")
    sys.path.insert(0, src)
    sys.argv = ["reference", *rest]
    runpy.run_module("reference", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
