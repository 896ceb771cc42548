"""Coalesced writes: one PATCH per object in flight; requests arriving meanwhile share the next.

Many pushes to one source at once would each write the same annotation in turn. Instead, a
request that arrives while a PATCH of its object is in flight joins the batch for the next
PATCH, which carries the newest body (the greatest `version`: the latest timestamp). Every
caller returns only once a PATCH that started after it arrived has completed, with that
PATCH's result or error: nothing is lost, no request is answered before it is persisted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Patch = Callable[[str, Any], Awaitable[Any]]


@dataclass
class _Slot:
    """One object's state: the batch waiting for the next PATCH, and its driver."""

    waiting: asyncio.Future[Any] | None = None
    body: Any = None
    version: str = ""
    driver: asyncio.Task[None] | None = None


class Coalescer:
    """Coalesces `patch(path, body)` calls per path."""

    def __init__(self, patch: Patch) -> None:
        self._patch = patch
        self._slots: dict[str, _Slot] = {}

    async def patch(self, path: str, body: Any, version: str = "") -> Any:
        """PATCH `path` with `body`, or with a newer body of a PATCH that starts after now."""
        slot = self._slots.setdefault(path, _Slot())
        if slot.waiting is None:
            slot.waiting = asyncio.get_running_loop().create_future()
            slot.waiting.add_done_callback(_retrieve)
        if slot.body is None or version >= slot.version:
            slot.body, slot.version = body, version
        batch = slot.waiting
        if slot.driver is None:
            slot.driver = asyncio.create_task(self._drive(path, slot))
        # A caller that goes away (client disconnect) must not cancel the others' PATCH.
        return await asyncio.shield(batch)

    async def _drive(self, path: str, slot: _Slot) -> None:
        batch: asyncio.Future[Any] | None = None
        try:
            while slot.waiting is not None:
                batch, body = slot.waiting, slot.body
                slot.waiting, slot.body, slot.version = None, None, ""
                # From here on, arrivals wait for the next PATCH.
                try:
                    result = await self._patch(path, body)
                except Exception as exc:
                    batch.set_exception(exc)
                else:
                    batch.set_result(result)
        finally:  # cancelled (shutdown): nobody is left waiting forever
            for pending in (batch, slot.waiting):
                if pending is not None and not pending.done():
                    pending.cancel()
            slot.driver = None
            slot.waiting = None
            self._slots.pop(path, None)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an error as seen: every caller of a batch may have gone away."""
    if not future.cancelled():
        future.exception()
