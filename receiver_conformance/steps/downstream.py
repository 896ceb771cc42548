"""Steps of the downstream flow: a commit on the local Git server, the push event for it,
the GitRepository's revision and the Kustomization's application (receiver_conformance.downstream)."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from receiver_conformance.downstream import Downstream
from receiver_conformance.gitserver import GitServer
from receiver_conformance.scenario import Scenario

# How the feature names a push event, and the GitHub sender variant that builds it.
PUSH_VARIANTS = {"signed": "valid", "with a wrong signature": "wrong signature"}


@pytest.fixture
def downstream(scenario: Scenario, git_server: GitServer) -> Downstream:
    return Downstream(scenario, git_server)


# -- the repository and the Flux objects -----------------------------------------------


@given(parsers.re(r'a Git repository "(?P<name>[^"]+)" on the local Git server, whose '
                  r'ConfigMap "(?P<configmap>[^"]+)" has (?P<key>\w+) "(?P<value>[^"]*)"$'))
def repository(downstream: Downstream, name: str, configmap: str, key: str, value: str) -> None:
    downstream.create_repository(name, configmap, {key: value})


@given(parsers.parse('the guide\'s GitRepository "{name}", pointing at that repository'))
def git_repository(downstream: Downstream, name: str) -> None:
    downstream.add_git_repository(name)


@given(parsers.parse('a Kustomization "{name}" that applies the path "{path}" of the '
                     'GitRepository "{source}"'))
def kustomization(downstream: Downstream, name: str, path: str, source: str) -> None:
    downstream.add_kustomization(name, source, path)


@given(parsers.parse('the Kustomization "{name}" has applied the repository\'s first commit'))
def first_applied(downstream: Downstream, name: str) -> None:
    assert name == downstream.kustomization
    downstream.wait_first_applied()


# -- the push --------------------------------------------------------------------------


@when(parsers.re(r'a new commit sets (?P<key>\w+) "(?P<value>[^"]*)" in the ConfigMap '
                 r'"(?P<configmap>[^"]+)"$'))
def new_commit(downstream: Downstream, key: str, value: str, configmap: str) -> None:
    assert configmap == downstream.configmap
    downstream.commit({**downstream.data, key: value}, f"Set {key} to {value}")


@when(parsers.re(r'GitHub sends the (?P<signed>signed )?"push" event for that commit'
                 r'(?P<how> with a wrong signature)?$'))
def push_event(downstream: Downstream, signed: str | None, how: str | None) -> None:
    downstream.send_push(PUSH_VARIANTS[(signed or how or "").strip()])


# -- what follows ----------------------------------------------------------------------


@then(parsers.parse('the GitRepository "{name}" soon serves that commit as its revision'))
def fetched(downstream: Downstream, name: str) -> None:
    assert name == downstream.source
    downstream.wait_fetched()


@then(parsers.parse('the Kustomization "{name}" soon reports that commit as its last '
                    'applied revision'))
def applied(downstream: Downstream, name: str) -> None:
    assert name == downstream.kustomization
    downstream.wait_applied()


@then(parsers.re(r'the ConfigMap "(?P<configmap>[^"]+)" has (?P<key>\w+) "(?P<value>[^"]*)"$'))
def configmap_has(downstream: Downstream, configmap: str, key: str, value: str) -> None:
    assert configmap == downstream.configmap
    downstream.wait_data({key: value})


@then(parsers.parse('the GitRepository "{name}" still serves the first commit, its '
                    'reconcile not requested'))
def still_first(downstream: Downstream, name: str) -> None:
    assert name == downstream.source
    changed = downstream.revision_held(downstream.revision(0))
    assert not changed, f"refused, yet the GitRepository moved: {changed}"


@then(parsers.re(r'the ConfigMap "(?P<configmap>[^"]+)" still has (?P<key>\w+) '
                 r'"(?P<value>[^"]*)"$'))
def configmap_still(downstream: Downstream, configmap: str, key: str, value: str) -> None:
    assert configmap == downstream.configmap
    assert downstream.applied_revision() == downstream.revision(0)
    data = downstream.configmap_data()
    assert data == {key: value}, f"the ConfigMap holds {data}"
