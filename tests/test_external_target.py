"""`--target external` against a receiver someone else started: here, the reference by hand.

The suite runs in a subprocess as a user would run it against their own installation,
with a namespace per scenario or in one fixed namespace it must leave as it found it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.controlplane.processes import free_port
from receiver_conformance.flux import objects
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.reference_process import ReferenceReceiver
from receiver_conformance.senders.gcr import TestGoogleIssuer
from receiver_conformance.suite_run import SuiteRun, run_suite
from receiver_conformance.targets import external

pytestmark = pytest.mark.controlplane

CLEANUP_TIMEOUT = 30.0
# Kinds a scenario may create in its namespace: Flux's, and the core ones the guide uses.
KINDS = [
    (objects.RECEIVER_API, "Receiver"),
    *((api_version, kind) for kind, api_version in objects.API_VERSIONS.items()),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
]
# Capabilities the external target cannot have on this control plane; skips must name one.
SKIP_REASON = re.compile(r"target external lacks ")


@pytest.fixture(scope="module")
def reference(control_plane: ControlPlane) -> Iterator[ReferenceReceiver]:
    """The reference receiver, started by hand as an installation someone else runs."""
    with ReferenceReceiver(control_plane.kubeconfig) as receiver:
        yield receiver


def objects_in(kube: Kube, namespace: str) -> set[str]:
    """`Kind/name` of every object of KINDS in the namespace."""
    found = set()
    for api_version, kind in KINDS:
        listing = kube.resource(api_version, kind).get(namespace=namespace)
        found |= {f"{kind}/{item['metadata']['name']}" for item in listing.to_dict()["items"]}
    return found


def assert_all_passed(run: SuiteRun) -> None:
    not_passed = run.named("failed") | run.named("error")
    assert not not_passed, "scenarios did not pass:\n" + run.explain(not_passed)
    odd_skips = {n for n in run.named("skipped") if not SKIP_REASON.search(run.messages[n])}
    assert not odd_skips, "skipped for another reason than a capability:\n" + run.explain(
        odd_skips)
    assert run.named("passed"), "no scenario ran:\n" + run.explain()
    assert run.returncode == 0, run.explain()


def test_the_core_profile_passes_against_an_external_receiver(
    control_plane: ControlPlane, reference: ReferenceReceiver
) -> None:
    run = run_suite(control_plane.kubeconfig, reference.url, "-m", "core")
    assert_all_passed(run)
    ran = " ".join(run.named("passed"))
    for group in ("github-delivery-refused/", "guide-sender-refused/gitlab", "token-rotation",
                  "limit-body-over-3mib", "suspended-503"):
        assert group in ran, f"no {group} scenario passed:\n" + run.explain()


def test_a_shared_work_namespace_is_left_as_found(
    control_plane: ControlPlane, reference: ReferenceReceiver, kube: Kube, namespace: str
) -> None:
    before = objects_in(kube, namespace)
    run = run_suite(control_plane.kubeconfig, reference.url,
                    "-m", "core", work_namespace=namespace)
    assert_all_passed(run)
    fresh_only = {n for n in run.named("skipped") if "fresh-namespaces" in run.messages[n]}
    assert fresh_only, "scenarios that need their own namespaces ran in a shared one"

    def cleaned_up() -> bool:
        return objects_in(kube, namespace) <= before

    wait_until(cleaned_up, CLEANUP_TIMEOUT, f"the scenarios' objects to leave {namespace}",
               describe=lambda: ", ".join(sorted(objects_in(kube, namespace) - before)))


def test_an_unreachable_receiver_url_exits_2_with_a_reason(control_plane: ControlPlane) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = run_suite(control_plane.kubeconfig, url, "-k", "rotating", timeout=120)
    assert run.returncode == 2, run.explain()
    reasons = [line for line in run.output.splitlines()
               if "external target did not start:" in line]
    assert len(reasons) == 1, run.output
    assert re.search(rf"external target did not start: receiver URL {re.escape(url)} is "
                     r"unreachable: connection refused", reasons[0]), reasons[0]
    assert not run.named("passed") and not run.named("failed"), run.explain()



@pytest.mark.parametrize("probe", [True, False])
def test_no_probe_takes_the_declared_capabilities_as_the_whole_truth(
    control_plane: ControlPlane, reference: ReferenceReceiver, probe: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probed: list[str] = []
    monkeypatch.setattr(external, "has_source_controller",
                        lambda *_a, **_k: probed.append("source-controller") or True)
    monkeypatch.setattr(external, "has_deployed_receiver",
                        lambda *_a, **_k: probed.append("deployed-receiver") or True)
    target = external.external_target(str(control_plane.kubeconfig), reference.url, None,
                                      ["traffic"], probe=probe)
    assert "traffic" in target.capabilities
    found = {"source-controller", "deployed-receiver"}
    assert set(probed) == (found if probe else set())
    assert (found <= target.capabilities) == probe


def test_the_receivers_log_file_gives_receiver_log(control_plane: ControlPlane,
                                                   reference: ReferenceReceiver) -> None:
    target = external.external_target(str(control_plane.kubeconfig), reference.url, None,
                                      probe=False, receiver_log=str(reference.log_path))
    assert "receiver-log" in target.capabilities
    assert target.log_tail is not None
    assert target.log_tail(100_000) == reference.log_tail(100_000)


@pytest.mark.parametrize(("declared", "log", "says"), [
    (["receiver-log"], None, "no --receiver-log FILE"),
    ([], "/nonexistent/receiver.log", "no such file"),
])
def test_receiver_log_needs_a_file_to_read(control_plane: ControlPlane,
                                           reference: ReferenceReceiver, declared: list[str],
                                           log: str | None, says: str) -> None:
    with pytest.raises(external.Unreachable, match=says):
        external.external_target(str(control_plane.kubeconfig), reference.url, None, declared,
                                 probe=False, receiver_log=log)


def test_gcr_keys_and_the_metrics_url_give_their_capabilities_to_an_external_receiver(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A receiver started trusting the keys `receiver-conformance gcr-keys` wrote, with its
    metrics URL given: the scenarios that need gcr-test-keys and receiver-metrics run and
    pass, none is skipped."""
    keys = tmp_path_factory.mktemp("gcr-keys")
    jwks = TestGoogleIssuer().save(keys)
    with ReferenceReceiver(control_plane.kubeconfig, ["--google-jwks", str(jwks)]) as receiver:
        run = run_suite(control_plane.kubeconfig, receiver.url, "--gcr-keys", str(keys),
                        "--metrics-url", receiver.metrics_url, "-m",
                        "cap-gcr-test-keys or cap-receiver-metrics")
    assert_all_passed(run)
    assert not run.named("skipped"), run.explain()
    assert len(run.named("passed")) >= 4, run.explain()
