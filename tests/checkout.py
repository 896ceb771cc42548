"""The source checkout the tests run in (tests are not part of the installed package)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
