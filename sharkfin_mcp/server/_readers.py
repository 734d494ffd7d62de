"""Who has read what: one implicit event cursor per MCP client, that filters never move past.

A reader is an MCP client with a stable identity: the stdio process's one client, or a
handshake-era connection (on streamable HTTP, its ``Mcp-Session-Id``). Modern-era (2026-07-28)
requests over HTTP carry no session, so there a call is its own reader and must pass ``after``
to continue (see :meth:`Readers.reader`).

A reader's state is a cursor plus the set of events after it that it has already been given.
A call returns matching events it has not been given, and only those become "given": an event a
filter or a limit left out stays for the reader's next call, so no call can make a later one miss
anything. The cursor advances over the given events it has reached, so state stays small for
readers that take everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._buffer import BufferedEvent, EventBuffer, Predicate
from ._sessions import PROCESS, ConnectionTable, connection_key

__all__ = ["Reader", "Readers"]


@dataclass
class Reader:
    cursor: int
    """Every event with ``seq <= cursor`` was given to this reader (or left the buffer)."""
    given: set[int] = field(default_factory=set)
    """Events after ``cursor`` already given."""

    def unseen(self, matches: Predicate) -> Predicate:
        """``matches`` restricted to the events this reader has not been given."""
        given = self.given
        return lambda event: event.seq not in given and matches(event)

    def record(self, events: list[BufferedEvent]) -> None:
        """Record ``events`` as given, without settling drops (an explicit cursor's read: what
        left the buffer meanwhile is still this reader's to be told of on its next own read)."""
        self.given.update(e.seq for e in events if e.seq > self.cursor)

    def take(self, events: list[BufferedEvent], buffer: EventBuffer) -> int:
        """Record ``events`` as given; returns how many events left the buffer before this reader
        was given them (counted once, then forgotten)."""
        self.record(events)
        dropped = 0
        oldest = buffer.first_seq
        if self.cursor < oldest - 1:
            gone = {s for s in self.given if s < oldest}
            dropped = (oldest - 1 - self.cursor) - len(gone)
            self.given -= gone
            self.cursor = oldest - 1
        while self.cursor + 1 in self.given:
            self.cursor += 1
            self.given.discard(self.cursor)
        return dropped


class Readers:
    """The readers of one server process, bounded in number (see :class:`ConnectionTable`)."""

    def __init__(self, buffer: EventBuffer, *, shared_transport: bool) -> None:
        self.buffer = buffer
        self.shared_transport = shared_transport
        """True on streamable HTTP, where a request without a session is no one's in particular."""
        self._table: ConnectionTable[Reader] = ConnectionTable()

    def opened(self, session: Any) -> None:
        """A client finished its handshake: it reads from this moment on, not from the past."""
        if connection_key(session) is not PROCESS and self._table.get(session, None) is None:
            self._table.set(session, Reader(self.buffer.last_seq))

    def reader(self, session: Any) -> Reader | None:
        """This client's reader; ``None`` when the request has no stable client (modern-era HTTP).

        The stdio process's reader starts at the beginning of the buffer, which the process
        started with it; a connection first seen without a handshake starts now.
        """
        key = connection_key(session)
        if key is PROCESS and self.shared_transport:
            return None
        found = self._table.get(session, None)
        if found is None:
            found = Reader(0 if key is PROCESS else self.buffer.last_seq)
            self._table.set(session, found)
        return found
