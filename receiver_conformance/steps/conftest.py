"""Glue between the Gherkin sentences and receiver_conformance/: the scenario state and the step modules.

Step definitions are pytest fixtures; importing them here makes them visible to every
feature bound in this directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from receiver_conformance.conformance import run_config
from receiver_conformance.gitserver import GitServer
from receiver_conformance.kube import Kube
from receiver_conformance.report import timings
from receiver_conformance.report.evidence import attach
from receiver_conformance.scenario import Scenario
from receiver_conformance.senders.oidc import TestOIDCIssuer
from receiver_conformance.steps.common import *  # noqa: F403
from receiver_conformance.steps.downstream import *  # noqa: F403
from receiver_conformance.steps.events import *  # noqa: F403
from receiver_conformance.steps.every_rule import *  # noqa: F403
from receiver_conformance.steps.exposure import *  # noqa: F403
from receiver_conformance.steps.fidelity import *  # noqa: F403
from receiver_conformance.steps.flags import *  # noqa: F403
from receiver_conformance.steps.kubectl import *  # noqa: F403
from receiver_conformance.steps.oidc import *  # noqa: F403
from receiver_conformance.steps.other_senders import *  # noqa: F403
from receiver_conformance.steps.replicas import *  # noqa: F403
from receiver_conformance.steps.requests import *  # noqa: F403
from receiver_conformance.steps.traffic import *  # noqa: F403
from receiver_conformance.targets.base import Target


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest, target: Target, target_kube: Kube, work_namespace: str
) -> Iterator[Scenario]:
    def evidence(title: str, body: Any) -> None:
        attach(request, title, body)

    state = Scenario(target, target_kube, work_namespace, evidence,
                     partial(timings.record, request))
    yield state
    state.cleanup(shared=bool(target.namespace))  # a shared namespace is left as found


@pytest.fixture(scope="session")
def git_server(request: pytest.FixtureRequest) -> Iterator[GitServer]:
    """The suite's Git server, started for the first scenario that asks for it, on the
    run's --serve-address and named by its --advertise-host."""
    config = run_config(request.config)
    with GitServer(config.serve_address, config.advertise_host) as git:
        yield git


@pytest.fixture(scope="session")
def oidc_issuer(request: pytest.FixtureRequest) -> Iterator[TestOIDCIssuer]:
    """The suite's OIDC issuer, started for the first scenario that asks, on the run's
    --serve-address and named by its --advertise-host."""
    config = run_config(request.config)
    with TestOIDCIssuer(config.serve_address, config.advertise_host) as issuer:
        yield issuer
