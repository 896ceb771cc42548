"""pytest options and fixtures that point the conformance scenarios at a target.

Options (each with an environment variable, the option wins):
  --target embedded|flux|kind|node|external   RC_TARGET (default embedded)
  --kubeconfig PATH                 RC_KUBECONFIG   (external)
  --receiver-url URL                RC_RECEIVER_URL (external)
  --work-namespace NAME             RC_NAMESPACE    (external: the namespace to work in)
  --kind-implementation reference|flux   RC_KIND_IMPLEMENTATION (kind)
  --capability NAME (repeatable)    RC_CAPABILITIES, comma-separated (external: declared
                                    capabilities, on top of what the target probes)
  --receiver-namespace NAME         RC_RECEIVER_NAMESPACE (external: where the receiver's
                                    Deployment and Service live; default flux-system)
  --receiver-log FILE               RC_RECEIVER_LOG (external: the file the receiver logs to;
                                    gives receiver-log)
  --reference-arg ARG (repeatable)  RC_REFERENCE_ARGS, space-separated (embedded: flags added
                                    to the reference's command line, e.g.
                                    --no-cross-namespace-refs, which gives that capability)

Scenarios carry `@cap-<name>` tags; one whose target lacks a capability is skipped with
the reason, never passed. `@without-<name>` skips a scenario on targets that have it (the
behaviour it checks is the one that capability turns off).
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator

import pytest
from kubernetes.client.rest import ApiException

from receiver_conformance.controlplane.crds import CRDsNotFound
from receiver_conformance.flux.build import FluxNotBuilt
from receiver_conformance.flux.controllers import ControllerFailed
from receiver_conformance.flux.manifests import ManifestsNotFound
from receiver_conformance.kube import Kube, Timeout, api_client, wait_until
from receiver_conformance.reference_process import ReferenceReceiverError
from receiver_conformance.report.collector import record_target
from receiver_conformance.targets.base import (
    KNOWN_CAPABILITIES,
    Target,
    UnknownCapability,
    parse_capabilities,
)
from receiver_conformance.targets.embedded import embedded_target
from receiver_conformance.targets.external import RECEIVER_NAMESPACE, Unreachable, external_target

NAMESPACES_GONE_TIMEOUT = 120.0
TARGETS = ("embedded", "flux", "kind", "node", "external")
CAPABILITY_PREFIX = "cap-"
WITHOUT_PREFIX = "without-"
REFERENCE_ARGS_ENV = "RC_REFERENCE_ARGS"

OPTIONS = {
    "target": ("RC_TARGET", "where the scenarios run: embedded, flux, kind, node or external"),
    "kubeconfig": ("RC_KUBECONFIG", "external target: kubeconfig of its cluster"),
    "receiver_url": ("RC_RECEIVER_URL", "external target: base URL of its receiver"),
    "work_namespace": ("RC_NAMESPACE", "external target: the namespace to work in"),
    "kind_implementation": ("RC_KIND_IMPLEMENTATION", "kind target: reference or flux"),
    "notification_controller": ("RC_NOTIFICATION_CONTROLLER",
                                "flux target: the notification-controller release to run; node "
                                "target: run it as the receiver instead of the reference"),
    "receiver_namespace": ("RC_RECEIVER_NAMESPACE",
                           f"external target: the receiver's namespace ({RECEIVER_NAMESPACE})"),
    "receiver_log": ("RC_RECEIVER_LOG",
                     "external target: the file the receiver writes its log to (receiver-log)"),
}
CAPABILITIES_ENV = "RC_CAPABILITIES"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("receiver-conformance", "receiver conformance target")
    for dest, (env, help_text) in OPTIONS.items():
        group.addoption(f"--{dest.replace('_', '-')}", dest=dest, default=None,
                        help=f"{help_text} (env {env})")
    group.addoption("--capability", dest="capabilities", action="append", default=[],
                    metavar="NAME", help="external target: a capability it has that cannot be "
                    f"probed; repeatable (env {CAPABILITIES_ENV}, comma-separated); one of "
                    + ", ".join(sorted(KNOWN_CAPABILITIES)))
    group.addoption("--no-probe", dest="no_probe", action="store_true", default=False,
                    help="external target: take the declared capabilities as the whole "
                    "truth; skip probing for a deployed receiver and a source controller")
    group.addoption("--reference-arg", dest="reference_args", action="append", default=[],
                    metavar="ARG", help="embedded target: a flag added to the reference "
                    f"receiver's command line; repeatable (env {REFERENCE_ARGS_ENV}, "
                    "space-separated)")


def reference_args(config: pytest.Config) -> list[str]:
    """--reference-arg values, else RC_REFERENCE_ARGS split on spaces."""
    given = config.getoption("reference_args", default=None)
    return list(given) if given else os.environ.get(REFERENCE_ARGS_ENV, "").split()


def declared_capabilities(config: pytest.Config) -> frozenset[str]:
    """--capability values, else RC_CAPABILITIES; exit 2 with the reason for an unknown name."""
    values = config.getoption("capabilities", default=None) or [
        os.environ.get(CAPABILITIES_ENV, "")]
    try:
        return parse_capabilities(values)
    except UnknownCapability as err:
        pytest.exit(f"--capability: {err}", returncode=2)


def option(config: pytest.Config, dest: str) -> str | None:
    """An option's value: the command line first, then its environment variable."""
    value = config.getoption(dest, default=None)
    return value if value else os.environ.get(OPTIONS[dest][0]) or None


