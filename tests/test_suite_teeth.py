"""The conformance suite has teeth: each deliberate flaw fails the scenarios that check it.

For every flaw in tests.broken, the broken receiver runs against the session's control
plane and the scenarios that check the flawed behaviour run against it as an external
target. They must fail, for the flaw's reason, while the rest of the selection still
passes; the same selection passes against the unbroken reference.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.pytest_plugin import start_control_plane
from receiver_conformance.reference_process import ReferenceReceiver
from receiver_conformance.senders.gcr import TestGoogleIssuer
from receiver_conformance.suite_run import SuiteRun, release_receivers, run_suite
from tests.broken.flaws import FLAWS
from tests.broken.process import BrokenReceiver
from tests.checkout import REPO_ROOT

# Scenarios by their stable ids (receiver_conformance.scenario_ids); "{}" is an outline's row.
GITHUB_REFUSED = "github-delivery-refused/{}"
GITHUB_ACCEPTED = "github-delivery-accepted/{}"
GUIDE_REFUSED = "guide-sender-refused/{}"
GUIDE_ACCEPTED = "guide-sender-accepted/{}"
OTHER_REFUSED = "other-sender-refused/{}"
OTHER_ACCEPTED = "other-sender-accepted/{}"
UNLISTED = "github-unlisted-event"
PACKAGE = "github-package-event/{}"
EVENT_CASE = "github-event-case/{}"
NO_SUCH_PATH = "limit-unknown-path-404"
IMAGE_TAG = "filter-image-tag/{}"
OIDC_REFUSED = "oidc-bad-token/{}"
OIDC_ACCEPTED = "oidc-valid-token"
SIGNED_PUSH = "github-signed-event/push"
BURST = "concurrent-pushes-one-source"
TIMED_BURST = "concurrent-pushes-written-in-time"
# Cases run this many at a time, each on its own control plane (env RC_TEETH_WORKERS).
WORKERS = max(1, int(os.environ.get("RC_TEETH_WORKERS", "3")))
# The broken receiver runs on this host, so it reaches the suite's OIDC issuer on 127.0.0.1
# and its clock is the suite's.
# Nothing else is there to find: no probes (the source-controller probe waits 5 s per run).
SUITE_ARGS = ("--capability", "oidc-test-issuer", "--capability", "host-clock", "--no-probe")

GITHUB_BAD_SIGNATURES = [GITHUB_REFUSED.format(v) for v in (
    "wrong-signature", "no-signature", "malformed-signature", "body-changed",
    "wrong-sha256-valid-sha1", "form-signed-over-payload",
)]
GITHUB_BAD_CONTENT_TYPES = [GITHUB_REFUSED.format(v) for v in (
    "no-content-type", "unsupported-content-type",
)]
BITBUCKET_BAD_SIGNATURES = [GUIDE_REFUSED.format(f"bitbucket-{v}") for v in (
    "wrong-signature", "altered-signature", "missing-signature", "malformed-signature",
    "body-changed-after-signing",
)]
BITBUCKET_BAD_CONTENT_TYPES = [GUIDE_REFUSED.format(f"bitbucket-{v}") for v in (
    "missing-content-type", "unsupported-content-type",
)]
UNLISTED_EVENTS = [
    UNLISTED,
    PACKAGE.format("imagerepository"),
    PACKAGE.format("ocirepository"),
    GUIDE_REFUSED.format("gitlab-unlisted-event"),
    GUIDE_REFUSED.format("bitbucket-unlisted-event"),
]
GUIDE_BAD_REQUESTS = [GUIDE_REFUSED.format(v) for v in (
    "gitlab-wrong-token", "gitlab-missing-token", "gitlab-unlisted-event",
    "harbor-wrong-token", "harbor-missing-token", "harbor-bearer-token",
)] + BITBUCKET_BAD_SIGNATURES + BITBUCKET_BAD_CONTENT_TYPES + [
    GUIDE_REFUSED.format("bitbucket-unlisted-event"),
]

# --- every rule (features/13)
READY_RECEIVER = "rule-ready-finalizer"
NEW_GENERATION = "rule-new-generation"
FIRST_READY = "url-published"
RECONCILE_REQUEST = "rule-reconcile-request"
DELETED = "rule-deletion"
SECRET_DELETED = "rule-secret-loses-token/secret-deleted"
TOKEN_KEY_REMOVED = "rule-secret-loses-token/token-key-replaced"
INVALID_OWN_FILTER = "rule-invalid-filter-stalls"
NO_LONGER_READY = "not-ready-503"
CORRECTED = "rule-corrected-filter-ready"
NEAR_PATHS = [f"rule-hook-path-near-miss/{v}" for v in (
    "upper-case-hex", "trailing-slash", "last-character-missing", "another-prefix")]
NEAR_SIGNATURES = [f"rule-github-signature-near-miss/{v}" for v in (
    "base64", "upper-case-algorithm", "hex-digit-short", "wrong-key")]
UPPER_HEX = "rule-github-signature-upper-hex"
NEAR_TOKENS = [f"rule-token-near-miss/{s}-{v}" for s in ("gitlab", "harbor")
               for v in ("last-character-changed", "upper-case", "without-last-character")]
ANNOUNCED_RELEASE = "rule-event-header-decides/announced-release"
NO_EVENT_HEADERS = [
    "rule-event-header-decides/no-github-event-header",
    "rule-event-header-required/gitlab",
    "rule-event-header-required/bitbucket",
]
NO_EVENTS_LISTED = "rule-no-events-listed"
NO_EVENT_TYPE = "rule-type-without-events"
OVERSIZE_UNREADY = ("rule-oversize-suspended-413", "rule-oversize-not-ready-413")
SUSPENDED_BAD_SIGNATURE = "rule-suspended-before-signature"
NAMED_FILTERED = "rule-resource-filter-named"
BOTH_FILTERS = "rule-both-filters-hold"
WILDCARD_FILTERED = "resource-filter-selected"
OWN_NAMESPACE = "rule-wildcard-own-namespace"
WILDCARD = "annotate-wildcard-labels"
KEEPS_ANNOTATIONS = "rule-annotations-kept"
NEW_REQUESTED_AT = "annotate-requested-at"
CHUNKED = "rule-chunked-body"
CHUNKED_OVERSIZE = "rule-chunked-oversize-413"
OTHERS_ANNOTATED = "annotate-partial-failure"
SELECTS_NOTHING = "annotate-wildcard-selects-nothing"


Reason = str | tuple[str, ...]
# What a Receiver that stays Ready shows where a condition was awaited.
STALLED_YET_READY = ("to have Stalled=True (InvalidCELExpression)", "Receiver initialized for path")
UNHANDLED_YET_READY = ("to report lastHandledReconcileAt", "Receiver initialized for path")
STILL_READY = ("to have Ready=False (TokenNotFound)", "'reason': 'Succeeded'")


def _one_of(selected: list[str], failing: str | tuple[str, ...], reason: Reason, flaw: str,
            ) -> Teeth:
    """A Teeth case over an outline's examples: `failing` must fail, the others pass."""
    fail = (failing,) if isinstance(failing, str) else failing
    return Teeth(flaw, fail, reason, tuple(n for n in selected if n not in fail))


