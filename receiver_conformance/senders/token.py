"""The guide's webhook token and the hook path a receiver derives from it."""

from __future__ import annotations

import hashlib
import os

from receiver_conformance import redaction

HOOK_PREFIX = "/hook/"


def generate_token() -> str:
    """A token as the guide makes one: hex SHA-1 of 12 random bytes (40 hex characters);
    remembered, so that no report or log of this process shows it."""
    return redaction.remember(hashlib.sha1(os.urandom(12)).hexdigest())


def webhook_path(token: str, name: str, namespace: str) -> str:
    """`/hook/` + hex SHA-256 of token + receiver name + receiver namespace."""
    digest = hashlib.sha256((token + name + namespace).encode("utf-8")).hexdigest()
    return HOOK_PREFIX + digest


def short_path(path: str, keep: int = 8) -> str:
    """A hook path shortened for logs and reports: the prefix and a few digest characters."""
    if path.startswith(HOOK_PREFIX):
        return HOOK_PREFIX + path[len(HOOK_PREFIX) : len(HOOK_PREFIX) + keep] + "…"
    return path[:keep] + "…"
