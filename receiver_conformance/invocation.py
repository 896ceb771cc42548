"""The one way to start pytest on the scenarios: from the installed package, configured
explicitly, whatever the current directory holds."""

from __future__ import annotations

import sys
from pathlib import Path

from receiver_conformance.paths import PACKAGE, STEPS

SUITE_INI = PACKAGE / "suite.ini"


def pytest_argv(steps: Path = STEPS) -> list[str]:
    """`python -m pytest` on `steps` with the suite's own configuration file and root
    directory, no cache written beside the package, and pytest-asyncio left out (the
    scenarios are synchronous; the reference's unit tests are not part of a run)."""
    return [sys.executable, "-m", "pytest", "-c", str(SUITE_INI), "--rootdir", str(PACKAGE),
            "-p", "no:cacheprovider", "-p", "no:asyncio", str(steps)]
