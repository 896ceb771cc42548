"""pytest options and fixtures that point the conformance scenarios at a target.

Options (each with an environment variable, the option wins):
  --target embedded|kind|external   RC_TARGET (default embedded)
  --kubeconfig PATH                 RC_KUBECONFIG   (external)
  --receiver-url URL                RC_RECEIVER_URL (external)
  --work-namespace NAME             RC_NAMESPACE    (external: the namespace to work in)
  --implementation reference|flux   RC_IMPLEMENTATION (kind)

Scenarios carry `@cap-<name>` tags; one whose target lacks a capability is skipped with
the reason, never passed.
"""

from __future__ import annotations

import os

import pytest

from harness.targets.base import KNOWN_CAPABILITIES, Target

TARGETS = ("embedded", "kind", "external")
CAPABILITY_PREFIX = "cap-"

OPTIONS = {
    "target": ("RC_TARGET", "where the scenarios run: embedded, kind or external"),
    "kubeconfig": ("RC_KUBECONFIG", "external target: kubeconfig of its cluster"),
    "receiver_url": ("RC_RECEIVER_URL", "external target: base URL of its receiver"),
    "work_namespace": ("RC_NAMESPACE", "external target: the namespace to work in"),
    "implementation": ("RC_IMPLEMENTATION", "kind target: reference or flux"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("receiver-conformance", "receiver conformance target")
    for dest, (env, help_text) in OPTIONS.items():
        group.addoption(f"--{dest.replace('_', '-')}", dest=dest, default=None,
                        help=f"{help_text} (env {env})")


def option(config: pytest.Config, dest: str) -> str | None:
    """An option's value: the command line first, then its environment variable."""
    value = config.getoption(dest, default=None)
    return value if value else os.environ.get(OPTIONS[dest][0]) or None


def target_name(config: pytest.Config) -> str:
    name = option(config, "target") or "embedded"
    if name not in TARGETS:
        raise pytest.UsageError(f"--target must be one of {', '.join(TARGETS)}, not {name!r}")
    return name


def required_capabilities(item: pytest.Item) -> list[str]:
    return sorted(
        m.name[len(CAPABILITY_PREFIX):]
        for m in item.iter_markers()
        if m.name.startswith(CAPABILITY_PREFIX)
    )


def pytest_configure(config: pytest.Config) -> None:
    for profile in ("core", "extended"):
        config.addinivalue_line("markers", f"{profile}: conformance profile {profile}")
    for cap, meaning in KNOWN_CAPABILITIES.items():
        config.addinivalue_line("markers", f"{CAPABILITY_PREFIX}{cap}: needs {meaning}")


def skip_reason(target: Target, item: pytest.Item) -> str | None:
    """Why `item` cannot run on `target`, or None."""
    missing = [c for c in required_capabilities(item) if target.lacks(c)]
    if not missing:
        return None
    return f"target {target.name} lacks " + ", ".join(
        f"{c} ({KNOWN_CAPABILITIES.get(c, 'unknown capability')})" for c in missing
    )