class HoleFound(AssertionError):
    """Scenarios that should have failed under a flaw passed."""


@dataclass(frozen=True)
class Teeth:
    """A flaw, the scenarios (by id) that must fail under it (and why) and those that must
    pass; the suite runs exactly these."""

    flaw: str
    must_fail: tuple[str, ...]
    # In the failure message of every scenario of must_fail (each part, if a tuple): what was
    # observed, so that a receiver failing otherwise (a crash's 500, no answer) does not do.
    reason: Reason
    must_pass: tuple[str, ...] = ()
    # Flags for the receiver (flawed and control alike) and the capabilities they give.
    receiver_args: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    suite_extra: tuple[str, ...] = ()  # more flags of the suite's (e.g. --gcr-keys DIR)
    reasons: Mapping[str, Reason] = field(default_factory=dict)  # by scenario, where it differs

    def reason_parts(self, scenario: str) -> tuple[str, ...]:
        reason = self.reasons.get(scenario, self.reason)
        return (reason,) if isinstance(reason, str) else reason

    @property
    def suite_args(self) -> tuple[str, ...]:
        return (*SUITE_ARGS, *(a for c in self.capabilities for a in ("--capability", c)),
                *self.suite_extra)

    @property
    def selected(self) -> set[str]:
        return {*self.must_fail, *self.must_pass}

    @property
    def selection(self) -> tuple[str, ...]:
        return scenario_flags(self.selected)


