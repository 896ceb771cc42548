"""A fake `go` command for the build and download tests: no network, no compiler.

It answers the few Go commands `receiver_conformance.gobuild` runs, from a JSON plan, and records every
call:
- `go mod download -json M@V`: `{"Dir": ...}` from `modules`, or `{"Error": ...}` when the
  module is not in the plan;
- `go mod edit -json`: the `Replace` list from `replaces`; `go mod edit -dropreplace=...`:
  recorded only;
- `go build ... -o OUT PKG`: writes an executable OUT, or fails with `build_error`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = """#!{python}
import json, os, sys
here = {here!r}
argv = sys.argv[1:]
with open(os.path.join(here, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps({{"argv": argv, "cwd": os.getcwd()}}) + "\\n")
plan = json.load(open(os.path.join(here, "plan.json")))
if argv[:3] == ["mod", "download", "-json"]:
    wanted = argv[3]
    if wanted in plan["modules"]:
        print(json.dumps({{"Path": wanted.split("@")[0], "Dir": plan["modules"][wanted]}}))
        sys.exit(0)
    print(json.dumps({{"Path": wanted, "Error": "module " + wanted + ": not found"}}))
    sys.exit(1)
if argv[:3] == ["mod", "edit", "-json"]:
    print(json.dumps({{"Module": {{"Path": "fake"}}, "Replace": plan["replaces"]}}))
    sys.exit(0)
if argv[:2] == ["mod", "edit"]:
    sys.exit(0)
if argv[0] == "build":
    if plan["build_error"]:
        print(plan["build_error"], file=sys.stderr)
        sys.exit(1)
    out = argv[argv.index("-o") + 1]
    with open(out, "w") as binary:
        binary.write("#!/bin/sh\\necho built\\n")
    os.chmod(out, 0o755)
    sys.exit(0)
print("fake go: unexpected command " + " ".join(argv), file=sys.stderr)
sys.exit(2)
"""


@dataclass
class FakeGo:
    """A `go` script in `directory`, driven by `modules` (module@version -> directory)."""

    directory: Path
    modules: dict[str, str] = field(default_factory=dict)
    replaces: list[dict[str, Any]] = field(default_factory=list)
    build_error: str = ""

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path.write_text(SCRIPT.format(python=sys.executable, here=str(self.directory)))
        self.path.chmod(0o755)
        self.save()

    @property
    def path(self) -> Path:
        return self.directory / "go"

    def save(self) -> None:
        """Write the plan; call again after changing a field."""
        plan = {"modules": self.modules, "replaces": self.replaces,
                "build_error": self.build_error}
        (self.directory / "plan.json").write_text(json.dumps(plan))

    def calls(self) -> list[list[str]]:
        """The argv of every call so far, in order."""
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def cache_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose cache is under tmp_path and whose PATH has no `go`."""
    return {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
            "PATH": str(tmp_path / "empty-bin")}
