"""No token and no full hook path in any line the reference receiver process writes.

The receiver runs as users run it (`python -m receiver_conformance.reference`, debug level,
both encodings) while
hostile clients send malformed requests that carry the real token and hook path; then its
whole output, tracebacks and library loggers included, is searched for them.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from receiver_conformance.hostile import hostile_requests, send_raw, status_of
from receiver_conformance.reference_process import ReferenceReceiver
from tests.broken.process import BrokenReceiver
from tests.checkout import REPO_ROOT

from .kube_support import (
    create_git_repository,
    create_receiver,
    github_push,
    new_token,
    put_secret,
    wait_for_receiver,
)

pytestmark = pytest.mark.controlplane


def leaks_of(control_plane: Any, kube_api: client.ApiClient, namespace: str, tmp_path: Path,
             encoding: str, flaw: str | None = None) -> dict[str, str]:
    """Run the receiver (with `flaw`, if any) through hostile clients; what its output leaks."""
    args = ["--log-level", "debug", "--log-encoding", encoding]
    receiver: ReferenceReceiver = (
        BrokenReceiver(control_plane.kubeconfig, flaw, args) if flaw
        else ReferenceReceiver(control_plane.kubeconfig, args, log_dir=tmp_path)
    )
    if flaw:
        receiver.log_dir = tmp_path
    with receiver:
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
    assert "Error handling request" in output
    assert "annotated" in output
    digest = path.rsplit("/", 1)[1]
    leaks = {
        "token": token,
        "token in base64": base64.b64encode(token.encode()).decode(),
        "hook digest": digest,
    }
    return {name: line for name, secret in leaks.items()
            for line in output.splitlines() if secret in line.lower() or secret in line}


@pytest.mark.parametrize("encoding", ["json", "console"])
def test_no_token_or_hook_path_in_any_output(
    control_plane: Any, kube_api: client.ApiClient, namespace: str, tmp_path: Path,
    encoding: str,
) -> None:
    found = leaks_of(control_plane, kube_api, namespace, tmp_path, encoding)
    assert not found, f"secrets in the receiver's output: {found}"


def test_the_old_redaction_leaks(
    control_plane: Any, kube_api: client.ApiClient, namespace: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check has teeth: hook paths shortened in messages only (the old way) leak."""
    monkeypatch.chdir(REPO_ROOT)  # `python -m tests.broken` runs from the repository root
    found = leaks_of(control_plane, kube_api, namespace, tmp_path, "json", "logs-request-bytes")
    assert "token" in found, found
