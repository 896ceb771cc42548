"""Flux's controllers as processes: a port taken between its pick and the controller's bind
starts the controller again on new ports instead of handing out a dead receiver."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.flux import controllers
from receiver_conformance.flux.controllers import FluxControllers

pytestmark = pytest.mark.controlplane


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process holds: bound and listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_metrics_port_starts_the_controller_again(
    control_plane: ControlPlane, held_port: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = controllers.free_port
    picks = iter([real(), real(), real(), held_port])  # receiver, events, health, metrics

    def pick() -> int:
        return next(picks, None) or real()

    monkeypatch.setattr(controllers, "free_port", pick)
    with FluxControllers(control_plane.kubeconfig, ["notification-controller"]) as flux:
        receiver = flux["notification-controller"]
        assert receiver.child.running()
        assert receiver.metrics_port != held_port
        assert controllers.ADDRESS_IN_USE not in receiver.child.log_tail(200)


def test_a_controller_that_fails_otherwise_is_not_retried(
    control_plane: ControlPlane, tmp_path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: list[str] = []
    original = FluxControllers._start

    def counted(self: FluxControllers, name: str, binary):  # type: ignore[no-untyped-def]
        starts.append(name)
        return original(self, name, binary)

    monkeypatch.setattr(FluxControllers, "_start", counted)
    flux = FluxControllers(control_plane.kubeconfig, ["notification-controller"],
                           extra_args={"notification-controller": ["--no-such-flag"]})
    with pytest.raises(controllers.ControllerFailed, match="exited"):
        flux.start()
    assert starts == ["notification-controller"]
