"""The reference receiver as a child process, started exactly as a user would start it."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from receiver_conformance.controlplane.processes import Child, free_port


class ReferenceReceiverError(Exception):
    """The receiver did not become ready; the message ends with its last log lines."""


class ReferenceReceiver:
    """`python -m receiver_conformance.reference` against a kubeconfig, on free local ports.

    Use as a context manager: entering waits for /readyz (the controller's first
    listings done), leaving stops the process (SIGTERM, then SIGKILL).
    """

    def __init__(
        self,
        kubeconfig: Path,
        extra_args: Sequence[str] = (),
        *,
        ready_timeout: float = 60.0,
        log_dir: Path | None = None,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.log_dir = log_dir
        self.receiver_port = free_port()
        self.health_port = free_port()
        self.metrics_port = free_port()
        self._child: Child | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def log_path(self) -> Path | None:
        """The file the running receiver logs to."""
        return self._child.log_path if self._child else None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "receiver_conformance.reference",
            "--kubeconfig", str(self.kubeconfig),
            "--receiver-addr", f"127.0.0.1:{self.receiver_port}",
            "--health-addr", f"127.0.0.1:{self.health_port}",
            "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
            *self.extra_args,
        ]

    def start(self) -> ReferenceReceiver:
        log_dir = self.log_dir
        if log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="reference-receiver-")
            log_dir = Path(self._tmp.name)
        self._child = Child("reference-receiver", self.argv(), log_dir / "receiver.log")
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def running(self) -> bool:
        return self._child is not None and self._child.running()

    def log_tail(self, lines: int = 50) -> str:
        return self._child.log_tail(lines) if self._child else ""

    def __enter__(self) -> ReferenceReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._child is not None
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self._child.running():
                raise ReferenceReceiverError(
                    f"the reference receiver exited with {self._child.popen.returncode}:\n"
                    + self.log_tail(50)
                )
            try:
                resp = requests.get(f"{self.health_url}/readyz", timeout=2)
                if resp.status_code == 200:
                    return
                last = f"{resp.status_code} {resp.text.strip()}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise ReferenceReceiverError(
            f"the reference receiver was not ready within {self.ready_timeout}s ({last}):\n"
            + self.log_tail(50)
        )
