"""The in-memory view shared by the controller and the HTTP server.

The controller keeps it current from its watches; the server answers a request from
it alone: webhook path → Receiver, and the data of the Secrets Receivers reference.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import redact
from .api import TOKEN_KEY, Receiver


class Index:
    """Receivers by key and by `status.webhookPath`, and Secret data by key."""

    def __init__(self) -> None:
        self._receivers: dict[str, Receiver] = {}
        self._by_path: dict[str, str] = {}
        self._secrets: dict[str, Mapping[str, bytes]] = {}

    def __len__(self) -> int:
        return len(self._receivers)

    def put(self, receiver: Receiver) -> bool:
        """Record a Receiver as last seen; an older resourceVersion is ignored."""
        old = self._receivers.get(receiver.key)
        if old is not None:
            if old.uid == receiver.uid and _older(receiver.resource_version, old.resource_version):
                return False
            if old.webhook_path and self._by_path.get(old.webhook_path) == old.key:
                del self._by_path[old.webhook_path]
        self._receivers[receiver.key] = receiver
        if receiver.webhook_path:
            redact.register_path(receiver.webhook_path)
            self._by_path[receiver.webhook_path] = receiver.key
        return True

    def remove(self, key: str) -> None:
        old = self._receivers.pop(key, None)
        if old and old.webhook_path and self._by_path.get(old.webhook_path) == key:
            del self._by_path[old.webhook_path]

    def get(self, key: str) -> Receiver | None:
        return self._receivers.get(key)

    def receivers(self) -> list[Receiver]:
        return list(self._receivers.values())

    def by_path(self, path: str) -> Receiver | None:
        """The Receiver whose status.webhookPath is `path`, or None."""
        key = self._by_path.get(path)
        return self._receivers.get(key) if key else None

    def referencing(self, secret_key: str) -> list[Receiver]:
        """Receivers whose spec.secretRef names the Secret `namespace/name`."""
        return [r for r in self._receivers.values() if r.secret_key == secret_key]

    def put_secret(self, key: str, data: Mapping[str, bytes]) -> None:
        if TOKEN_KEY in data:
            redact.register_token(data[TOKEN_KEY])
        self._secrets[key] = data

    def remove_secret(self, key: str) -> None:
        self._secrets.pop(key, None)

    def secret(self, key: str | None) -> Mapping[str, bytes] | None:
        """The data of Secret `namespace/name`, or None when it does not exist."""
        return self._secrets.get(key) if key else None

    def secret_for(self, receiver: Receiver) -> Mapping[str, bytes] | None:
        return self.secret(receiver.secret_key)


def _older(candidate: str, current: str) -> bool:
    """True when resourceVersion `candidate` is known to precede `current`."""
    try:
        return int(candidate) < int(current)
    except ValueError:
        return False
