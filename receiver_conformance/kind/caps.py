"""The engine's OCI runtime: runc, after dropping the capabilities this host cannot grant.

A privileged container asks runc for every capability the kernel knows. Where the harness
runs with a narrower bounding set (some sandboxes drop CAP_SYS_RESOURCE), runc refuses:
"unable to apply caps: operation not permitted". kind starts its nodes privileged, so the
engine runs every container through this shim (`dockerd --default-runtime`): it removes
from the container's capability sets exactly those outside this process's bounding set,
which no process here could hold anyway, and then runs runc with the same arguments.

    python -m receiver_conformance.kind.caps RUNC_ARGS...
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

# Linux capability numbers (include/uapi/linux/capability.h).
NUMBERS = {name: number for number, name in enumerate((
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
    "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE",
    "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
    "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND",
    "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
))}
RUNC = "runc"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def bounding_set(status: str) -> int:
    """The CapBnd mask of a /proc/<pid>/status text."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise ValueError("no CapBnd line")


def unbounded(names: list[str], bounding: int) -> set[str]:
    """The capabilities among `names` ("CAP_X") whose bit is not in `bounding`; names this
    table does not know are left to runc."""
    return {name for name in names
            if name.removeprefix("CAP_") in NUMBERS
            and not bounding >> NUMBERS[name.removeprefix("CAP_")] & 1}


def drop_unbounded(process: dict[str, Any], bounding: int) -> list[str]:
    """Remove them from every set of an OCI process object; the names removed, sorted."""
    sets: dict[str, list[str]] = process.get("capabilities") or {}
    dropped: set[str] = set()
    for kind, names in sets.items():
        gone = unbounded(names, bounding)
        if gone:
            sets[kind] = [n for n in names if n not in gone]
            dropped |= gone
    return sorted(dropped)


def _option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def spec_file(args: list[str]) -> tuple[Path, bool] | None:
    """The file runc will read the process from, and whether it is a whole bundle config
    (`create`/`run`) rather than one process (`exec --process`); None for other commands."""
    if "create" in args or "run" in args:
        return Path(_option(args, "--bundle", "-b") or ".") / "config.json", True
    if "exec" in args:
        process = _option(args, "--process", "-p")
        return (Path(process), False) if process else None
    return None


def main(args: list[str]) -> int:
    found = spec_file(args)
    if found is not None:
        path, bundle = found
        spec = json.loads(path.read_text())
        process = spec.get("process", {}) if bundle else spec
        if drop_unbounded(process, bounding_set(Path("/proc/self/status").read_text())):
            path.write_text(json.dumps(spec))
    runc = shutil.which(RUNC, path=SEARCH_PATH)
    if runc is None:
        print("runc is not installed (apt-get install runc)", file=sys.stderr)
        return 2
    os.execv(runc, [RUNC, *args])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
