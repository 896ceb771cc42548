"""The conformance suite has teeth: each deliberate flaw fails the scenarios that check it.

For every flaw in tests.broken, the broken receiver runs against the session's control
plane and the scenarios that check the flawed behaviour run against it as an external
target. They must fail, for the flaw's reason, while the rest of the selection still
passes; the same selection passes against the unbroken reference.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from harness.controlplane import ControlPlane
from harness.paths import REPO_ROOT
from harness.reference_process import ReferenceReceiver
from tests.broken.flaws import FLAWS
from tests.broken.process import BrokenReceiver
from tests.broken.suite import SuiteRun, run_suite

GITHUB_REFUSED = "test_a_delivery_variant_is_refused_and_changes_nothing[{}]"
GITHUB_ACCEPTED = "test_a_delivery_variant_is_accepted[{}]"
GUIDE_REFUSED = "test_a_sender_the_guide_names_gets_its_bad_request_refused_changing_nothing[{}]"
GUIDE_ACCEPTED = (
    "test_a_sender_the_guide_names_makes_its_request_and_the_source_is_reconciled[{}]"
)
OTHER_REFUSED = "test_another_system_gets_its_bad_request_refused_changing_nothing[{}]"
UNLISTED = "test_an_event_the_receiver_does_not_list_is_refused"
PACKAGE = "test_package_events_reach_an_kind_receiver[{}]"
EVENT_CASE = "test_event_names_match_whatever_their_case[{}]"
NO_SUCH_PATH = "test_a_path_that_belongs_to_no_receiver_answers_404"
IMAGE_TAG = "test_the_imagetag_filter_of_fluxs_docs_works_tag_is_result[{}]"
OIDC_REFUSED = "test_a_bad_id_token_is_refused_and_changes_nothing[{}]"
OIDC_ACCEPTED = "test_a_valid_id_token_from_the_trusted_issuer_reconciles_the_source"
# The broken receiver runs on this host, so it reaches the suite's OIDC issuer on 127.0.0.1.
SUITE_ARGS = ("--capability", "oidc-test-issuer")

GITHUB_BAD_SIGNATURES = [GITHUB_REFUSED.format(v) for v in (
    "with a wrong signature", "without a signature", "with a malformed signature",
    "with its body changed after signing", "with a wrong SHA-256 but a valid SHA-1 signature",
    "form-encoded but signed over the payload only",
)]
GITHUB_BAD_CONTENT_TYPES = [GITHUB_REFUSED.format(v) for v in (
    "without a Content-Type", "with an unsupported Content-Type",
)]
BITBUCKET_BAD_SIGNATURES = [GUIDE_REFUSED.format(f"Bitbucket Server-bitbucket-{v}") for v in (
    "wrong signature", "altered signature", "missing signature", "malformed signature",
    "body changed after signing",
)]
BITBUCKET_BAD_CONTENT_TYPES = [GUIDE_REFUSED.format(f"Bitbucket Server-bitbucket-{v}") for v in (
    "missing content type", "unsupported content type",
)]
UNLISTED_EVENTS = [
    UNLISTED,
    PACKAGE.format("ImageRepository"),
    PACKAGE.format("OCIRepository"),
    GUIDE_REFUSED.format("GitLab-gitlab-unlisted event"),
    GUIDE_REFUSED.format("Bitbucket Server-bitbucket-unlisted event"),
]
GUIDE_BAD_REQUESTS = [GUIDE_REFUSED.format(v) for v in (
    "GitLab-gitlab-wrong token", "GitLab-gitlab-missing token", "GitLab-gitlab-unlisted event",
    "Harbor-harbor-wrong token", "Harbor-harbor-missing token", "Harbor-harbor-bearer token",
)] + BITBUCKET_BAD_SIGNATURES + BITBUCKET_BAD_CONTENT_TYPES + [
    GUIDE_REFUSED.format("Bitbucket Server-bitbucket-unlisted event"),
]


class HoleFound(AssertionError):
    """Scenarios that should have failed under a flaw passed."""


@dataclass(frozen=True)
class Teeth:
    """A flaw, the scenarios `-k select` picks, which must fail (and why), which must pass."""

    flaw: str
    select: str
    must_fail: tuple[str, ...]
    reason: str  # in the failure message of every scenario of must_fail
    must_pass: tuple[str, ...] = ()
    # Flags for the receiver (flawed and control alike) and the capabilities they give.
    receiver_args: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()

    @property
    def suite_args(self) -> tuple[str, ...]:
        return (*SUITE_ARGS, *(a for c in self.capabilities for a in ("--capability", c)))

    @property
    def selected(self) -> set[str]:
        return {*self.must_fail, *self.must_pass}


CASES = [
    Teeth("accept-any-signature", "(a_delivery_variant or bitbucket) and sign",
          (*GITHUB_BAD_SIGNATURES, *BITBUCKET_BAD_SIGNATURES), "expected 400",
          (GITHUB_ACCEPTED.format("signed with legacy SHA-1 only"),)),
    Teeth("ignore-content-type", "(content and not cdevent) or charset",
          (*GITHUB_BAD_CONTENT_TYPES, *BITBUCKET_BAD_CONTENT_TYPES), "expected 400",
          (GITHUB_ACCEPTED.format("with a charset parameter"),)),
    Teeth("ignore-event-filter", "does_not_list or package_events or unlisted or their_case",
          (*UNLISTED_EVENTS, OTHER_REFUSED.format("a CDEvents producer-cdevents-unlisted event")),
          "expected 400", (EVENT_CASE.format("PUSH"), EVENT_CASE.format("Ping"))),
    Teeth("annotate-before-validating",
          "(a_delivery_variant_is_refused or the_guide_names_gets or does_not_list"
          " or package_events or no_receiver_answers_404)",
          (*GITHUB_BAD_SIGNATURES, *GITHUB_BAD_CONTENT_TYPES, *GUIDE_BAD_REQUESTS, UNLISTED,
           PACKAGE.format("ImageRepository"), PACKAGE.format("OCIRepository")),
          "refused, yet annotated", (NO_SUCH_PATH,)),
    Teeth("no-body-limit", "mib", ("test_a_body_over_3_mib_answers_413",
                                   "test_a_body_over_3_mib_is_refused_before_its_path_is_looked_up"),
          "expected 413",
          ("test_a_body_of_exactly_3_mib_is_accepted",)),
    Teeth("serve-unready", "503",
          ("test_a_suspended_receiver_answers_503_and_changes_nothing",
           "test_a_receiver_that_is_no_longer_ready_answers_503"), "503"),
    Teeth("gitlab-any-token", "gitlab",
          (GUIDE_REFUSED.format("GitLab-gitlab-wrong token"),
           GUIDE_REFUSED.format("GitLab-gitlab-missing token")), "expected 400",
          (GUIDE_ACCEPTED.format("GitLab-gitlab-valid"),
           GUIDE_REFUSED.format("GitLab-gitlab-unlisted event"))),
    Teeth("no-404-after-rotation", "rotating or secret_is_missing",
          ("test_rotating_the_token_moves_the_url_and_retires_the_old_one",), "expected 404",
          ("test_a_receiver_whose_secret_is_missing_is_not_ready_and_serves_nothing",)),
    Teeth("count-header-lines", "many_small_headers",
          ("test_many_small_headers_are_fine_flux_limits_header_bytes_not_lines",),
          "expected 200"),
    Teeth("null-body-fails", "json_null or imagetag",
          ("test_a_json_null_body_is_an_empty_map_for_the_filters",), "expected 200",
          (IMAGE_TAG.format("V1.2.3-was annotated"), IMAGE_TAG.format("latest-was not annotated"))),
    Teeth("cdevents-content-required", "subject_has_no_content",
          ("test_a_cdevent_whose_subject_has_no_content_is_valid",), "expected 200"),
    Teeth("cel-without-extensions", "imagetag or not_a_boolean or json_null",
          (IMAGE_TAG.format("V1.2.3-was annotated"), IMAGE_TAG.format("latest-was not annotated")),
          "Ready", ("test_a_filter_whose_output_is_not_a_boolean_stalls_the_receiver",
                    "test_a_json_null_body_is_an_empty_map_for_the_filters")),
    Teeth("cel-any-output-type", "not_a_boolean or imagetag",
          ("test_a_filter_whose_output_is_not_a_boolean_stalls_the_receiver",), "Stalled",
          (IMAGE_TAG.format("V1.2.3-was annotated"), IMAGE_TAG.format("latest-was not annotated"))),
    # Compares each source before and after the request: only requestedAt may change.
    Teeth("touch-more-than-requested-at", "sets_a_new_requestedat",
          ("test_each_accepted_event_sets_a_new_requestedat_and_nothing_else",),
          "changed more than"),
    # Answers 400, then annotates half a second later: "nothing was annotated" watches the
    # sources for a quiet period after the answer, so a late annotation is caught too.
    Teeth("annotate-after-refusing", "gitlab and token",
          (GUIDE_REFUSED.format("GitLab-gitlab-wrong token"),
           GUIDE_REFUSED.format("GitLab-gitlab-missing token")), "refused, yet annotated"),
    Teeth("oidc-skip-validations", "a_bad_id_token and repository or trusted_issuer",
          (OIDC_REFUSED.format('for the repository "example-org/other"'),), "expected 400",
          (OIDC_ACCEPTED,)),
    Teeth("oidc-accept-expired", "a_bad_id_token and (expired or audience)",
          (OIDC_REFUSED.format("that expired a minute ago"),), "expected 400",
          (OIDC_REFUSED.format("for another audience"),)),
    # Writes the annotation a moment after answering: read at each answer, it is not there.
    Teeth("answer-before-annotating", "many_pushes_at_once or sets_a_new_requestedat",
          ("test_many_pushes_at_once_to_one_source_are_each_answered_once_the_source_is_"
           "annotated",), "before the annotation was written",
          ("test_each_accepted_event_sets_a_new_requestedat_and_nothing_else",)),
    # Runs its receivers with the flag: the refusal scenario needs the capability it gives.
    Teeth("cross-namespace-despite-flag", "nocrossnamespacerefs",
          ("test_with_nocrossnamespacerefs_a_source_in_another_namespace_is_refused",),
          "expected 500", receiver_args=("--no-cross-namespace-refs",),
          capabilities=("no-cross-namespace-refs",)),
]
# Flaws whose scenarios need what the external target lacks (the receiver's log, trust in
# the suite's Google keys): where else their teeth are shown, or why they are not.
CHECKED_ELSEWHERE = {
    "logs-request-bytes": "tests/reference/test_log_redaction.py runs the broken receiver",
    "gcr-envelope-to-filters": "needs gcr-test-keys, which the external target lacks",
}
# The shared control run: the unflagged receiver; flagged cases make their own.
EVERY_SELECTION = " or ".join(f"({case.select})" for case in CASES if not case.receiver_args)


@pytest.fixture
def from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m tests.broken` needs the repository root as the working directory."""
    monkeypatch.chdir(REPO_ROOT)


@pytest.fixture(scope="module")
def reference_run(control_plane: ControlPlane) -> SuiteRun:
    """Every selection below, once, against the unbroken reference receiver."""
    with ReferenceReceiver(control_plane.kubeconfig) as receiver:
        return run_suite(control_plane.kubeconfig, receiver.url, *SUITE_ARGS,
                         "-k", EVERY_SELECTION)


def test_every_flaw_is_exercised() -> None:
    assert sorted([*(case.flaw for case in CASES), *CHECKED_ELSEWHERE]) == sorted(FLAWS)


def test_the_launcher_refuses_an_unknown_flaw() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.broken", "no-such-flaw", "--"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown flaw 'no-such-flaw'" in done.stderr
    assert "accept-any-signature" in done.stderr


@pytest.mark.controlplane
def test_the_reference_passes_every_selection(reference_run: SuiteRun) -> None:
    expected = set().union(*(case.selected for case in CASES if not case.receiver_args))
    assert reference_run.returncode == 0, reference_run.explain()
    missing = expected - reference_run.named("passed")
    assert not missing, "not passed by the reference:\n" + reference_run.explain(missing)


@pytest.mark.controlplane
@pytest.mark.parametrize("teeth", [pytest.param(case, id=case.flaw) for case in CASES])
def test_the_suite_fails_the_flawed_receiver(
    teeth: Teeth, control_plane: ControlPlane, reference_run: SuiteRun, from_repo_root: None
) -> None:
    if teeth.receiver_args:  # its own control run, with the same flags
        with ReferenceReceiver(control_plane.kubeconfig, teeth.receiver_args) as unbroken:
            reference_run = run_suite(control_plane.kubeconfig, unbroken.url,
                                      *teeth.suite_args, "-k", teeth.select)
    control = {n for n in teeth.selected if reference_run.outcomes.get(n) != "passed"}
    assert not control, "the control run did not pass:\n" + reference_run.explain(control)

    with BrokenReceiver(control_plane.kubeconfig, teeth.flaw, teeth.receiver_args) as receiver:
        run = run_suite(control_plane.kubeconfig, receiver.url, *teeth.suite_args,
                        "-k", teeth.select)

    assert set(run.outcomes) == teeth.selected, "-k selected other scenarios:\n" + run.explain()
    holes = [n for n in teeth.must_fail if run.outcomes[n] != "failed"]
    if holes:
        raise HoleFound(f"{teeth.flaw} went unnoticed by:\n" + run.explain(holes))
    off_reason = [n for n in teeth.must_fail if teeth.reason not in run.messages[n]]
    assert not off_reason, f"failed, but not with {teeth.reason!r}:\n" + run.explain(off_reason)
    collateral = [n for n in teeth.must_pass if run.outcomes[n] != "passed"]
    assert not collateral, f"{teeth.flaw} broke more than it should:\n" + run.explain(collateral)
    assert run.returncode == 1, run.explain()
