"""Each finding as a Gherkin scenario in the guide's voice, with both sides' answers."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from receiver_conformance.diff.generator import EVENT_HEADERS, MAX_BODY
from receiver_conformance.diff.model import (
    OTHER,
    SAME,
    Answer,
    ReceiverSpec,
    ReceiverState,
    RequestSpec,
)
from receiver_conformance.diff.world import receiver_manifest

SENDERS = {"github": "GitHub", "gitlab": "GitLab", "bitbucket": "Bitbucket Server",
           "harbor": "Harbor", "dockerhub": "Docker Hub", "quay": "Quay",
           "gcr": "Google Container Registry", "nexus": "Nexus", "acr": "ACR",
           "cdevents": "A CDEvents producer", "generic": "A generic sender",
           "generic-hmac": "A generic-hmac sender", "generic-oidc": "An OIDC client"}
AUTH_WORDS = {
    "valid": "signed with the token",
    "sha1-legacy": "signed with SHA-1 in the legacy X-Hub-Signature only",
    "sha512-legacy": "signed with SHA-512 in the legacy X-Hub-Signature only",
    "both": "signed in both X-Hub-Signature (SHA-1) and X-Hub-Signature-256",
    "wrong": "with a wrong signature or token",
    "missing": "without any signature or token",
    "empty": "with an empty token header",
    "other-token": "signed with another Secret's token",
    "upper-hex": "signed with the token, the hex digest in upper case",
    "bearer": "with the token as 'Bearer <token>'",
    "sha1": "signed with HMAC-SHA1", "sha512": "signed with HMAC-SHA512",
    "md5": "signed with HMAC-MD5 (an algorithm no receiver supports)",
    "bare": "signed, the hex digest without its 'sha256=' prefix",
    "prefixed": "signed, the digest prefixed 'sha1='",
    "basic": "with 'Authorization: Basic ...'",
    "junk-authorization": "with an unrelated 'Authorization: Bearer' header",
}
BODY_WORDS = {
    "valid": "the type's example payload", "null": "the body 'null'", "empty": "an empty body",
    "form": "the example payload form-encoded in a 'payload' field",
    "array": "the example payload wrapped in a JSON array",
    "non-utf8": "the example payload with a field holding bytes that are not UTF-8",
    "oversize": f"a {MAX_BODY + 1}-byte JSON body (one byte over 3 MiB)",
    "at-limit": f"a {MAX_BODY}-byte JSON body (exactly 3 MiB)",
}
MUTATION_WORDS = ("its first field removed", "its first field null", "cut off halfway",
                  "followed by ' x'", "followed by a second JSON value '{}'",
                  "its first field a number", "the first field of its first nested object "
                  "removed", "an unexpected field added", "its first key repeated with null")
PATH_WORDS = {"own": "the Receiver's webhook path", "unknown": "a path no Receiver has",
              "query": "the Receiver's path with '?source=diff' appended",
              "trailing-slash": "the Receiver's path with a trailing '/'",
              "upper": "the Receiver's path in upper-case hex"}


@dataclass(frozen=True)
class _Symbolic:
    """Namespaces as the reader sees them."""

    namespace: str = "apps"
    other_namespace: str = "other"

    def resolve(self, role: str | None) -> str | None:
        return {SAME: self.namespace, OTHER: self.other_namespace}.get(role or "")


def scenario(finding, left: str, right: str) -> str:  # finding: runner.Finding
    """The finding as one Gherkin scenario (two-space indented, ready for a feature)."""
    receiver: ReceiverSpec = finding.receiver
    lines = [f"  # {_provenance(finding)}",
             f"  Scenario: {_title(finding, left, right)}",
             "    Given the Secrets \"token-a\" and \"token-b\" with a token and \"no-token\" "
             "without one, in namespace \"apps\"",
             "    And GitRepositories \"app\" (team=a, tier=web), \"infra\" (team=b), \"web\" "
             "(team=a, tier=web), OCIRepository \"charts\" (team=a), HelmRepository \"repo\" "
             "(team=b) and Kustomization \"apps\" (team=a) in \"apps\"",
             "    And GitRepositories \"app\" (team=a), \"shared\" (team=b) and OCIRepository "
             "\"charts\" (team=a) in namespace \"other\"",
             "    And the Receiver:",
             '      """yaml']
    manifest = receiver_manifest(_Symbolic(), "webapp", receiver)  # type: ignore[arg-type]
    manifest["metadata"] = {"name": "webapp", "namespace": "apps"}
    lines += ["      " + line for line in yaml.safe_dump(
        manifest, sort_keys=False, default_flow_style=False).rstrip().splitlines()]
    lines.append('      """')
    states: dict[str, ReceiverState] = finding.states
    if finding.request is None:
        lines.append("    When the controller reconciles the Receiver")
        lines.append(f"    Then {left} reports {_state(states[left_side(finding)])}")
        lines.append(f"    But {right} reports {_state(states[right_side(finding)])}")
        return "\n".join(lines) + "\n"
    lines.append(f"    And the Receiver is {_brief(states[left_side(finding)])} on {left} "
                 f"and {_brief(states[right_side(finding)])} on {right}")
    lines.append(f"    When {_request(receiver.type, finding.request)}")
    answers: dict[str, Answer] = finding.answers
    lines.append(f"    Then {left} {_answer(answers[left_side(finding)])}")
    lines.append(f"    But {right} {_answer(answers[right_side(finding)])}")
    return "\n".join(lines) + "\n"


