"""One redaction for everything the suite writes: reports, junit.xml, the terminal, its logs.

These are taken out of any text: the tokens this process generated (each is remembered as
it is made, and masked in either case), hook paths (`/hook/` and a 64-hex digest: the digest
is the secret part of a webhook URL), bare 64-hex digests (how Flux logs a request:
"handling request: <digest>") and JSON Web Tokens. A digest keeps its first 8 characters,
enough to tell two apart in a report; a token or a JWT is replaced whole.
"""

from __future__ import annotations

import re
import threading

HOOK_DIGEST_KEPT = 8
_HOOK_PATH = re.compile(r"/hook/([0-9a-fA-F]{8})[0-9a-fA-F]{56}")
_DIGEST = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{8})[0-9a-fA-F]{56}(?![0-9a-fA-F])")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*")
_MIN_SECRET = 8  # shorter values (an empty or test token) would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()


def remember(secret: str) -> str:
    """Mask `secret` wherever this process redacts from now on; returns it unchanged."""
    if len(secret) >= _MIN_SECRET:
        with _lock:
            _secrets.add(secret)
    return secret


def redact(text: str) -> str:
    """`text` without tokens, hook digests, bare digests or JWTs."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    lowered = text.lower()
    for secret in secrets:
        if secret.lower() in lowered:  # in either case: a near-miss request may upper-case it
            text = re.sub(re.escape(secret), f"[token: {len(secret)} chars]", text,
                          flags=re.IGNORECASE)
    text = _HOOK_PATH.sub(r"/hook/\1…", text)
    text = _DIGEST.sub(r"\1…", text)
    return _JWT.sub("[JWT]", text)


def redact_data(value: object) -> object:
    """A copy of a JSON-like value with every string (keys too) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value