def target_name(config: pytest.Config) -> str:
    name = option(config, "target") or "embedded"
    if name not in TARGETS:
        raise pytest.UsageError(f"--target must be one of {', '.join(TARGETS)}, not {name!r}")
    return name


def required_capabilities(item: pytest.Item, prefix: str = CAPABILITY_PREFIX) -> list[str]:
    return sorted(m.name[len(prefix):] for m in item.iter_markers()
                  if m.name.startswith(prefix))


def pytest_configure(config: pytest.Config) -> None:
    declared = declared_capabilities(config)
    if declared and target_name(config) != "external":
        pytest.exit("--capability is for --target external; the embedded and kind targets "
                    "know their own capabilities", returncode=2)
    for profile in ("core", "extended"):
        config.addinivalue_line("markers", f"{profile}: conformance profile {profile}")
    for cap, meaning in KNOWN_CAPABILITIES.items():
        config.addinivalue_line("markers", f"{CAPABILITY_PREFIX}{cap}: needs {meaning}")
        config.addinivalue_line("markers", f"{WITHOUT_PREFIX}{cap}: skipped with {meaning}")


def skip_reason(target: Target, item: pytest.Item) -> str | None:
    """Why `item` cannot run on `target`, or None."""
    present = [c for c in required_capabilities(item, WITHOUT_PREFIX) if not target.lacks(c)]
    if present:
        return f"target {target.name} has " + ", ".join(
            f"{c} ({KNOWN_CAPABILITIES.get(c, 'unknown capability')})" for c in present)
    missing = [c for c in required_capabilities(item) if target.lacks(c)]
    if not missing:
        return None
    return f"target {target.name} lacks " + ", ".join(
        f"{c} ({KNOWN_CAPABILITIES.get(c, 'unknown capability')})" for c in missing
    )


