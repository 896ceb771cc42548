"""No token and no full hook path in any line the reference receiver process writes.

The receiver runs as users run it (`python -m reference`, debug level, both encodings) while
hostile clients send malformed requests that carry the real token and hook path; then its
whole output, tracebacks and library loggers included, is searched for them.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from harness.hostile import hostile_requests, send_raw, status_of
from harness.reference_process import ReferenceReceiver

from .kube_support import (
    create_git_repository,
    create_receiver,
    github_push,
    new_token,
    put_secret,
    wait_for_receiver,
)

pytestmark = pytest.mark.controlplane


@pytest.mark.parametrize("encoding", ["json", "console"])
def test_no_token_or_hook_path_in_any_output(
    control_plane: Any, kube_api: client.ApiClient, namespace: str, tmp_path: Path,
    encoding: str,
) -> None:
    args = ["--log-level", "debug", "--log-encoding", encoding]
    with ReferenceReceiver(control_plane.kubeconfig, args, log_dir=tmp_path) as receiver:
        token = new_token()
        put_secret(kube_api, namespace, token)
        create_git_repository(kube_api, namespace)
        create_receiver(kube_api, namespace)
        path = wait_for_receiver(kube_api, namespace, "github")["status"]["webhookPath"]

        assert github_push(receiver.url + path, token).status_code == 200
        assert github_push(receiver.url + path, "wrong").status_code == 400
        answers = {name: send_raw(receiver.url, raw)
                   for name, raw in hostile_requests(path, token).items()}
        assert github_push(receiver.url + path, token).status_code == 200, "still serving"
    output = (tmp_path / "receiver.log").read_text(errors="replace")

    # The hostile requests were answered and logged: the search below has something to search.
    assert status_of(answers["header of 300 KiB"]) == 431, answers
    assert status_of(answers["400 headers of 1 KiB"]) == 431, answers
    assert "malformed request" in output
    assert "annotated" in output
    digest = path.rsplit("/", 1)[1]
    leaks = {
        "token": token,
        "token in base64": base64.b64encode(token.encode()).decode(),
        "hook digest": digest,
    }
    found = {name: line for name, secret in leaks.items()
             for line in output.splitlines() if secret in line.lower() or secret in line}
    assert not found, f"secrets in the receiver's output: {found}"
