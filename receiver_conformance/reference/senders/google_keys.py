"""Sources of the public keys that sign Google OIDC ID tokens (a JWKS document).

`KeySource` is what the gcr sender needs. `UrlKeySource` fetches a JWKS over HTTP(S) with
aiohttp and caches it (Cache-Control max-age, else an hour); `FileKeySource` reads a local
JWKS file (for tests: the server can point the gcr sender at one with a test-only flag);
`StaticKeySource` holds one in memory. `key_source_from` picks one from a location string.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import aiohttp

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"

log = logging.getLogger(__name__)

_MAX_AGE = re.compile(r"max-age=(\d+)")


class KeySourceError(Exception):
    """The keys could not be obtained."""


class KeySource(Protocol):
    """Gives the current JWKS document (`{"keys": [...]}`)."""

    async def keys(self, refresh: bool = False) -> Mapping[str, Any]:
        """The JWKS; `refresh` asks for a fresh copy (an unknown key id was seen)."""
        ...


def _checked_jwks(document: Any, origin: str) -> Mapping[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeySourceError(f"{origin} is not a JWKS document")
    return document


class StaticKeySource:
    """A JWKS held in memory."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._jwks = _checked_jwks(dict(jwks), "the given keys")

    async def keys(self, refresh: bool = False) -> Mapping[str, Any]:
        return self._jwks


class FileKeySource:
    """A JWKS read from a local file, re-read on every request (off the event loop)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _read(self) -> Mapping[str, Any]:
        try:
            document = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as error:
            raise KeySourceError(f"cannot read JWKS file {self.path}: {error}") from None
        return _checked_jwks(document, str(self.path))

    async def keys(self, refresh: bool = False) -> Mapping[str, Any]:
        return await asyncio.to_thread(self._read)


class UrlKeySource:
    """A JWKS fetched over HTTP(S) and cached.

    A refresh is honoured at most every `min_refresh_interval` seconds, so tokens with
    unknown key ids cannot make the receiver hammer the key endpoint. When a fetch fails
    and keys are cached, the cached keys keep being used.
    """

    def __init__(
        self,
        url: str = GOOGLE_CERTS_URL,
        *,
        default_ttl: float = 3600.0,
        min_refresh_interval: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._default_ttl = default_ttl
        self._min_refresh_interval = min_refresh_interval
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._jwks: Mapping[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._expires_at = float("-inf")
        self._lock = asyncio.Lock()

    def _fresh_enough(self, refresh: bool) -> bool:
        now = time.monotonic()
        if self._jwks is None or now >= self._expires_at:
            return False
        return not refresh or now - self._fetched_at < self._min_refresh_interval

    async def keys(self, refresh: bool = False) -> Mapping[str, Any]:
        if self._fresh_enough(refresh):
            assert self._jwks is not None
            return self._jwks
        async with self._lock:
            if self._fresh_enough(refresh):
                assert self._jwks is not None
                return self._jwks
            try:
                jwks, ttl = await self._fetch()
            except KeySourceError:
                if self._jwks is None:
                    raise
                log.warning("keeping cached JWKS: fetching %s failed", self.url)
                self._fetched_at = time.monotonic()
                return self._jwks
            self._jwks = jwks
            self._fetched_at = time.monotonic()
            self._expires_at = self._fetched_at + ttl
            return jwks

    async def _fetch(self) -> tuple[Mapping[str, Any], float]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(self.url) as response,
            ):
                if response.status != 200:
                    raise KeySourceError(f"GET {self.url} answered {response.status}")
                document = json.loads(await response.read())
                cache_control = response.headers.get("Cache-Control", "")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise KeySourceError(f"cannot fetch JWKS from {self.url}: {error!r}") from None
        match = _MAX_AGE.search(cache_control)
        ttl = float(match.group(1)) if match else self._default_ttl
        return _checked_jwks(document, self.url), ttl


def key_source_from(location: str) -> KeySource:
    """A key source for an `https://` or `http://` URL, a `file://` URL or a local path."""
    parsed = urlparse(location)
    if parsed.scheme in ("http", "https"):
        return UrlKeySource(location)
    if parsed.scheme == "file":
        return FileKeySource(unquote(parsed.path))
    return FileKeySource(location)


_google_keys: UrlKeySource | None = None


def default_google_keys() -> KeySource:
    """The process-wide source of Google's signing keys (one shared cache)."""
    global _google_keys
    if _google_keys is None:
        _google_keys = UrlKeySource(GOOGLE_CERTS_URL)
    return _google_keys
