"""The event buffer agents poll and wait on: a bounded ring with sequence numbers.

Plain data-structure code with no MCP or Sharkfin knowledge, so it can be tested on its own.
Every entry gets a monotonically increasing ``seq``; readers hold a cursor (the last ``seq``
they saw) and ask for what came after it. When the ring has overwritten entries a reader had
not seen, the read says how many were lost instead of pretending nothing happened.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

__all__ = ["BufferedEvent", "EventBuffer", "Predicate", "ReadResult"]


@dataclass(frozen=True, slots=True)
class BufferedEvent:
    seq: int
    type: str
    data: dict[str, Any]
    channel: str | None = None
    from_self: bool = False
    mentions_me: bool = False
    caught_up: bool = False
    """True for messages recovered from history after a reconnect rather than pushed live."""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ReadResult:
    events: list[BufferedEvent]
    cursor: int
    """Pass this as ``after`` next time: the last seq this read covered."""
    dropped: int
    """How many events after the requested cursor had already left the buffer."""


Predicate = Callable[[BufferedEvent], bool]


class EventBuffer:
    def __init__(self, capacity: int = 5000) -> None:
        if capacity < 1:
            raise ValueError("event buffer capacity must be at least 1")
        self.capacity = capacity
        self._ring: collections.deque[BufferedEvent] = collections.deque(maxlen=capacity)
        self._last_seq = 0
        self._arrived: anyio.Event | None = None
        """Set on the next append; created only while someone waits (appends are the hot path)."""

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """The oldest seq still held (``last_seq + 1`` when empty)."""
        return self._ring[0].seq if self._ring else self._last_seq + 1

    def append(self, type_: str, data: dict[str, Any], **flags: Any) -> BufferedEvent:
        self._last_seq += 1
        event = BufferedEvent(seq=self._last_seq, type=type_, data=data, **flags)
        self._ring.append(event)
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = None
        return event

    def read(self, after: int, limit: int, matches: Predicate | None = None) -> ReadResult:
        """Up to ``limit`` matching events with ``seq > after``, oldest first."""
        after = max(0, min(after, self._last_seq))
        dropped = max(0, self.first_seq - 1 - after)
        found: list[BufferedEvent] = []
        cursor = self._last_seq
        if self._ring and after < self._last_seq:
            start = max(0, after + 1 - self._ring[0].seq)
            for index in range(start, len(self._ring)):
                event = self._ring[index]
                if matches is None or matches(event):
                    found.append(event)
                    if len(found) == limit:
                        cursor = event.seq
                        break
        return ReadResult(events=found, cursor=cursor, dropped=dropped)

    async def wait(self, after: int, limit: int, matches: Predicate | None, seconds: float) -> ReadResult:
        """Like :meth:`read`, but waits up to ``seconds`` for a first matching event.

        Events that arrive and do not match move the cursor on, so a long wait on a busy
        buffer scans each event once.
        """
        result = self.read(after, limit, matches)
        dropped = result.dropped
        with anyio.move_on_after(seconds):
            while not result.events:
                if self._last_seq == result.cursor:
                    if self._arrived is None:
                        self._arrived = anyio.Event()
                    await self._arrived.wait()
                result = self.read(result.cursor, limit, matches)
        return ReadResult(events=result.events, cursor=result.cursor, dropped=dropped + result.dropped)
