"""Failure evidence: what a scenario sent and what it observed, kept on the test item.

Steps call :func:`attach` as they go ("the request sent", "the Receiver's status observed").
The results collector copies the items of a failed scenario into ``results.json``; the
report shows them under the failure. Secrets never reach the report: every string passes
through receiver_conformance.redaction (tokens, hook paths, digests, JWTs), and the values of
signature, token and authorization fields are masked. `redact_test_report` does the same to
what pytest reports of a failure (its traceback and captured output), before junit.xml, the
terminal or the results see it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr
from _pytest._io import TerminalWriter

from receiver_conformance import redaction

EVIDENCE_KEY = pytest.StashKey[list[dict[str, Any]]]()

# Header or field names whose values are secrets or derived from them.
_SECRET_NAMES = re.compile(
    r"(token|authorization|signature|secret|password|x-hub-signature|x-signature)", re.IGNORECASE
)
_MAX_BODY_CHARS = 20_000


def attach(request: pytest.FixtureRequest, title: str, body: str | bytes | dict | list) -> None:
    """Keep one piece of evidence on the running scenario, masked of secrets."""
    items = request.node.stash.setdefault(EVIDENCE_KEY, [])
    items.append({"title": title, "body": redact(_plain(body))})


def collected(item: pytest.Item) -> list[dict[str, Any]]:
    """The evidence attached to a test item so far."""
    return list(item.stash.get(EVIDENCE_KEY, []))


def redact(value: Any) -> Any:
    """A copy of value with secrets redacted and secret-named fields masked."""
    if isinstance(value, str):
        return redaction.redact(value)
    if isinstance(value, dict):
        return {
            str(key): mask(val) if _is_secret_name(key, val) else redact(val)
            for key, val in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(val) for val in value]
    return value


class _RedactedRepr(TerminalRepr):
    """A failure's text, redacted, with its one-line summary (what junit.xml's message and
    the results' error show)."""

    def __init__(self, text: str, crash: ReprFileLocation | None) -> None:
        self.text = text
        self.reprcrash = crash

    def toterminal(self, tw: TerminalWriter) -> None:
        for line in self.text.splitlines():
            tw.line(line)


def redact_test_report(report: pytest.TestReport) -> None:
    """Take every secret out of what pytest reports of a test phase, in place."""
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        path, line, reason = report.longrepr
        report.longrepr = (path, line, redaction.redact(reason))
    elif report.longrepr is not None:
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is not None:
            crash = ReprFileLocation(crash.path, crash.lineno, redaction.redact(crash.message))
        report.longrepr = _RedactedRepr(redaction.redact(str(report.longrepr)), crash)
    report.sections = [(title, redaction.redact(text)) for title, text in report.sections]


def mask(value: Any) -> str:
    """A secret shown only by its length and first characters."""
    text = str(value)
    if len(text) <= 8:
        return "•" * len(text)
    return f"{text[:6]}… ({len(text)} chars)"


def _is_secret_name(key: Any, value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET_NAMES.search(str(key)))


def _plain(body: str | bytes | dict | list) -> str | dict | list:
    """A JSON-ready form of body, truncated when huge."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        if len(body) > _MAX_BODY_CHARS:
            return body[:_MAX_BODY_CHARS] + f"\n… ({len(body) - _MAX_BODY_CHARS} more chars)"
        return body
    try:
        return json.loads(json.dumps(body, default=str))
    except (TypeError, ValueError):
        return str(body)
