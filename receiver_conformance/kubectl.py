"""Running the guide's kubectl commands as written, against a target's cluster."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path


class KubectlFailed(AssertionError):
    """kubectl exited non-zero; the message carries its stderr."""


def kubectl(binary: Path, kubeconfig: Path, command: str, namespace: str,
            timeout: float = 30) -> str:
    """Run `command` (the guide's text after 'kubectl'), with `-n flux-system` replaced by
    the scenario's namespace; return stdout."""
    argv = shlex.split(command)
    if argv and argv[0] == "kubectl":
        argv = argv[1:]
    if "-n" in argv:
        argv[argv.index("-n") + 1] = namespace
    else:
        argv = ["-n", namespace, *argv]
    proc = subprocess.run([str(binary), "--kubeconfig", str(kubeconfig), *argv],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise KubectlFailed(f"kubectl {argv[0] if argv else ''} failed: {proc.stderr.strip()}")
    return proc.stdout


def table(output: str) -> list[dict[str, str]]:
    """Parse kubectl's column output (columns separated by 2+ spaces)."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows
