"""The conformance suite has teeth: each deliberate flaw fails the scenarios that check it.

For every flaw in tests.broken, the broken receiver runs against the session's control
plane and the scenarios that check the flawed behaviour run against it as an external
target. They must fail, for the flaw's reason, while the rest of the selection still
passes; the same selection passes against the unbroken reference.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.pytest_plugin import start_control_plane
from receiver_conformance.reference_process import ReferenceReceiver
from receiver_conformance.suite_run import SuiteRun, run_suite
from tests.broken.flaws import FLAWS
from tests.broken.process import BrokenReceiver
from tests.checkout import REPO_ROOT

GITHUB_REFUSED = "test_a_delivery_variant_is_refused_and_changes_nothing[{}]"
GITHUB_ACCEPTED = "test_a_delivery_variant_is_accepted[{}]"
GUIDE_REFUSED = "test_a_sender_the_guide_names_gets_its_bad_request_refused_changing_nothing[{}]"
GUIDE_ACCEPTED = (
    "test_a_sender_the_guide_names_makes_its_request_and_the_source_is_reconciled[{}]"
)
OTHER_REFUSED = "test_another_system_gets_its_bad_request_refused_changing_nothing[{}]"
OTHER_ACCEPTED = "test_another_system_makes_its_request_and_the_source_is_reconciled[{}]"
UNLISTED = "test_an_event_the_receiver_does_not_list_is_refused"
PACKAGE = "test_package_events_reach_an_kind_receiver[{}]"
EVENT_CASE = "test_event_names_match_whatever_their_case[{}]"
NO_SUCH_PATH = "test_a_path_that_belongs_to_no_receiver_answers_404"
IMAGE_TAG = "test_the_imagetag_filter_of_fluxs_docs_works_tag_is_result[{}]"
OIDC_REFUSED = "test_a_bad_id_token_is_refused_and_changes_nothing[{}]"
OIDC_ACCEPTED = "test_a_valid_id_token_from_the_trusted_issuer_reconciles_the_source"
# Cases run this many at a time, each on its own control plane (env RC_TEETH_WORKERS).
WORKERS = max(1, int(os.environ.get("RC_TEETH_WORKERS", "2")))
# The broken receiver runs on this host, so it reaches the suite's OIDC issuer on 127.0.0.1.
# Nothing else is there to find: no probes (the source-controller probe waits 5 s per run).
SUITE_ARGS = ("--capability", "oidc-test-issuer", "--no-probe")

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

# --- every rule (features/13)
READY_RECEIVER = (
    "test_a_ready_receiver_carries_fluxs_finalizer_and_is_neither_reconciling_nor_stalled")
NEW_GENERATION = "test_a_change_to_the_spec_is_observed_the_receiver_reports_its_new_generation"
FIRST_READY = "test_the_receiver_becomes_ready_and_publishes_its_url"
RECONCILE_REQUEST = (
    "test_a_reconcile_request_is_handled_at_once_and_picks_up_an_unlabelled_secrets_new_token")
DELETED = "test_a_deleted_receiver_lets_go_of_its_finalizer_and_its_path_answers_404"
LOSES_TOKEN = "test_a_secret_that_loses_its_token_after_ready_change[{}]"
SECRET_DELETED = LOSES_TOKEN.format('the Secret "webhook-token" is deleted')
TOKEN_KEY_REMOVED = LOSES_TOKEN.format(
    'the Secret "webhook-token" is replaced by one holding only a "password" key')
INVALID_OWN_FILTER = "test_an_invalid_filter_on_one_resource_stalls_the_receiver"
NO_LONGER_READY = "test_a_receiver_that_is_no_longer_ready_answers_503"
CORRECTED = "test_correcting_an_invalid_filter_makes_the_receiver_ready_again_no_longer_stalled"
NEAR_PATH = "test_a_hook_path_that_is_almost_right_answers_404_how[{}]"
NEAR_PATHS = [NEAR_PATH.format(v) for v in (
    "in upper-case hex", "with a trailing slash", "without its last character")]
NEAR_SIGNATURE = "test_a_github_signature_that_is_almost_right_is_refused_how[{}]"
NEAR_SIGNATURES = [NEAR_SIGNATURE.format(v) for v in (
    "in base64", "with an upper-case algorithm name", "one hex digit short",
    "keyed by the token with its last character changed")]
UPPER_HEX = (
    "test_a_github_signature_in_uppercase_hex_is_accepted_as_gos_hex_decoder_takes_either_case")
NEAR_TOKEN = "test_a_token_that_is_almost_right_is_refused_sender_how[{}]"
NEAR_TOKENS = [NEAR_TOKEN.format(f"{s}-{t}-{v}") for s, t in (("GitLab", "gitlab"),
                                                              ("Harbor", "harbor"))
               for v in ("its last character changed", "in upper case",
                         "without its last character")]
EVENT_HEADER = "test_the_event_header_decides_and_a_listedevents_receiver_needs_one_case[{}]"
ANNOUNCED_RELEASE = EVENT_HEADER.format('announced by X-GitHub-Event "release"')
NO_EVENT_HEADERS = [
    EVENT_HEADER.format("without an X-GitHub-Event header"),
    "test_sender_without_its_event_header_is_refused_when_the_receiver_lists_events"
    "[GitLab-gitlab-X-Gitlab-Event]",
    "test_sender_without_its_event_header_is_refused_when_the_receiver_lists_events"
    "[Bitbucket Server-bitbucket-X-Event-Key]",
]
NO_EVENTS_LISTED = "test_a_receiver_that_lists_no_events_accepts_every_event"
NO_EVENT_TYPE = "test_a_type_that_carries_no_event_ignores_the_events_a_receiver_lists"
OVERSIZE_UNREADY = ("test_a_body_over_3_mib_to_a_suspended_receiver_answers_413",
                    "test_a_body_over_3_mib_to_a_receiver_that_is_not_ready_answers_413")
SUSPENDED_BAD_SIGNATURE = "test_a_wrongly_signed_request_to_a_suspended_receiver_answers_503"
NAMED_FILTERED = "test_a_resource_filter_applies_to_named_resources_too"
BOTH_FILTERS = "test_a_resources_own_filter_and_the_resource_filter_must_both_hold"
WILDCARD_FILTERED = "test_a_resource_filter_chooses_among_the_selected_sources"
OWN_NAMESPACE = "test_a_wildcard_reconciles_the_labelled_sources_of_the_receivers_namespace_only"
WILDCARD = "test_a_wildcard_name_reconciles_the_sources_its_labels_select"
KEEPS_ANNOTATIONS = "test_a_sources_own_annotations_are_kept"
NEW_REQUESTED_AT = "test_each_accepted_event_sets_a_new_requestedat_and_nothing_else"
CHUNKED = "test_a_signed_push_sent_in_chunks_is_read_whole"
CHUNKED_OVERSIZE = "test_a_body_over_3_mib_sent_in_chunks_answers_413"
OTHERS_ANNOTATED = (
    "test_one_resource_that_cannot_be_annotated_answers_500_yet_the_others_are_annotated")
SELECTS_NOTHING = "test_a_wildcard_that_selects_nothing_is_not_an_error"


def _one_of(selected: list[str], failing: str | tuple[str, ...], reason: str, flaw: str,
            select: str) -> Teeth:
    """A Teeth case over an outline's examples: `failing` must fail, the others pass."""
    fail = (failing,) if isinstance(failing, str) else failing
    return Teeth(flaw, select, fail, reason, tuple(n for n in selected if n not in fail))


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


# --- events and metrics (features/14)
EVENTS_SELECT = "normal_event or repeated_success or warning_event"
READY_EVENT = "test_a_ready_receiver_has_a_normal_event_saying_when_it_runs_next"
REPEATED_EVENT = "test_a_repeated_success_raises_the_count_of_the_same_event"
WARNING_EVENT = "test_a_receiver_whose_secret_is_missing_has_a_warning_event_naming_the_secret"
STALLED_EVENT = "test_a_receiver_stalled_by_an_invalid_filter_has_a_warning_event_with_the_reason"


CASES = [
    Teeth("accept-any-signature", "(a_delivery_variant or bitbucket) and sign",
          (*GITHUB_BAD_SIGNATURES, *BITBUCKET_BAD_SIGNATURES), "expected 400",
          (GITHUB_ACCEPTED.format("signed with legacy SHA-1 only"),)),
    Teeth("empty-token-skips-signature", "an_empty_token",
          ("test_an_empty_token_is_still_the_token_an_unsigned_push_is_refused",),
          "expected 400"),
    Teeth("annotation-errors-unlogged", "cannot_annotate_is_named",
          ("test_a_resource_the_receiver_cannot_annotate_is_named_in_its_log",),
          "a log line naming"),
    Teeth("registry-list-items-unchecked", "quay and item",
          (OTHER_REFUSED.format("Quay-quay-wrong list item type"),), "expected 400"),
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
    Teeth("no-body-limit", "mib and not suspended and not not_ready and not chunks",
          ("test_a_body_over_3_mib_answers_413",
           "test_a_body_over_3_mib_is_refused_before_its_path_is_looked_up"),
          "expected 413",
          ("test_a_body_of_exactly_3_mib_is_accepted",)),
    Teeth("serve-unready", "503 and not wrongly_signed",
          ("test_a_suspended_receiver_answers_503_and_changes_nothing",
           "test_a_receiver_that_is_no_longer_ready_answers_503"), "503"),
    Teeth("gitlab-any-token", "gitlab and guide_names",
          (GUIDE_REFUSED.format("GitLab-gitlab-wrong token"),
           GUIDE_REFUSED.format("GitLab-gitlab-missing token")), "expected 400",
          (GUIDE_ACCEPTED.format("GitLab-gitlab-valid"),
           GUIDE_REFUSED.format("GitLab-gitlab-unlisted event"))),
    Teeth("no-404-after-rotation", "rotating or (secret_is_missing and not warning_event)",
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
    Teeth("annotate-after-refusing", "gitlab and token and guide_names",
          (GUIDE_REFUSED.format("GitLab-gitlab-wrong token"),
           GUIDE_REFUSED.format("GitLab-gitlab-missing token")), "refused, yet annotated"),
    Teeth("oidc-skip-validations", "a_bad_id_token and repository or trusted_issuer",
          (OIDC_REFUSED.format('for the repository "example-org/other"'),), "expected 400",
          (OIDC_ACCEPTED,)),
    Teeth("oidc-accept-expired", "a_bad_id_token and (expired or audience)",
          (OIDC_REFUSED.format("that expired a minute ago"),), "expected 400",
          (OIDC_REFUSED.format("for another audience"),)),
    # Writes the annotation a moment after answering: read at each answer, it is not there.
    # "Each accepted event sets a new requestedAt" catches it too (its pushes read no value).
    Teeth("answer-before-annotating", "many_pushes_at_once",
          ("test_many_pushes_at_once_to_one_source_are_each_answered_once_the_source_is_"
           "annotated",), "before the annotation was written"),
    # Runs its receivers with the flag: the refusal scenario needs the capability it gives.
    Teeth("cross-namespace-despite-flag", "nocrossnamespacerefs",
          ("test_with_nocrossnamespacerefs_a_source_in_another_namespace_is_refused",),
          "expected 500", receiver_args=("--no-cross-namespace-refs",),
          capabilities=("no-cross-namespace-refs",)),
    # --- every rule (features/13)
    Teeth("finalizer-misnamed", "carries_fluxs_finalizer or lets_go_of_its_finalizer",
          (READY_RECEIVER,), "finalizers are", (DELETED,)),
    Teeth("finalizer-never-removed", "lets_go_of_its_finalizer", (DELETED,), "to be gone"),
    Teeth("serve-deleted-receiver", "lets_go_of_its_finalizer", (DELETED,), "expected 404"),
    Teeth("reconciling-left-when-ready", "carries_fluxs_finalizer or new_generation",
          (READY_RECEIVER, NEW_GENERATION), "no Reconciling condition"),
    Teeth("observed-generation-frozen", "new_generation or becomes_ready_and_publishes",
          (NEW_GENERATION,), "new generation", (FIRST_READY,)),
    Teeth("stalled-sticks", "correcting_an_invalid or carries_fluxs_finalizer",
          (CORRECTED,), "no Stalled condition", (READY_RECEIVER,)),
    Teeth("last-handled-not-reported", "reconcile_request_is_handled", (RECONCILE_REQUEST,),
          "lastHandledReconcileAt"),
    Teeth("reconcile-request-ignored", "reconcile_request_is_handled", (RECONCILE_REQUEST,),
          "lastHandledReconcileAt"),
    Teeth("secret-deletions-ignored", "loses_its_token", (SECRET_DELETED,), "TokenNotFound",
          (TOKEN_KEY_REMOVED,)),
    Teeth("token-key-kept", "loses_its_token", (TOKEN_KEY_REMOVED,), "TokenNotFound",
          (SECRET_DELETED,)),
    Teeth("serve-cleared-path", "loses_its_token", (SECRET_DELETED, TOKEN_KEY_REMOVED),
          "expected 404"),
    Teeth("resource-filters-unchecked", "invalid_filter_on_one or no_longer_ready_answers_503",
          (INVALID_OWN_FILTER,), "Stalled=True", (NO_LONGER_READY,)),
    _one_of(NEAR_PATHS, NEAR_PATHS[0], "expected 404", "path-case-insensitive",
            "almost_right_answers_404"),
    _one_of(NEAR_PATHS, NEAR_PATHS[1], "expected 404", "path-trailing-slash-ignored",
            "almost_right_answers_404"),
    _one_of(NEAR_PATHS, NEAR_PATHS[2], "expected 404", "path-prefix-match",
            "almost_right_answers_404"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], NEAR_SIGNATURES[0], "expected 400",
            "signature-base64-accepted", "almost_right_is_refused_how or uppercase_hex"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], NEAR_SIGNATURES[1], "expected 400",
            "signature-algorithm-any-case", "almost_right_is_refused_how or uppercase_hex"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], NEAR_SIGNATURES[2], "expected 400",
            "signature-prefix-match", "almost_right_is_refused_how or uppercase_hex"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], UPPER_HEX, "expected 200",
            "signature-hex-case-sensitive", "almost_right_is_refused_how or uppercase_hex"),
    _one_of(NEAR_TOKENS, (NEAR_TOKENS[1], NEAR_TOKENS[4]), "expected 400",
            "token-case-insensitive", "token_that_is_almost_right"),
    _one_of(NEAR_TOKENS, (NEAR_TOKENS[2], NEAR_TOKENS[5]), "expected 400",
            "token-prefix-accepted", "token_that_is_almost_right"),
    _one_of([ANNOUNCED_RELEASE, *NO_EVENT_HEADERS], tuple(NO_EVENT_HEADERS), "expected 400",
            "missing-event-accepted", "event_header_decides or without_its_event_header"),
    # Guessing from the body also names an event that no header announced.
    _one_of([ANNOUNCED_RELEASE, *NO_EVENT_HEADERS], (ANNOUNCED_RELEASE, NO_EVENT_HEADERS[0]),
            "expected 400",
            "event-from-payload", "event_header_decides or without_its_event_header"),
    Teeth("push-and-ping-by-default", "lists_no_events or carries_no_event",
          (NO_EVENTS_LISTED,), "expected 200", (NO_EVENT_TYPE,)),
    Teeth("events-without-event-type", "lists_no_events or carries_no_event",
          (NO_EVENT_TYPE,), "expected 200", (NO_EVENTS_LISTED,)),
    Teeth("readiness-before-body", "3_mib_to_a or wrongly_signed_request",
          OVERSIZE_UNREADY, "expected 413", (SUSPENDED_BAD_SIGNATURE,)),
    Teeth("validate-before-readiness", "3_mib_to_a or wrongly_signed_request",
          (SUSPENDED_BAD_SIGNATURE,), "expected 503", OVERSIZE_UNREADY),
    Teeth("resource-filter-wildcard-only", "named_resources_too or must_both_hold or chooses_among",
          (NAMED_FILTERED, BOTH_FILTERS), "was annotated", (WILDCARD_FILTERED,)),
    Teeth("own-filters-ignored", "must_both_hold or named_resources_too",
          (BOTH_FILTERS,), "was annotated", (NAMED_FILTERED,)),
    Teeth("filters-either", "must_both_hold or named_resources_too",
          (BOTH_FILTERS,), "was annotated", (NAMED_FILTERED,)),
    Teeth("own-filter-overrides", "must_both_hold or named_resources_too",
          (BOTH_FILTERS,), "was annotated", (NAMED_FILTERED,)),
    Teeth("wildcard-all-namespaces", "namespace_only or wildcard_name_reconciles",
          (OWN_NAMESPACE,), "outside the Receiver's namespace", (WILDCARD,)),
    Teeth("annotations-replaced", "own_annotations_are_kept or sets_a_new_requestedat",
          (KEEPS_ANNOTATIONS,), "is gone", (NEW_REQUESTED_AT,)),
    Teeth("chunked-body-dropped", "in_chunks", (CHUNKED,), "expected 200", (CHUNKED_OVERSIZE,)),
    Teeth("chunked-body-unlimited", "in_chunks", (CHUNKED_OVERSIZE,), "expected 413",
          (CHUNKED,)),
    # Three pushes within one second: two of them always share a second, never by luck.
    Teeth("second-precision-timestamps", "sets_a_new_requestedat", (NEW_REQUESTED_AT,),
          "did not change"),
    Teeth("stop-at-first-failure", "others_are_annotated", (OTHERS_ANNOTATED,),
          "new requestedAt"),
    Teeth("empty-wildcard-error", "selects_nothing or wildcard_name_reconciles",
          (SELECTS_NOTHING,), "expected 200", (WILDCARD,)),
    # --- found by `receiver-conformance diff` against Flux
    Teeth("registry-strict-json", "makes_its_request and (null or trailing)",
          tuple(OTHER_ACCEPTED.format(case) for case in (
              "Docker Hub-dockerhub-null body", "Quay-quay-trailing data", "ACR-acr-null body",
              "ACR-acr-trailing data")),
          "expected 200"),
    Teeth("no-artifactgenerator-default", "reconciles_every_source",
          ("test_a_receiver_reconciles_every_source_it_lists",), "expected 200"),
    # --- events and metrics (features/14)
    Teeth("no-events", EVENTS_SELECT, (READY_EVENT, REPEATED_EVENT, WARNING_EVENT,
                                          STALLED_EVENT), "about Receiver webapp"),
    Teeth("events-not-aggregated", EVENTS_SELECT, (REPEATED_EVENT,),
          "the event's count to reach 2", (READY_EVENT, WARNING_EVENT, STALLED_EVENT)),
]
# Flaws the suite's runs here cannot show (the receivers log at info, in one encoding; the
# external target does not trust the suite's Google keys): where else their teeth are shown,
# or why they are not.
CHECKED_ELSEWHERE = {
    "logs-request-bytes": "tests/reference/test_log_redaction.py runs the broken receiver",
    "gcr-envelope-to-filters": "needs gcr-test-keys, which the external target lacks",
}
# The shared control run: the unflagged receiver; flagged cases make their own.
EVERY_SELECTION = " or ".join(f"({case.select})" for case in CASES if not case.receiver_args)


@dataclass
class CaseRuns:
    """A case's suite runs: its own control run (flagged cases only) and the flawed run."""

    control: SuiteRun | None = None
    flawed: SuiteRun | None = None
    error: BaseException | None = None


def _log(receiver: ReferenceReceiver) -> str:
    """The option that lets the suite read the receiver's log (receiver-log)."""
    return f"--receiver-log={receiver.log_path}"


def _run_case(teeth: Teeth, plane: ControlPlane) -> CaseRuns:
    runs = CaseRuns()
    try:
        if teeth.receiver_args:  # its own control run, with the same flags
            with ReferenceReceiver(plane.kubeconfig, teeth.receiver_args) as unbroken:
                runs.control = run_suite(plane.kubeconfig, unbroken.url, *teeth.suite_args,
                                         _log(unbroken), "-k", teeth.select)
        with BrokenReceiver(plane.kubeconfig, teeth.flaw, teeth.receiver_args) as receiver:
            runs.flawed = run_suite(plane.kubeconfig, receiver.url, *teeth.suite_args,
                                    _log(receiver), "-k", teeth.select)
    except Exception as err:  # reported by the case's own test
        runs.error = err
    return runs


def _reference_run(plane: ControlPlane, selection: str) -> SuiteRun:
    """The unflagged cases' selections, once, against the unbroken reference receiver."""
    if not selection:
        return SuiteRun(0, {}, {}, "no unflagged case selected")
    with ReferenceReceiver(plane.kubeconfig) as receiver:
        return run_suite(plane.kubeconfig, receiver.url, *SUITE_ARGS, _log(receiver),
                         "-k", selection)


def _reference_selection(session: pytest.Session, cases: list[Teeth]) -> str:
    """Every unflagged case's selection when the reference's own test runs, else only the
    selected cases' (so that one case can be run alone)."""
    if any(item.name == "test_the_reference_passes_every_selection" for item in session.items):
        return EVERY_SELECTION
    return " or ".join(f"({case.select})" for case in cases if not case.receiver_args)


def _selected_cases(session: pytest.Session) -> list[Teeth]:
    wanted = {item.callspec.params["teeth"].flaw for item in session.items
              if getattr(item, "callspec", None) and "teeth" in item.callspec.params}
    return [case for case in CASES if case.flaw in wanted]


@pytest.fixture(scope="module")
def teeth_runs(request: pytest.FixtureRequest, control_plane: ControlPlane,
               ) -> Iterator[tuple[SuiteRun, dict[str, CaseRuns]]]:
    """The reference run and every selected case's runs, WORKERS at a time.

    A broken receiver watches every namespace, so two receivers must not share a control
    plane: each worker has its own (the session's, then planes of its own). Scenarios mostly
    wait (quiet periods, reconciles), so this shortens the run even on 2 cores.
    """
    cases = _selected_cases(request.session)
    planes = [control_plane]
    previous = os.getcwd()
    os.chdir(REPO_ROOT)  # `python -m tests.broken` runs from the repository root
    try:
        for _ in range(min(WORKERS, len(cases) + 1) - 1):
            planes.append(start_control_plane())
        idle: queue.SimpleQueue[ControlPlane] = queue.SimpleQueue()
        for plane in planes:
            idle.put(plane)

        def on_a_plane(job: Callable[[ControlPlane], Any]) -> Any:
            plane = idle.get()
            try:
                return job(plane)
            finally:
                idle.put(plane)

        pool = ThreadPoolExecutor(max_workers=len(planes))
        try:
            selection = _reference_selection(request.session, cases)
            reference = pool.submit(on_a_plane, lambda p: _reference_run(p, selection))
            futures = {case.flaw: pool.submit(on_a_plane, lambda p, c=case: _run_case(c, p))
                       for case in cases}
            results = reference.result(), {flaw: f.result() for flaw, f in futures.items()}
        finally:
            # On Ctrl-C, drop the cases not started; the running ones end with their planes.
            pool.shutdown(wait=False, cancel_futures=True)
        yield results
    finally:
        os.chdir(previous)
        for plane in planes[1:]:
            plane.stop()


