"""A broken receiver as a child process: ReferenceReceiver with `python -m tests.broken`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from receiver_conformance.reference_process import ReferenceReceiver
from tests.broken.flaws import FLAWS

_REFERENCE = [sys.executable, "-m", "receiver_conformance.reference"]


class BrokenReceiver(ReferenceReceiver):
    """The reference receiver with one flaw, started and stopped as ReferenceReceiver is.

    `tests` is not an installed package: start it from the repository root.
    """

    def __init__(self, kubeconfig: Path, flaw: str, extra_args: Sequence[str] = ()) -> None:
        if flaw not in FLAWS:
            raise ValueError(f"unknown flaw {flaw!r}; flaws: {', '.join(FLAWS)}")
        super().__init__(kubeconfig, extra_args)
        self.flaw = flaw

    def argv(self) -> list[str]:
        argv = super().argv()
        assert argv[:3] == _REFERENCE, f"ReferenceReceiver.argv() changed: {argv[:3]}"
        return [sys.executable, "-m", "tests.broken", self.flaw, "--", *argv[3:]]
