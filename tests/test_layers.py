"""The package's layers (pyproject.toml, [tool.importlinter]) hold, and cover every module."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from receiver_conformance.paths import PACKAGE
from tests.checkout import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> list[dict[str, object]]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["importlinter"]["contracts"]


def test_every_module_is_in_a_layer_or_is_the_reference() -> None:
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    listed = {name.strip() for layer in layers for name in str(layer).split("|")}
    modules = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.stem != "__init__")
               or (p.is_dir() and (p / "__init__.py").exists())}
    assert modules - listed == {"reference"}
    assert listed - modules == set()


def test_the_reference_is_forbidden_everything_else() -> None:
    (forbidden,) = [c for c in contracts()
                    if c.get("source_modules") == ["receiver_conformance.reference"]]
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    listed = {f"receiver_conformance.{name.strip()}" for layer in layers
              for name in str(layer).split("|")}
    assert set(forbidden["forbidden_modules"]) == listed


@pytest.mark.skipif(not LINT_IMPORTS.exists() and shutil.which("lint-imports") is None,
                    reason="import-linter is not installed (pip install -e '.[test]')")
def test_the_contracts_are_kept() -> None:
    done = subprocess.run([str(LINT_IMPORTS) if LINT_IMPORTS.exists() else "lint-imports"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
