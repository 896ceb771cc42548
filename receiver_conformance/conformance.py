"""pytest options and fixtures that point the conformance scenarios at a target.

The options are the run configuration's target settings (receiver_conformance.config: each
flag with its RC_* variable; the flag wins), registered once; `run_config()` resolves them
for a session and the target registry (receiver_conformance.targets.registry) starts the
target they name.

Scenarios carry `@cap-<name>` tags; one whose target lacks a capability is skipped with
the reason, never passed. `@without-<name>` skips a scenario on targets that have it (the
behaviour it checks is the one that capability turns off).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest
from kubernetes.client.rest import ApiException

from receiver_conformance import config as settings
from receiver_conformance import parallel, scenario_ids
from receiver_conformance.capabilities import KNOWN_CAPABILITIES, Profile
from receiver_conformance.config import ConfigError, RunConfig, timing
from receiver_conformance.kube import Kube, Timeout, api_client, wait_until
from receiver_conformance.report.collector import JunitNames, is_bdd, record_target, run_id
from receiver_conformance.report.evidence import redact_test_report
from receiver_conformance.targets import registry
from receiver_conformance.targets.base import Target

# How long the run's end waits for its deleted namespaces to be gone (RC_NAMESPACES_GONE_TIMEOUT,
# seconds); 0: delete them and do not wait, for a cluster thrown away after the run.
NAMESPACES_GONE_TIMEOUT = timing("RC_NAMESPACES_GONE_TIMEOUT")
CAPABILITY_PREFIX = "cap-"
WITHOUT_PREFIX = "without-"
_CONFIG_KEY = pytest.StashKey[RunConfig]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("receiver-conformance", "receiver conformance target")
    settings.add_options(group.addoption, scope="target")


def run_config(config: pytest.Config) -> RunConfig:
    """The session's target settings: flags, then RC_* variables, then defaults; checked
    against the target registry (a bad value ends the session: exit 2, one line)."""
    if _CONFIG_KEY not in config.stash:
        flags = {s.name: config.getoption(s.name, default=None)
                 for s in settings.SETTINGS if s.scope == "target"}
        try:
            resolved = registry.validate(settings.resolve(flags, scope="target"))
        except ConfigError as err:
            pytest.exit(str(err), returncode=2)
        config.stash[_CONFIG_KEY] = resolved
    return config.stash[_CONFIG_KEY]


def required_capabilities(item: pytest.Item, prefix: str = CAPABILITY_PREFIX) -> list[str]:
    return sorted(m.name[len(prefix):] for m in item.iter_markers()
                  if m.name.startswith(prefix))


def pytest_configure(config: pytest.Config) -> None:
    run = run_config(config)
    # Only when given (`run` gives it): the unit tests load this plugin too.
    workers = run.workers if run.given("workers") else 1
    parallel.use_workers(config, workers)
    if workers > 1 and not parallel.is_worker(config):
        config.pluginmanager.register(parallel.Provisioner(
            run, lambda t: record_target(config, t.name, t.capabilities, t.details)),
            "rc-provisioner")
    config.pluginmanager.register(JunitNames(config), "rc-junit-names")
    config.addinivalue_line("markers", f"{parallel.SERIAL_TAG}: runs alone when scenarios "
                            "run in parallel (--workers)")
    for profile in Profile:
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


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: object) -> bool | None:
    """A scenario's `@id:<name>` tag is its id (receiver_conformance.scenario_ids), not a mark.
    Runs before pytest-bdd's own implementation, which would make it an unknown mark."""
    return True if scenario_ids.is_id_tag(tag) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --scenario, keep only the runs those ids select; an id that names no collected
    scenario ends the session (exit 2, one line). Runs first, so that the ids are checked
    against everything collected, before a profile or -k leaves some out."""
    wanted = run_config(config).scenarios
    if not wanted:
        return
    runs = {item.nodeid: run_id(item) for item in items}
    known = {run for run in runs.values() if run}
    unknown = [w for w in wanted if not any(scenario_ids.selects(w, run) for run in known)]
    if unknown:
        pytest.exit(f"--scenario: no scenario has the id {', '.join(unknown)} "
                    "(see 'receiver-conformance list')", returncode=2)
    kept, dropped = [], []
    for item in items:
        run = runs[item.nodeid]
        chosen = (any(scenario_ids.selects(w, run) for w in wanted) if run is not None
                  else not is_bdd(item))  # a scenario without an id cannot be chosen by one
        (kept if chosen else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Before junit.xml, the terminal or the results see a failure, its secrets go."""
    redact_test_report(report)


def is_scenario(item: pytest.Item) -> bool:
    """Conformance scenarios carry a profile tag; unit tests do not."""
    return any(item.get_closest_marker(p) for p in Profile)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The target named by --target, set up once per session, and named in the report."""
    for ready in _target(request):
        record_target(request.config, ready.name, ready.capabilities, ready.details)
        yield ready


def _target(request: pytest.FixtureRequest) -> Iterator[Target]:
    given = parallel.worker_target(request.config)
    if given is not None:  # a worker: the controlling process started it, and stops it
        yield given
        return
    config = run_config(request.config)
    where = registry.placement(config)
    plane = request.getfixturevalue("control_plane") if where.needs_control_plane else None
    try:
        context = where.start(config, plane)
        started = context.__enter__()
    except where.failures() as err:
        pytest.exit(f"{config.target} target did not start: {err}", returncode=2)
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


@pytest.fixture(autouse=True)
def _turn(request: pytest.FixtureRequest, _capability_gate: None) -> Iterator[None]:
    """With --workers, a @serial scenario runs alone; the others share their turn. A
    scenario skipped for a missing capability takes no turn."""
    turns = parallel.worker_turns(request.config)
    if turns is None or not is_scenario(request.node):
        yield
        return
    serial = request.node.get_closest_marker(parallel.SERIAL_TAG) is not None
    with turns.alone() if serial else turns.shared():
        yield


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
    if names and NAMESPACES_GONE_TIMEOUT > 0:
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
    if target.disposable:  # it goes with the cluster
        return
    target_kube.delete_namespace(name)
    deleted_namespaces.append(name)