def scenario_flags(ids: set[str]) -> tuple[str, ...]:
    """The suite's flags that run exactly the scenarios `ids`."""
    return tuple(f"--scenario={scenario}" for scenario in sorted(ids))


# The gcr case's Google test keys: exported before the run (as `receiver-conformance
# gcr-keys` does), trusted by the receiver through --google-jwks, used by the suite.
GCR_KEYS = Path(tempfile.gettempdir()) / f"rc-teeth-gcr-keys-{os.getpid()}"

# --- events and metrics (features/14)
READY_EVENT = "event-ready-normal"
REPEATED_EVENT = "event-repeated-count"
WARNING_EVENT = "event-secret-missing-warning"
STALLED_EVENT = "event-stalled-warning"


CASES = [
    Teeth("accept-any-signature", (*GITHUB_BAD_SIGNATURES, *BITBUCKET_BAD_SIGNATURES),
          "answered 200, expected 400",
          (GITHUB_ACCEPTED.format("legacy-sha1-only"),)),
    Teeth("empty-token-skips-signature", ("token-empty-still-checked",), "answered 200, expected 400",
          (SIGNED_PUSH,)),
    Teeth("annotation-errors-unlogged", ("log-annotation-failure",), "a log line naming",
          ("annotate-failure-500/missing-object",)),
    Teeth("registry-list-items-unchecked", (OTHER_REFUSED.format("quay-wrong-list-item-type"),),
          "answered 200, expected 400", (OTHER_ACCEPTED.format("quay-valid"),)),
    Teeth("ignore-content-type", (*GITHUB_BAD_CONTENT_TYPES, *BITBUCKET_BAD_CONTENT_TYPES),
          "answered 200, expected 400", (GITHUB_ACCEPTED.format("charset"),)),
    Teeth("ignore-event-filter", (*UNLISTED_EVENTS, OTHER_REFUSED.format("cdevents-unlisted-event")),
          "answered 200, expected 400",
          (EVENT_CASE.format("upper-case-push"), EVENT_CASE.format("mixed-case-ping"))),
    Teeth("annotate-before-validating",
          (*GITHUB_BAD_SIGNATURES, *GITHUB_BAD_CONTENT_TYPES, *GUIDE_BAD_REQUESTS, UNLISTED,
           PACKAGE.format("imagerepository"), PACKAGE.format("ocirepository")),
          "refused, yet annotated", (NO_SUCH_PATH,)),
    Teeth("no-body-limit", ("limit-body-over-3mib", "limit-body-before-lookup"),
          "answered 200, expected 413", ("limit-body-exactly-3mib",),
          reasons={"limit-body-before-lookup": "answered 404, expected 413"}),
    Teeth("serve-unready", ("suspended-503", "not-ready-503"), "answered 500, expected 503",
          (SIGNED_PUSH,), reasons={"suspended-503": "to answer 503; last seen: 200"}),
    Teeth("gitlab-any-token", (GUIDE_REFUSED.format("gitlab-wrong-token"),
           GUIDE_REFUSED.format("gitlab-missing-token")), "answered 200, expected 400",
          (GUIDE_ACCEPTED.format("gitlab-valid"),
           GUIDE_REFUSED.format("gitlab-unlisted-event"))),
    Teeth("no-404-after-rotation", ("token-rotation",), "answered 200, expected 404",
          ("token-secret-missing",)),
    Teeth("count-header-lines", ("headers-many-small-lines",), "answered 400, expected 200",
          ("headers-over-256kib/one-line",)),
    # Annotates what a filter rejected 0.2 s after answering: "was not annotated" watches the
    # source for a quiet period, as "nothing was annotated" does.
    Teeth("filtered-annotated-late",
          ("filter-json-media-type/text-slash-then-json", "filter-json-media-type/text-plain",
           IMAGE_TAG.format("latest"), WILDCARD_FILTERED, NAMED_FILTERED, BOTH_FILTERS),
          "was annotated", (IMAGE_TAG.format("semver"), "filter-json-media-type/json")),
    # Resets the connection instead of answering: "refuses" needs a 4xx answer.
    Teeth("drop-oversized-headers", ("limit-oversized-headers",), "gave no answer",
          ("limit-body-over-3mib",)),
    Teeth("null-body-fails", ("filter-json-null-body",), "answered 500, expected 200",
          (IMAGE_TAG.format("semver"), IMAGE_TAG.format("latest"))),
    Teeth("cdevents-content-required", ("cdevents-subject-without-content",), "answered 400, expected 200",
          (OTHER_ACCEPTED.format("cdevents-valid"),)),
    Teeth("cel-without-extensions", (IMAGE_TAG.format("semver"), IMAGE_TAG.format("latest")),
          ("to have Ready=True", "invalid resourceFilter expression"),
          ("filter-not-boolean-stalls",
                    "filter-json-null-body")),
    Teeth("cel-any-output-type", ("filter-not-boolean-stalls",), STALLED_YET_READY,
          (IMAGE_TAG.format("semver"), IMAGE_TAG.format("latest"))),
    # Compares each source before and after the request: only requestedAt may change.
    Teeth("touch-more-than-requested-at", ("annotate-requested-at",), "changed more than",
          (SIGNED_PUSH,)),
    # Answers 400, then annotates half a second later: "nothing was annotated" watches the
    # sources for a quiet period after the answer, so a late annotation is caught too.
    Teeth("annotate-after-refusing", (GUIDE_REFUSED.format("gitlab-wrong-token"),
           GUIDE_REFUSED.format("gitlab-missing-token")), "refused, yet annotated",
          (GUIDE_ACCEPTED.format("gitlab-valid"),)),
    Teeth("oidc-skip-validations", (OIDC_REFUSED.format("other-repository"),), "answered 200, expected 400",
          (OIDC_ACCEPTED,)),
    Teeth("oidc-accept-expired", (OIDC_REFUSED.format("expired"),), "answered 200, expected 400",
          (OIDC_REFUSED.format("wrong-audience"),)),
    # Writes the annotation a moment after answering: read at each answer, it is not there.
    # "Each accepted event sets a new requestedAt" catches it too (its pushes read no value).
    Teeth("answer-before-annotating", (BURST, TIMED_BURST), "answered 200 before the annotation",
          (SIGNED_PUSH,), reasons={TIMED_BURST: "answered with no write of the GitRepository"}),
    # Runs its receivers with the flag: the refusal scenario needs the capability it gives.
    Teeth("cross-namespace-despite-flag", ("no-cross-namespace-refs",),
          "answered 200, expected 500", (SIGNED_PUSH,), receiver_args=("--no-cross-namespace-refs",),
          capabilities=("no-cross-namespace-refs",)),
    # --- every rule (features/13)
    Teeth("finalizer-misnamed", (READY_RECEIVER,), "finalizers are", (DELETED,)),
    Teeth("finalizer-never-removed", (DELETED,),
          ("to be gone", "'finalizers': ['finalizers.fluxcd.io']"), (READY_RECEIVER,)),
    Teeth("serve-deleted-receiver", (DELETED,), "answered 200, expected 404", (READY_RECEIVER,)),
    Teeth("reconciling-left-when-ready", (READY_RECEIVER, NEW_GENERATION),
          "no Reconciling condition", (FIRST_READY,)),
    Teeth("observed-generation-frozen", (NEW_GENERATION,),
          "new generation and be Ready; last seen: {'conditions'", (FIRST_READY,)),
    Teeth("stalled-sticks", (CORRECTED,), "no Stalled condition", (READY_RECEIVER,)),
    Teeth("last-handled-not-reported", (RECONCILE_REQUEST,), UNHANDLED_YET_READY,
          (NEW_GENERATION,)),
    Teeth("reconcile-request-ignored", (RECONCILE_REQUEST,), UNHANDLED_YET_READY,
          (NEW_GENERATION,)),
    Teeth("secret-deletions-ignored", (SECRET_DELETED,), STILL_READY,
          (TOKEN_KEY_REMOVED,)),
    Teeth("token-key-kept", (TOKEN_KEY_REMOVED,), STILL_READY,
          (SECRET_DELETED,)),
    Teeth("serve-cleared-path", (SECRET_DELETED, TOKEN_KEY_REMOVED), "answered 503, expected 404",
          (FIRST_READY,)),
    Teeth("resource-filters-unchecked", (INVALID_OWN_FILTER,), STALLED_YET_READY,
          (NO_LONGER_READY,)),
    _one_of(NEAR_PATHS, NEAR_PATHS[0], "answered 200, expected 404", "path-case-insensitive"),
    _one_of(NEAR_PATHS, NEAR_PATHS[1], "answered 200, expected 404", "path-trailing-slash-ignored"),
    _one_of(NEAR_PATHS, NEAR_PATHS[2], "answered 200, expected 404", "path-prefix-match"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], NEAR_SIGNATURES[0], "answered 200, expected 400",
            "signature-base64-accepted"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], NEAR_SIGNATURES[1], "answered 200, expected 400",
            "signature-algorithm-any-case"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], NEAR_SIGNATURES[2], "answered 200, expected 400",
            "signature-prefix-match"),
    _one_of([*NEAR_SIGNATURES, UPPER_HEX], UPPER_HEX, "answered 400, expected 200",
            "signature-hex-case-sensitive"),
    _one_of(NEAR_TOKENS, (NEAR_TOKENS[1], NEAR_TOKENS[4]), "answered 200, expected 400",
            "token-case-insensitive"),
    _one_of(NEAR_TOKENS, (NEAR_TOKENS[2], NEAR_TOKENS[5]), "answered 200, expected 400",
            "token-prefix-accepted"),
    _one_of([ANNOUNCED_RELEASE, *NO_EVENT_HEADERS], tuple(NO_EVENT_HEADERS), "answered 200, expected 400",
            "missing-event-accepted"),
    # Guessing from the body also names an event that no header announced.
    _one_of([ANNOUNCED_RELEASE, *NO_EVENT_HEADERS], (ANNOUNCED_RELEASE, NO_EVENT_HEADERS[0]),
            "answered 200, expected 400",
            "event-from-payload"),
    Teeth("push-and-ping-by-default", (NO_EVENTS_LISTED,), "answered 400, expected 200", (NO_EVENT_TYPE,)),
    Teeth("events-without-event-type", (NO_EVENT_TYPE,), "answered 400, expected 200", (NO_EVENTS_LISTED,)),
    Teeth("readiness-before-body", OVERSIZE_UNREADY, "answered 503, expected 413",
          (SUSPENDED_BAD_SIGNATURE,)),
    Teeth("validate-before-readiness", (SUSPENDED_BAD_SIGNATURE,), "answered 400, expected 503",
          OVERSIZE_UNREADY),
    Teeth("resource-filter-wildcard-only", (NAMED_FILTERED, BOTH_FILTERS), "was annotated",
          (WILDCARD_FILTERED,)),
    Teeth("own-filters-ignored", (BOTH_FILTERS,), "was annotated", (NAMED_FILTERED,)),
    Teeth("filters-either", (BOTH_FILTERS,), "was annotated", (NAMED_FILTERED,)),
    Teeth("own-filter-overrides", (BOTH_FILTERS,), "was annotated", (NAMED_FILTERED,)),
    Teeth("wildcard-all-namespaces", (OWN_NAMESPACE,), "outside the Receiver's namespace", (WILDCARD,)),
    Teeth("annotations-replaced", (KEEPS_ANNOTATIONS,), "is gone", (NEW_REQUESTED_AT,)),
    Teeth("chunked-body-dropped", (CHUNKED,), "answered 400, expected 200", (CHUNKED_OVERSIZE,)),
    Teeth("chunked-body-unlimited", (CHUNKED_OVERSIZE,), "answered 200, expected 413",
          (CHUNKED,)),
    # Three pushes within one second: two of them always share a second, never by luck.
    Teeth("second-precision-timestamps", (NEW_REQUESTED_AT,), "did not change",
          (SIGNED_PUSH,)),
    Teeth("stop-at-first-failure", (OTHERS_ANNOTATED,), "new requestedAt",
          ("annotate-every-listed-source",)),
    Teeth("empty-wildcard-error", (SELECTS_NOTHING,), "answered 500, expected 200", (WILDCARD,)),
    # --- found by `receiver-conformance diff` against Flux
    Teeth("registry-strict-json", tuple(OTHER_ACCEPTED.format(case) for case in (
              "dockerhub-null-body", "quay-trailing-data", "acr-null-body", "acr-trailing-data")),
          "answered 400, expected 200", (OTHER_ACCEPTED.format("dockerhub-valid"),
                           OTHER_REFUSED.format("dockerhub-invalid-json"))),
    Teeth("no-artifactgenerator-default", ("annotate-every-listed-source",), "answered 500, expected 200",
          (SIGNED_PUSH,)),
    # Filters see the Pub/Sub envelope: the notification's fields are not there, the filter
    # errs and the request answers 500.
    Teeth("gcr-envelope-to-filters", ("gcr-filter-sees-notification",),
          "answered 500, expected 200",
          ("gcr-valid-token/valid",),
          receiver_args=("--google-jwks", str(GCR_KEYS / "google-jwks.json")),
          capabilities=("gcr-test-keys",), suite_extra=("--gcr-keys", str(GCR_KEYS))),
    # --- rules of the spec that had no broken receiver (receiver_conformance/rules.yaml)
    Teeth("events-case-sensitive",
          (EVENT_CASE.format("upper-case-push"), EVENT_CASE.format("mixed-case-ping")),
          "answered 400, expected 200", (SIGNED_PUSH,)),
    Teeth("generic-hmac-sha256-only", (OTHER_ACCEPTED.format("generic-hmac-valid-sha1"),
                                       OTHER_ACCEPTED.format("generic-hmac-valid-sha512")),
          "answered 400, expected 200", (OTHER_ACCEPTED.format("generic-hmac-valid-sha256"),)),
    Teeth("nexus-prefix-stripped", (OTHER_REFUSED.format("nexus-prefixed-signature"),),
          "answered 200, expected 400", (OTHER_ACCEPTED.format("nexus-valid"),)),
    Teeth("gcr-email-unchecked", ("gcr-refused/wrong-email",), "answered 200, expected 400",
          ("gcr-valid-token/valid", "gcr-refused/wrong-audience"),
          receiver_args=("--google-jwks", str(GCR_KEYS / "google-jwks.json")),
          capabilities=("gcr-test-keys",), suite_extra=("--gcr-keys", str(GCR_KEYS))),
    Teeth("resource-namespace-default", (SIGNED_PUSH,), "answered 500, expected 200", (NO_SUCH_PATH,)),
    Teeth("wildcard-without-labels-takes-all", ("annotate-failure-500/wildcard-without-labels",),
          "answered 200, expected 500", ("annotate-failure-500/missing-object",)),
    Teeth("api-version-guessed", ("annotate-failure-500/no-default-api-version",),
          "answered 200, expected 500", ("annotate-failure-500/missing-object",)),
    Teeth("ready-message-without-path", (FIRST_READY,),
          "the Ready message does not name the webhook path", (NEW_GENERATION,)),
    Teeth("nexus-unsupported", (OTHER_ACCEPTED.format("nexus-valid"),), "answered 400, expected 200",
          (OTHER_ACCEPTED.format("quay-valid"),)),
    Teeth("oidc-needs-secret", (OIDC_ACCEPTED,),
          ("to have Ready=True", "unable to read token from secret"), (SIGNED_PUSH,)),
    _one_of(NEAR_PATHS, NEAR_PATHS[3], "answered 200, expected 404", "hook-prefix-ignored"),
    # --- events and metrics (features/14)
    Teeth("no-events", (READY_EVENT, REPEATED_EVENT, WARNING_EVENT, STALLED_EVENT),
          "about Receiver webapp; last seen: no events", (FIRST_READY,)),
    Teeth("events-not-aggregated", (REPEATED_EVENT,),
          "the event's count to reach 2; last seen: Normal Succeeded x1",
          (READY_EVENT, WARNING_EVENT, STALLED_EVENT)),
]
# Flaws the suite's runs here cannot show (the receivers log at info, in one encoding; the
# external target does not trust the suite's Google keys): where else their teeth are shown,
# or why they are not.
CHECKED_ELSEWHERE = {
    "logs-request-bytes": "tests/reference/test_log_redaction.py runs the broken receiver",
}
# The shared control run: the unflagged receiver; flagged cases make their own.
EVERY_SELECTION = set().union(*(case.selected for case in CASES if not case.receiver_args))


