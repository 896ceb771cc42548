"""One redaction for all the suite writes: tokens it made, hook paths, digests and JWTs."""

from __future__ import annotations

import pytest

from receiver_conformance import redaction
from receiver_conformance.senders.token import generate_token

DIGEST = "0123456789abcdef" * 4
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(("text", "shown"), [
    (f"POST /hook/{DIGEST} 200", "POST /hook/01234567… 200"),
    (f"handling request: {DIGEST}", "handling request: 01234567…"),
    (f'"digest":"{DIGEST.upper()}"', '"digest":"01234567…"'),
    (f"Authorization: Bearer {JWT}", "Authorization: Bearer [JWT]"),
    ("commit 0123456789abcdef0123456789abcdef01234567", "commit "
     "0123456789abcdef0123456789abcdef01234567"),  # 40 hex: a commit, not a secret
    (DIGEST + "0", DIGEST + "0"),  # 65 hex characters are not a SHA-256 digest
    ("nothing secret", "nothing secret"),
])
def test_patterns(text: str, shown: str) -> None:
    assert redaction.redact(text) == shown


def test_a_generated_token_is_masked_wherever_it_appears() -> None:
    token = generate_token()
    text = f"token={token}; upper={token.upper()}"
    assert redaction.redact(text) == "token=[token: 40 chars]; upper=[token: 40 chars]"
    assert redaction.redact_data({token: [token, 1]}) == {
        "[token: 40 chars]": ["[token: 40 chars]", 1]}


def test_short_values_are_not_remembered() -> None:
    redaction.remember("abc")
    assert redaction.redact("abc abc") == "abc abc"