@pytest.fixture(scope="module")
def reference_run(teeth_runs: tuple[SuiteRun, dict[str, CaseRuns]]) -> SuiteRun:
    return teeth_runs[0]


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
    teeth: Teeth, teeth_runs: tuple[SuiteRun, dict[str, CaseRuns]]
) -> None:
    reference_run, cases = teeth_runs
    runs = cases[teeth.flaw]
    if runs.error is not None:
        raise runs.error
    control_run = runs.control or reference_run
    control = {n for n in teeth.selected if control_run.outcomes.get(n) != "passed"}
    assert not control, "the control run did not pass:\n" + control_run.explain(control)

    run = runs.flawed
    assert run is not None
    assert set(run.outcomes) == teeth.selected, "-k selected other scenarios:\n" + run.explain()
    holes = [n for n in teeth.must_fail if run.outcomes[n] != "failed"]
    if holes:
        raise HoleFound(f"{teeth.flaw} went unnoticed by:\n" + run.explain(holes))
    off_reason = [n for n in teeth.must_fail if teeth.reason not in run.messages[n]]
    assert not off_reason, f"failed, but not with {teeth.reason!r}:\n" + run.explain(off_reason)
    collateral = [n for n in teeth.must_pass if run.outcomes[n] != "passed"]
    assert not collateral, f"{teeth.flaw} broke more than it should:\n" + run.explain(collateral)
    assert run.returncode == 1, run.explain()
