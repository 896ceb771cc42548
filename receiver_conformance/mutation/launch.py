"""`python -m receiver_conformance.mutation.launch SRC -- ARGS`: the reference receiver
loaded from SRC.

SRC/reference holds a (mutated) copy of the package's `reference`; it is bound to the name
`receiver_conformance.reference` before anything imports it, so the copy is what runs, while
the rest of the package comes from where it is installed. The reference imports its own
modules relatively, so every one of them comes from the copy.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path

USAGE = "usage: python -m receiver_conformance.mutation.launch SRC -- <reference receiver args>"
REFERENCE = "receiver_conformance.reference"


def bind_copy(src: Path) -> None:
    """Make SRC/reference the package `receiver_conformance.reference`."""
    if REFERENCE in sys.modules:
        raise RuntimeError("the reference was imported before its copy could be chosen")
    package = src / "reference"
    spec = importlib.util.spec_from_file_location(
        REFERENCE, package / "__init__.py", submodule_search_locations=[str(package)])
    if spec is None or spec.loader is None:
        raise RuntimeError(f"no package at {package}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[REFERENCE] = module
    spec.loader.exec_module(module)


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    src, rest = Path(argv[0]), argv[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    bind_copy(src)
    sys.argv = ["reference-receiver", *rest]
    runpy.run_module(REFERENCE, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