def left_side(finding) -> str:
    return next(iter(finding.states))


def right_side(finding) -> str:
    return list(finding.states)[1]


def _title(finding, left: str, right: str) -> str:
    kind = finding.receiver.type
    if finding.request is None:
        fields = " and ".join(d.field for d in finding.differences)
        return f"A {kind} Receiver's {fields} differ between {left} and {right}"
    a = finding.answers
    la, ra = a[left_side(finding)], a[right_side(finding)]
    if la.status != ra.status:
        return f"{SENDERS[kind]} request answered {la.status} by {left}, {ra.status} by {right}"
    return f"{SENDERS[kind]} request annotates different objects on {left} and {right}"


def _provenance(finding) -> str:
    notes = [f"seen {finding.occurrences} time(s)"]
    notes.append("shrunk" if finding.shrunk else "shrink budget spent: not minimal")
    if finding.flaky:
        notes.append("flaky: the minimal case did not always repeat it")
    return "; ".join(notes)


def _request(rtype: str, req: RequestSpec) -> str:
    who = SENDERS[rtype]
    event = ""
    if rtype in EVENT_HEADERS:
        event = (f" a {req.event!r} event ({EVENT_HEADERS[rtype]})" if req.event is not None
                 else f" a request without {EVENT_HEADERS[rtype]}")
    body = BODY_WORDS.get(req.body, "")
    if req.body == "mutated":
        body = f"the example payload {MUTATION_WORDS[req.mutation]}"
    ctype = (f"Content-Type {req.content_type!r}" if req.content_type is not None
             else "no Content-Type")
    casing = "" if req.casing == "canonical" else f", header names in {req.casing} case"
    return (f"{who} sends{event} to {PATH_WORDS[req.path]}, {AUTH_WORDS.get(req.auth, req.auth)}"
            f", {ctype}{casing}, with {body}")


def _answer(a: Answer) -> str:
    objects = ", ".join(sorted(a.annotated)) if a.annotated else "nothing"
    status = f"answers {a.status}" if a.status else "drops the connection"
    return f"{status} and annotates {objects}"


def _state(s: ReceiverState) -> str:
    conds = ", ".join(f"{t}={st} ({r})" for t, st, r in s.conditions) or "no conditions"
    return f"{conds}; webhookPath {s.path}"


def _brief(s: ReceiverState) -> str:
    ready = next(((st, r) for t, st, r in s.conditions if t == "Ready"), None)
    return f"Ready={ready[0]} ({ready[1]})" if ready else "not reconciled"
