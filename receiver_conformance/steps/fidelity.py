"""Steps of the Flux-fidelity feature: hostile clients and the log, header shapes, bodies."""

from __future__ import annotations

import base64
import json
import time

from pytest_bdd import given, parsers, then, when

from receiver_conformance import senders
from receiver_conformance.hostile import hostile_requests, send_raw
from receiver_conformance.kube import wait_until
from receiver_conformance.scenario import QUIET_PERIOD, Scenario
from receiver_conformance.steps.common import resource_ref

JSON = {"Content-Type": "application/json"}
HEADER_SHAPES = {"one line": None, "lines of 1 KiB": 1024}
LOG_LINES = 100_000
LOG_DEADLINE = 5.0  # seconds a log line may take to reach the file after the answer


@when("a hostile client sends malformed requests that carry the token and the webhook path")
def hostile_client(scenario: Scenario) -> None:
    path = scenario.webhook_path()
    for name, raw in hostile_requests(path, scenario.token).items():
        answer = send_raw(scenario.target.receiver_url, raw)
        scenario.evidence(f"hostile request: {name}", answer[:60].decode("latin-1"))


@then("the receiver still answers the generic sender 200")
def still_serving(scenario: Scenario) -> None:
    scenario.deliver("generic")
    scenario.expect_status(200)


@then("the receiver's log shows neither the token nor the whole webhook path")
def log_is_clean(scenario: Scenario) -> None:
    tail = scenario.target.log_tail
    assert tail is not None, f"target {scenario.target.name} declares receiver-log but has none"
    digest = scenario.webhook_path().rsplit("/", 1)[1]
    secrets = {
        "the token": scenario.token,
        "the token in base64": base64.b64encode(scenario.token.encode()).decode(),
        "the webhook path's digest": digest,
    }
    # Lines may still be on their way: watch the log for a quiet period, as refusals do.
    deadline = time.monotonic() + QUIET_PERIOD
    while True:
        log = _whole(tail)
        found = {what: line for what, secret in secrets.items()
                 for line in log.splitlines() if secret in line or secret in line.lower()}
        if found:
            scenario.evidence("log lines that leak", "\n".join(found.values())[:4000])
            raise AssertionError(f"the receiver's log shows {', '.join(sorted(found))}")
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)


@then(parsers.parse('the receiver\'s log names the {kind} "{name}" it could not annotate'))
def log_names_unannotated(scenario: Scenario, kind: str, name: str) -> None:
    tail = scenario.target.log_tail
    assert tail is not None, f"target {scenario.target.name} declares receiver-log but has none"
    # The scenario's namespace is its own, so a line naming namespace/name is this request's.
    wanted = (kind, f"{scenario.namespace}/{name}")

    def naming_line() -> str | None:
        return next((line for line in _whole(tail).splitlines()
                     if all(part in line for part in wanted)), None)

    line = wait_until(naming_line, LOG_DEADLINE,
                      f"a log line naming the {kind} {wanted[1]} it could not annotate")
    scenario.evidence("the log line", line[:2000])


def _whole(tail: object) -> str:
    """As much of the log as the target gives: its tail takes a line count when it can."""
    try:
        return tail(LOG_LINES)  # type: ignore[operator]
    except TypeError:
        return tail()  # type: ignore[operator]


@when(parsers.parse("the generic sender posts an event with {count:d} header lines"))
def many_header_lines(scenario: Scenario, count: int) -> None:
    headers = {**JSON, **{f"X-Line-{i}": "v" for i in range(count)}}
    scenario.send(senders.Delivery("generic", f"{count} header lines", headers, b"{}"))


@when(parsers.parse("the generic sender posts an event with {size:d} KiB of headers in {shape}"))
def shaped_big_headers(scenario: Scenario, size: int, shape: str) -> None:
    line = HEADER_SHAPES[shape] or size * 1024
    headers = dict(JSON)
    for i in range(size * 1024 // line):
        headers[f"X-Padding-{i}"] = "x" * line
    scenario.send(senders.Delivery("generic", f"{size} KiB of headers in {shape}", headers,
                                   b"{}"))


@when(parsers.parse('the generic sender posts the JSON body "{body}"'))
def json_body(scenario: Scenario, body: str) -> None:
    scenario.send(senders.Delivery("generic", f"JSON body {body}", dict(JSON), body.encode()))


@when(parsers.parse('the generic sender posts the body "{body}" with the Content-Type '
                    '"{content_type}"'))
def body_with_content_type(scenario: Scenario, body: str, content_type: str) -> None:
    scenario.send(senders.Delivery("generic", f"Content-Type {content_type}",
                                   {"Content-Type": content_type}, body.encode()))


@when("a CDEvents producer sends a valid event whose subject has no content")
def cdevent_without_content(scenario: Scenario) -> None:
    valid = senders.delivery("cdevents", "valid", scenario.token)
    document = json.loads(valid.body)
    document["subject"].pop("content", None)
    body = json.dumps(document).encode()
    scenario.send(senders.Delivery("cdevents", "subject without content", valid.headers, body))


@when(parsers.parse("the generic sender posts a body of {size:d} bytes to a path no Receiver "
                    "has"))
def big_body_unknown_path(scenario: Scenario, size: int) -> None:
    body = b'{"padding":"' + b"x" * (size - 14) + b'"}'
    path = senders.webhook_path("no-such-token", "x", "y")
    scenario.send(senders.Delivery("generic", f"{size}-byte body", dict(JSON), body), path)


@given(parsers.re(r'an? "(?P<kind>[\w-]+)" Receiver "(?P<name>[^"]+)" listing (?P<first>.+), '
                  r'then (?P<second>.+)$'))
def receiver_in_order(scenario: Scenario, kind: str, name: str, first: str, second: str) -> None:
    scenario.add_receiver(name, kind, [resource_ref(scenario, first),
                                       resource_ref(scenario, second)])
    scenario.wait_receiver(name)
