"""--no-cross-namespace-refs: the embedded target's flag, its capability, and the annotator."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from receiver_conformance.conformance import skip_reason
from receiver_conformance.reference import api
from receiver_conformance.reference.annotate import KubeAnnotator
from receiver_conformance.reference.senders.base import WebhookRequest
from receiver_conformance.targets.base import Target
from receiver_conformance.targets.embedded import flag_capabilities


@pytest.mark.parametrize(("args", "expected"), [
    ([], set()),
    (["--no-cross-namespace-refs"], {"no-cross-namespace-refs"}),
    (["--no-cross-namespace-refs=true"], {"no-cross-namespace-refs"}),
    (["--no-cross-namespace-refs=false"], set()),
    (["--log-level", "debug"], set()),
])
def test_flags_give_capabilities(args: list[str], expected: set[str]) -> None:
    assert flag_capabilities(args) == expected


class Item:
    def __init__(self, *markers: str) -> None:
        self.markers = [SimpleNamespace(name=m) for m in markers]

    def iter_markers(self) -> Any:
        return iter(self.markers)


def test_without_tags_skip_on_targets_that_have_the_capability() -> None:
    flagged = Target("embedded", None, "", frozenset({"no-cross-namespace-refs"}))  # type: ignore[arg-type]
    plain = Target("embedded", None, "", frozenset())  # type: ignore[arg-type]
    allowed = Item("without-no-cross-namespace-refs")
    refused = Item("cap-no-cross-namespace-refs")
    assert "has no-cross-namespace-refs" in skip_reason(flagged, allowed)  # type: ignore[arg-type,operator]
    assert skip_reason(plain, allowed) is None  # type: ignore[arg-type]
    assert skip_reason(flagged, refused) is None  # type: ignore[arg-type]
    assert "lacks no-cross-namespace-refs" in skip_reason(plain, refused)  # type: ignore[arg-type,operator]


class RecordingKube:
    def __init__(self) -> None:
        self.patched: list[str] = []

    async def patch(self, path: str, body: Any, **_: Any) -> Any:
        self.patched.append(path)
        return body


@pytest.mark.asyncio
@pytest.mark.parametrize("refuse", [True, False])
async def test_the_annotator_refuses_other_namespaces_only_with_the_flag(refuse: bool) -> None:
    kube = RecordingKube()
    annotator = KubeAnnotator(kube, no_cross_namespace_refs=refuse)  # type: ignore[arg-type]
    receiver = api.Receiver.from_dict({"metadata": {"name": "r", "namespace": "apps"}, "spec": {
        "type": "generic", "resources": [
            {"kind": "GitRepository", "name": "a", "namespace": "other"},
            {"kind": "GitRepository", "name": "b", "namespace": "apps"}]}})
    errors = await annotator.annotate(receiver, WebhookRequest("POST", {}, b"{}"))
    assert sorted(p.split("/namespaces/")[1] for p in kube.patched) == (
        ["apps/gitrepositories/b"] if refuse else
        ["apps/gitrepositories/b", "other/gitrepositories/a"])
    assert bool(errors) is refuse
