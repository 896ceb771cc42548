"""The kind target built here, without a cluster: which provider `--target kind` starts, the
NetworkPolicy enforcer's objects, the kind network each engine gets, what the target claims.

The cluster itself runs in `make kind` (`.ci/run`): the whole suite on it, and
tests/test_kind_engine.py with RC_KIND_TESTS=1.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from receiver_conformance import config
from receiver_conformance.kind import policies as kind_policies
from receiver_conformance.kind.cluster import kind_subnet
from receiver_conformance.node import policies
from receiver_conformance.targets import kind as pulled
from receiver_conformance.targets import kind_built, registry


@pytest.mark.parametrize(("argv", "started"), [
    ({"target": "kind"}, "built"),
    ({"target": "kind", "kind_images": "pulled"}, "pulled"),
    ({"target": "kind", "receiver": "flux"}, "built"),
])
def test_kind_is_built_here_unless_told_to_pull(monkeypatch: pytest.MonkeyPatch,
                                                argv: dict[str, Any], started: str) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake(name: str) -> Any:
        def start(**kwargs: Any) -> AbstractContextManager[Any]:
            calls.append((name, kwargs))
            return nullcontext()
        return start

    monkeypatch.setattr(kind_built, "built_kind_target", fake("built"))
    monkeypatch.setattr(pulled, "kind_target", fake("pulled"))
    cfg = registry.validate(config.resolve(argv, {}))
    registry.placement(cfg).start(cfg, None)
    [(name, kwargs)] = calls
    assert name == started
    if name == "built" and cfg.runs_flux:
        assert kwargs["notification_controller"] == registry.pinned_notification_controller()


def test_the_enforcer_runs_on_the_nodes_network_with_only_what_it_reads() -> None:
    docs = {d["kind"]: d for d in kind_policies.enforcer_objects("rc.local/knp:1")}
    assert set(docs) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["serviceAccountName"] == kind_policies.NAME
    [container] = pod["containers"]
    assert container["image"] == "rc.local/knp:1" and container["imagePullPolicy"] == "Never"
    assert f"--nfqueue-id={policies.QUEUE}" in container["args"]
    assert "--hostname-override=$(NODE_NAME)" in container["args"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    node_rules = policies.cluster_role("x").rules
    assert [(r["apiGroups"], r["resources"], r["verbs"]) for r in docs["ClusterRole"]["rules"]] \
        == [(r.api_groups, r.resources, r.verbs) for r in node_rules]
    assert docs["ClusterRoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": kind_policies.NAME, "namespace": "kube-system"}]


def test_each_engine_gets_a_kind_network_of_its_own() -> None:
    subnets = {kind_subnet(f"10.250.{n}.2") for n in range(0, 256, 17)}
    assert len(subnets) == len(range(0, 256, 17))
    assert str(kind_subnet("10.250.3.2")) == "10.251.3.0/24"


def test_the_target_claims_policies_but_not_traffic_until_it_has_an_edge() -> None:
    target = kind_built.BuiltKindTarget()
    assert "network-policy-enforcement" in target.capabilities
    assert "traffic" not in target.capabilities
    assert target.name == "kind" and target.with_edge is False