@dataclass
class CaseRuns:
    """A case's suite runs: its own control run (flagged cases only) and the flawed run."""

    control: SuiteRun | None = None
    flawed: SuiteRun | None = None
    error: BaseException | None = None


def _log(receiver: ReferenceReceiver) -> str:
    """The option that lets the suite read the receiver's log (receiver-log)."""
    return f"--receiver-log={receiver.log_path}"


def _run_on(plane: ControlPlane, receiver: ReferenceReceiver, *args: str) -> SuiteRun:
    """The suite with `args` against `receiver`, started on `plane` and stopped after; the
    plane is thrown away later, so the run leaves its namespaces and only its Receivers go."""
    try:
        with receiver:
            return run_suite(plane.kubeconfig, receiver.url, *args, _log(receiver),
                             disposable=True)
    finally:
        release_receivers(plane.kubeconfig)


def _run_case(teeth: Teeth, plane: ControlPlane) -> CaseRuns:
    runs = CaseRuns()
    try:
        if teeth.receiver_args:  # its own control run, with the same flags
            runs.control = _run_on(plane, ReferenceReceiver(plane.kubeconfig, teeth.receiver_args),
                                   *teeth.suite_args, *teeth.selection)
        runs.flawed = _run_on(plane, BrokenReceiver(plane.kubeconfig, teeth.flaw,
                                                    teeth.receiver_args),
                              *teeth.suite_args, *teeth.selection)
    except Exception as err:  # reported by the case's own test
        runs.error = err
    return runs


