"""Typed events and the bounded stream that carries them to the client's owner.

The Go client drops events silently when its 64-slot channel is full. Here the stream is bounded
too (a slow consumer must not grow memory without limit), but a drop is never silent: the oldest
events give way, the count is kept, and the consumer receives an :class:`EventsDropped` marker in
their place, so it knows to resynchronise with ``history`` or ``unread_counts``.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._models import Metadata, NullableList

__all__ = [
    "CapabilitiesEvent",
    "DisconnectEvent",
    "Event",
    "EventStream",
    "EventsDropped",
    "MessageEvent",
    "PresenceEvent",
    "ReconnectEvent",
    "UnknownEvent",
    "parse_event",
]

log = logging.getLogger("sharkfin_mcp.client")


class _Event(BaseModel):
    # defer_build: validators are built on first use, not at import (start-up is on the clock).
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


class MessageEvent(_Event):
    """``message.new``: pushed to every member of the channel, the sender included."""

    type: Literal["message.new"] = "message.new"
    id: int
    channel: str
    channel_type: str = "channel"
    sender: str = Field(default="", alias="from")
    body: str = ""
    sent_at: datetime | None = None
    thread_id: int | None = None
    mentions: NullableList = []
    """Usernames in body order, then mention-group *slugs* (not their members)."""
    metadata: Metadata = None


class PresenceEvent(_Event):
    type: Literal["presence"] = "presence"
    username: str
    status: str
    state: str | None = None


class CapabilitiesEvent(_Event):
    type: Literal["capabilities"] = "capabilities"
    permissions: NullableList = []


class DisconnectEvent(_Event):
    """The client's own: the WebSocket dropped. Events sent meanwhile are not replayed."""

    type: Literal["disconnect"] = "disconnect"
    reason: str = ""


class ReconnectEvent(_Event):
    """The client's own: a new WebSocket is up after ``attempts`` tries."""

    type: Literal["reconnect"] = "reconnect"
    attempts: int = 1


class EventsDropped(_Event):
    """The client's own: ``count`` events were discarded because the consumer fell behind."""

    type: Literal["events.dropped"] = "events.dropped"
    count: int


class UnknownEvent(_Event):
    """A pushed frame of a type this client does not know; kept rather than lost."""

    type: str
    data: Any = None


Event = (
    MessageEvent
    | PresenceEvent
    | CapabilitiesEvent
    | DisconnectEvent
    | ReconnectEvent
    | EventsDropped
    | UnknownEvent
)

_PUSHED: dict[str, type[MessageEvent | PresenceEvent | CapabilitiesEvent]] = {
    "message.new": MessageEvent,
    "presence": PresenceEvent,
    "capabilities": CapabilitiesEvent,
}


def parse_event(event_type: str, data: Any) -> Event | None:
    """Build the typed event for a pushed frame; ``None`` (and a log line) if it is malformed."""
    model = _PUSHED.get(event_type)
    if model is None:
        return UnknownEvent(type=event_type, data=data)
    try:
        return model.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        log.warning("skipping malformed %s event: %s", event_type, exc.errors(include_input=False))
        return None


class EventStream:
    """A bounded, single-consumer FIFO of events that counts what it had to drop."""

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("event buffer capacity must be at least 1")
        self._items: collections.deque[Event] = collections.deque()
        self._capacity = capacity
        self._pending_drops = 0
        self.dropped = 0
        """Events discarded since the client started, in total."""
        self._wakeup = anyio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._items) >= self._capacity:
            self._items.popleft()
            self.dropped += 1
            self._pending_drops += 1
        self._items.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def get_nowait(self) -> Event | None:
        if self._pending_drops:
            count, self._pending_drops = self._pending_drops, 0
            return EventsDropped(count=count)
        return self._items.popleft() if self._items else None

    async def get(self) -> Event | None:
        """The next event, waiting for one; ``None`` once the stream is closed and drained."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self._closed:
                return None
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self.get()) is not None:
            yield event
