"""Keep tokens and full hook paths out of every log line.

The controller and the server register each token and hook path they learn; `redact`
shortens them, and any `/hook/<hex>` path, wherever they appear in a text: a message, a
traceback, an `extra` field, a library's log line.
"""

from __future__ import annotations

import base64
import re
import threading

_HOOK_PATH = re.compile(r"(/hook/[0-9a-fA-F]{8})[0-9a-fA-F]+")
_SHORTEST = 4  # shorter values (a test's "x") would redact ordinary words
_MASK = "[redacted]"


class _Secrets:
    """The texts that must never be logged whole and what replaces them, longest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._ordered: tuple[tuple[str, str], ...] = ()

    def add(self, texts: list[str], mask: str | None = None) -> None:
        """Register `texts`; each is replaced by `mask`, or by its first 8 characters."""
        new = {t for t in texts if len(t) >= _SHORTEST and t not in self._known}
        if not new:
            return
        with self._lock:
            for text in new:
                self._known[text] = mask if mask is not None else text[:8] + "…"
            self._ordered = tuple(sorted(self._known.items(), key=lambda kv: -len(kv[0])))

    def ordered(self) -> tuple[tuple[str, str], ...]:
        return self._ordered


_SECRETS = _Secrets()


def register_token(token: bytes | str) -> None:
    """Never log `token`, nor its base64 (as a Secret's data carries it)."""
    raw = token if isinstance(token, bytes) else token.encode("utf-8", "surrogateescape")
    texts = [base64.b64encode(raw).decode("ascii")]
    try:
        texts.append(raw.decode("utf-8"))
    except UnicodeDecodeError:
        texts.append(raw.decode("utf-8", "replace"))
    _SECRETS.add(texts, _MASK)


def register_path(path: str) -> None:
    """Never log the digest of hook path `path` whole."""
    digest = path.rsplit("/", 1)[-1]
    _SECRETS.add([digest, digest.lower(), digest.upper()])


def redact(text: str) -> str:
    """`text` with registered secrets masked and hook paths shortened to 8 hex digits."""
    text = _HOOK_PATH.sub(r"\1…", text)
    for secret, mask in _SECRETS.ordered():
        if secret in text:
            text = text.replace(secret, mask)
    return text