def _reference_run(plane: ControlPlane, selection: set[str]) -> SuiteRun:
    """The unflagged cases' selections, once, against the unbroken reference receiver."""
    if not selection:
        return SuiteRun(0, {}, {}, "no unflagged case selected")
    return _run_on(plane, ReferenceReceiver(plane.kubeconfig), *SUITE_ARGS,
                   *scenario_flags(selection))


def _reference_selection(session: pytest.Session, cases: list[Teeth]) -> set[str]:
    """Every unflagged case's selection when the reference's own test runs, else only the
    selected cases' (so that one case can be run alone)."""
    if any(item.name == "test_the_reference_passes_every_selection" for item in session.items):
        return EVERY_SELECTION
    return set().union(*(case.selected for case in cases if not case.receiver_args))


def _selected_cases(session: pytest.Session) -> list[Teeth]:
    wanted = {item.callspec.params["teeth"].flaw for item in session.items
              if getattr(item, "originalname", "") == "test_the_suite_fails_the_flawed_receiver"}
    return [case for case in CASES if case.flaw in wanted]


@pytest.fixture(scope="module")
def teeth_runs(request: pytest.FixtureRequest) -> Iterator[tuple[SuiteRun, dict[str, CaseRuns]]]:
    """The reference run and every selected case's runs, WORKERS at a time.

    A broken receiver watches every namespace, so two receivers must not share a control
    plane: each worker has a plane of its own. Not the session's: the runs leave their
    namespaces there, and the other tests of this process would meet them. Scenarios mostly
    wait (quiet periods, reconciles), so this shortens the run even on 2 cores.
    """
    cases = _selected_cases(request.session)
    planes: list[ControlPlane] = []
    previous = os.getcwd()
    os.chdir(REPO_ROOT)  # `python -m tests.broken` runs from the repository root
    TestGoogleIssuer().save(GCR_KEYS)
    try:
        for _ in range(min(WORKERS, len(cases) + 1)):
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
        shutil.rmtree(GCR_KEYS, ignore_errors=True)
        for plane in planes:
            plane.stop()