def is_scenario(item: pytest.Item) -> bool:
    """Conformance scenarios carry a profile tag; unit tests do not."""
    return any(item.get_closest_marker(p) for p in ("core", "extended"))


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The target named by --target, set up once per session, and named in the report."""
    for ready in _target(request):
        record_target(request.config, ready.name, ready.capabilities, ready.details)
        yield ready


def _target(request: pytest.FixtureRequest) -> Iterator[Target]:
    name = target_name(request.config)
    if name == "external":
        try:
            yield external_target(
                option(request.config, "kubeconfig") or os.environ.get("KUBECONFIG"),
                option(request.config, "receiver_url"),
                option(request.config, "work_namespace"),
                declared_capabilities(request.config),
                option(request.config, "receiver_namespace") or RECEIVER_NAMESPACE,
                probe=not request.config.getoption("no_probe", default=False),
                receiver_log=option(request.config, "receiver_log"),
            )
        except Unreachable as err:
            pytest.exit(f"external target: {err}", returncode=2)
        return
    if name == "kind":
        from receiver_conformance.targets.kind import kind_target

        implementation = option(request.config, "kind_implementation")
        with kind_target(implementation=implementation) as kind:
            yield kind
        return
    plane = request.getfixturevalue("control_plane")
    failures: tuple[type[BaseException], ...] = (
        ReferenceReceiverError, ControllerFailed, FluxNotBuilt, ManifestsNotFound, CRDsNotFound)
    if name == "flux":
        from receiver_conformance.flux.target import flux_target

        context = flux_target(plane, option(request.config, "notification_controller"))
    elif name == "node":
        from receiver_conformance.targets.node import STARTUP_FAILURES, node_target

        context = node_target(plane, notification_controller=option(
            request.config, "notification_controller"))
        failures += STARTUP_FAILURES
    else:
        context = embedded_target(plane, reference_args(request.config))
    try:
        started = context.__enter__()
    except failures as err:
        pytest.exit(f"{name} target did not start: {err}", returncode=2)
    try:
        yield started
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _capability_gate(request: pytest.FixtureRequest) -> None:
    """Skip a scenario, with the reason, when its target lacks a capability it needs."""
    if not is_scenario(request.node):
        return
    reason = skip_reason(request.getfixturevalue("target"), request.node)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def target_kube(target: Target) -> Iterator[Kube]:
    """A connection to the target's cluster."""
    api = api_client(target.kubeconfig)
    yield Kube(api)
    api.close()


@pytest.fixture(scope="session")
def deleted_namespaces(target_kube: Kube) -> Iterator[list[str]]:
    """The namespaces the scenarios deleted. At the end of the run, while the receiver still
    runs to release its finalizers, wait until they (and the `<name>-...` namespaces a
    scenario added) are really gone: a run leaves nothing Terminating."""
    names: list[str] = []
    yield names
    if names:
        try:
            left = wait_namespaces_gone(target_kube, names, NAMESPACES_GONE_TIMEOUT)
        except ApiException as err:  # e.g. not allowed to list namespaces
            warnings.warn(f"cannot check that the run's namespaces are gone: {err.reason}",
                          stacklevel=1)
            return
        if left:
            warnings.warn(f"namespaces still there {NAMESPACES_GONE_TIMEOUT:g} s after the "
                          f"run deleted them: {', '.join(left)}", stacklevel=1)


def wait_namespaces_gone(kube: Kube, names: list[str], timeout: float) -> list[str]:
    """Wait until no namespace named like `names` (or prefixed `<name>-`) is left; return
    those still there at the deadline."""

    def left() -> list[str]:
        return sorted(ns.metadata.name for ns in kube.core.list_namespace().items
                      if any(ns.metadata.name == n or ns.metadata.name.startswith(n + "-")
                             for n in names))

    try:
        wait_until(lambda: not left(), timeout, "the run's namespaces to be gone")
    except Timeout:
        return left()
    return []


@pytest.fixture
def work_namespace(
    target: Target, target_kube: Kube, deleted_namespaces: list[str]
) -> Iterator[str]:
    """The namespace a scenario works in: the target's own, or a fresh one."""
    if target.namespace:
        yield target.namespace
        return
    name = f"rc-{uuid.uuid4().hex[:8]}"
    target_kube.create_namespace(name)
    yield name
    target_kube.delete_namespace(name)
    deleted_namespaces.append(name)
