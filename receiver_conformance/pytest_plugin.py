"""pytest fixtures shared by the unit tests and the conformance scenarios.

Loaded for every run through `addopts = -p receiver_conformance.pytest_plugin` in pyproject.toml.

- `control_plane`: one embedded control plane (etcd + kube-apiserver + our CRDs) per session.
- `kube_api` / `kube`: an ApiClient and a `receiver_conformance.kube.Kube` for it.
- `namespace`: a fresh namespace per test, deleted afterwards.
The conformance scenarios' target options and fixtures live in `receiver_conformance.conformance`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.kube import Kube, api_client
from receiver_conformance.parallel import start_plane

pytest_plugins = ["receiver_conformance.conformance"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "controlplane: needs the embedded control plane")


def start_control_plane() -> ControlPlane:
    """Start the embedded control plane, or end the run with a clear reason (exit 2)."""
    return start_plane()


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    plane = start_control_plane()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    api = api_client(control_plane.kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def kube(kube_api: client.ApiClient) -> Kube:
    return Kube(kube_api)


def new_namespace_name(prefix: str = "rc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = new_namespace_name()
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)