@pytest.fixture(scope="module")
def reference_run(teeth_runs: tuple[SuiteRun, dict[str, CaseRuns]]) -> SuiteRun:
    return teeth_runs[0]


def test_every_flaw_is_exercised() -> None:
    assert sorted([*(case.flaw for case in CASES), *CHECKED_ELSEWHERE]) == sorted(FLAWS)


@pytest.mark.parametrize("teeth", [pytest.param(case, id=case.flaw) for case in CASES])
def test_every_reason_pins_what_was_observed(teeth: Teeth) -> None:
    """A bare "expected 400" or a condition's name is also what a crashing or silent receiver
    gives; each reason names the answer or state the flaw produced."""
    weak = re.compile(r"(expected \d{3}|\d{3}|Ready|Stalled|TokenNotFound|[a-zA-Z]+)")
    for scenario in teeth.must_fail:
        parts = teeth.reason_parts(scenario)
        assert not all(weak.fullmatch(part) for part in parts), (scenario, parts)
    assert set(teeth.reasons) <= set(teeth.must_fail), "a reason for a scenario not failing"


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
    assert set(run.outcomes) == teeth.selected, "--scenario selected other scenarios:\n" + run.explain()
    holes = [n for n in teeth.must_fail if run.outcomes[n] != "failed"]
    if holes:
        raise HoleFound(f"{teeth.flaw} went unnoticed by:\n" + run.explain(holes))
    off_reason = [n for n in teeth.must_fail
                  if not all(part in run.messages[n] for part in teeth.reason_parts(n))]
    assert not off_reason, "failed, but not as pinned:\n" + "\n".join(
        f"  {n}: {teeth.reason_parts(n)}" for n in off_reason) + "\n" + run.explain(off_reason)
    collateral = [n for n in teeth.must_pass if run.outcomes[n] != "passed"]
    assert not collateral, f"{teeth.flaw} broke more than it should:\n" + run.explain(collateral)
    assert run.returncode == 1, run.explain()
