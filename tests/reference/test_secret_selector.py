"""--watch-configs-label-selector widened: its own receiver, so no other one reconciles the
same Receivers meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from receiver_conformance.kube import wait_until
from receiver_conformance.reference import api
from receiver_conformance.reference_process import ReferenceReceiver

from .kube_support import (
    create_receiver,
    new_token,
    path_of,
    put_secret,
    stays,
    wait_for_receiver,
)

pytestmark = pytest.mark.controlplane


def test_a_wider_selector_watches_every_secret_but_the_excluded(
    control_plane: Any, kube_api: client.ApiClient, namespace: str
) -> None:
    args = ["--watch-configs-label-selector", "owner!=helm", "--log-level", "debug"]
    with ReferenceReceiver(control_plane.kubeconfig, args):
        put_secret(kube_api, namespace, new_token())
        create_receiver(kube_api, namespace)
        wait_for_receiver(kube_api, namespace, "github")

        token = new_token()
        put_secret(kube_api, namespace, token)  # unlabelled, yet selected by owner!=helm
        path = api.webhook_path(token, "github", namespace)
        wait_until(lambda: path_of(kube_api, namespace) == path, 5,
                   "an unlabelled Secret's change to be seen at once", interval=0.02)

        put_secret(kube_api, namespace, new_token(), labels={"owner": "helm"})
        assert stays(lambda: path_of(kube_api, namespace) == path, 1.5), \
            "a Secret labelled owner=helm re-reconciled the Receiver at once"
