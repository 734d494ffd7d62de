"""The inbox: every new message in the identity's channels reaches the event buffer exactly once,
in id order per channel, however it was posted.

Why it reads history instead of trusting pushes:

* ``/ws`` pushes ``message.new`` only for WS and MCP sends; REST sends (service bots) never reach
  ``/ws`` (PROTOCOL.md §4.6, §6). The bus-driven ``/notifications/subscribe`` feed does announce
  every message in a member channel, but without its id or text (§9).
* A second ``/ws`` connection of the same username steals pushes from the first (§4.1), which is
  what happens when two agents share a key.

So a push or a notice only *names a channel*; the inbox then reads that channel's history after
the last id it buffered there (its watermark) and appends what it finds in id order. Reads are
coalesced: one runner per channel, and triggers that arrive while it reads make it read once more,
so a burst costs a few ``history`` calls, not one per message. Ids are global and increasing
(§5.3), so one floor taken at start-up bounds every channel's first read: nothing older than the
server is replayed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from ..client import (
    ClientClosed,
    Message,
    MessageEvent,
    Notification,
    RequestTimeout,
    SharkfinClient,
    SharkfinError,
    TransportError,
)
from ._buffer import EventBuffer
from ._results import message_row

__all__ = ["Inbox"]

T = TypeVar("T")

log = logging.getLogger("sharkfin_mcp.server")

PAGE = 100
"""History page size for catch-up reads: the daemon's largest (§5.5)."""
RETRY_EVERY = 0.5
"""Seconds between attempts to read while the daemon connection is down or not answering."""
START_PAGE = 20
"""The first history page read per channel at start-up; more only while all of it is recent."""
START_MARGIN = timedelta(seconds=1)
"""``sent_at`` has second precision: a message from the second the server started counts."""
PUSHED_MEMORY = 4096
"""Live push ids remembered (to tell live messages from recovered ones); bounded so memory is flat."""


class Inbox:
    """Turns pushes and notices into buffered ``message.new`` events.

    ``whoami`` returns this identity's username (``None`` while unknown); ``changed(channel)`` is
    awaited after messages of a channel were buffered (resource-update notifications).
    """

    def __init__(
        self,
        client: SharkfinClient,
        buffer: EventBuffer,
        *,
        whoami: Callable[[], str | None],
        changed: Callable[[str], Awaitable[None]],
    ) -> None:
        self.client = client
        self.buffer = buffer
        self._whoami = whoami
        self._changed = changed
        self.started = datetime.now(UTC)
        self._floor_lock = anyio.Lock()
        self.floor: int | None = None
        """The newest message id when delivery started (``None`` before): channels first seen
        later are read after it."""
        self.marks: dict[str, int] = {}
        """Per channel, the highest id buffered (or looked past): catch-up resumes after it."""
        self.dms: dict[str, str] = {}
        """DM channel name → the other participant (DM notices name the sender, not the channel)."""
        self._dirty: set[str] = set()
        self._recovering: set[str] = set()
        self._running: set[str] = set()
        self._pushed: dict[int, MessageEvent] = {}
        self._spawner: TaskGroup | None = None
        self._resync_wanted = False
        self._resyncing = False

    def start(self, spawner: TaskGroup) -> None:
        """Give the inbox a task group to run its per-channel readers in."""
        self._spawner = spawner

    # -- what arrives --------------------------------------------------------------------------

    async def take_floor(self) -> None:
        """Start delivering: buffer what each member channel received since the server started,
        then resume every channel after its newest message.

        Pushes and notices that arrive before this only mark their channel; the messages
        themselves come from here, in id order. "Since the server started" is judged by the
        daemon's ``sent_at`` (to the second, §5.3) against this process's start, less
        ``START_MARGIN``: a message posted while the server was connecting is delivered, one
        posted well before it is left to ``unread_messages``.
        """
        async with self._floor_lock:
            if self.floor is None:
                await self._take_floor()

    async def _take_floor(self) -> None:
        since = self.started - START_MARGIN
        channels = await self._member_channels()
        channels += [name for name in self._dirty if name not in channels]
        fresh: list[tuple[int, str, Message]] = []
        marks: dict[str, int] = {}
        for name in channels:
            try:
                recent = await self._recent(name, since)
            except SharkfinError as exc:  # e.g. mentioned in a channel this identity is not in
                log.debug("no start-up read of #%s: %s", name, exc)
                continue
            marks[name] = max((m.id or 0 for m in recent), default=0)
            fresh += [(m.id or 0, name, m) for m in recent if m.sent_at is not None and m.sent_at >= since]
        for _, name, message in sorted(fresh, key=lambda item: item[0]):
            await self._append(name, message_row(message), caught_up=False)
        self.marks.update(marks)
        self.floor = max(marks.values(), default=0)
        for name in {name for _, name, _ in fresh}:
            await self._changed(name)
        for name in list(self._dirty):
            self._spawn(name)

    async def _recent(self, channel: str, since: datetime) -> list[Message]:
        """The channel's newest messages, ascending, reaching back to one sent before ``since``."""
        found: list[Message] = []
        before: int | None = None
        size = START_PAGE
        while True:
            page = await self.client.history(channel, before=before, limit=size)
            found = page + found
            oldest = page[0] if page else None
            if len(page) < size or oldest is None or not oldest.id:
                return found
            if oldest.sent_at is None or oldest.sent_at < since:
                return found
            before, size = oldest.id, PAGE

    async def pushed(self, event: MessageEvent) -> None:
        """A ``message.new`` from ``/ws``: read its channel (the push itself is kept as a fallback)."""
        if self.floor is not None and event.id <= self.marks.get(event.channel, self.floor):
            return
        if event.channel_type == "dm" and event.channel not in self.dms and event.sender != self._whoami():
            self.dms[event.channel] = event.sender
        self._pushed[event.id] = event
        while len(self._pushed) > PUSHED_MEMORY:
            del self._pushed[next(iter(self._pushed))]
        self.request(event.channel)

    async def noticed(self, notice: Notification) -> None:
        """A notice from ``/notifications/subscribe``: read the channel it names."""
        channel = notice.channel
        if channel is None and notice.sender is not None:
            channel = await self._dm_with(notice.sender)
        if channel is None:
            log.debug("notice names no channel this identity can read: %s", notice.kind)
            return
        self.request(channel)

    async def resync(self) -> None:
        """After a disconnect, a dropped notice feed or an overflow: read every member channel.

        Runs in the background and retries until the channels could be listed (a connection that
        drops again meanwhile must not turn a recoverable outage into a gap).
        """
        self._resync_wanted = True
        if not self._resyncing and self._spawner is not None:
            self._resyncing = True
            self._spawner.start_soon(self._resync, name="sharkfin-inbox-resync")

    async def _resync(self) -> None:
        try:
            while self._resync_wanted:
                self._resync_wanted = False
                listed = await self._retrying(self._member_channels)
                if listed is None:
                    return
                channels = listed[0]
                channels.extend(name for name in self.marks if name not in channels)
                for name in channels:
                    self._recovering.add(name)
                    self.request(name)
        finally:
            self._resyncing = False

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> tuple[T, bool] | None:
        """Run ``operation`` until it succeeds, waiting out transport failures: its value, and
        whether it had to wait (what it found was then missed live); ``None`` once the client is
        closed. Failures the daemon itself reports are raised."""
        waited = False
        while True:
            try:
                return await operation(), waited
            except ClientClosed:
                return None
            except (TransportError, RequestTimeout) as exc:
                log.debug("inbox waits for the connection: %s", exc)
                waited = True
                await self.client.wait_connected(RETRY_EVERY)
                await anyio.sleep(RETRY_EVERY / 10)

    def request(self, channel: str) -> None:
        self._dirty.add(channel)
        if self.floor is not None:
            self._spawn(channel)

    # -- reading -------------------------------------------------------------------------------

    def _spawn(self, channel: str) -> None:
        if channel in self._running or self._spawner is None:
            return
        self._running.add(channel)
        self._spawner.start_soon(self._run, channel, name=f"sharkfin-inbox-{channel}")

    async def _run(self, channel: str) -> None:
        try:
            while channel in self._dirty:
                self._dirty.discard(channel)
                recovering = channel in self._recovering
                self._recovering.discard(channel)
                await self._read(channel, recovering=recovering)
            await self._unconfirmed(channel)
        finally:
            self._running.discard(channel)

    def _pushes_after(self, channel: str, mark: int) -> list[MessageEvent]:
        return sorted(
            (e for e in self._pushed.values() if e.channel == channel and e.id > mark), key=lambda e: e.id
        )

    async def _unconfirmed(self, channel: str) -> None:
        """Pushes that a read issued after they arrived still did not show. The daemon stores a
        message before pushing it (§4.6), so this means a daemon whose history disagrees with
        its pushes; the push is then the only record, and is kept rather than lost."""
        _, kept = await self._keep_pushes(channel)
        if kept:
            log.debug("kept %d pushed message(s) that #%s's history did not show", kept, channel)

    async def _keep_pushes(self, channel: str) -> tuple[int, int]:
        """Append the pushes for ``channel`` beyond its watermark, as the record of themselves.
        Returns the watermark they started from and how many were kept."""
        mark = self.marks.get(channel, self.floor or 0)
        pushes = self._pushes_after(channel, mark)
        for event in pushes:
            self.marks[channel] = event.id
            self._pushed.pop(event.id, None)
            await self._append(channel, message_row(event), caught_up=False)
        if pushes:
            await self._changed(channel)
        return mark, len(pushes)

    async def _read(self, channel: str, *, recovering: bool) -> None:
        assert self.floor is not None
        after = self.marks.get(channel, self.floor)
        found = 0
        while True:
            try:
                read = functools.partial(self.client.history, channel, after=after, limit=PAGE)
                outcome = await self._retrying(read)
            except SharkfinError as exc:
                await self._fallback(channel, exc)
                break
            if outcome is None:
                return
            page, waited = outcome
            recovering = recovering or waited
            for message in page:
                if not message.id or message.id <= after:
                    continue
                after = message.id
                self.marks[channel] = after
                live = self._pushed.pop(after, None) is not None
                await self._append(channel, message_row(message), caught_up=recovering and not live)
                found += 1
            if len(page) < PAGE:
                break
        if found:
            if recovering:
                log.debug("caught up %d message(s) in #%s", found, channel)
            await self._changed(channel)

    async def _fallback(self, channel: str, exc: SharkfinError) -> None:
        """History is unreadable (no permission, no longer a member): keep what pushes brought."""
        mark, kept = await self._keep_pushes(channel)
        if not kept:
            self.buffer.append("gap", {"channel": channel, "after_id": mark, "reason": str(exc)})

    async def _append(self, channel: str, row: dict[str, Any], *, caught_up: bool) -> None:
        me = self._whoami()
        mentions = row.get("mentions") or ()
        self.buffer.append(
            "message.new",
            row,
            channel=channel,
            from_self=me is not None and row["from"] == me,
            mentions_me=me is not None and me in mentions,
            caught_up=caught_up,
        )

    async def _member_channels(self) -> list[str]:
        """Member channels, then DMs (refreshing the DM map on the way)."""
        channels = [c.name for c in await self.client.channels() if c.member]
        dms = await self.client.dm_list()
        self.dms.update({d.channel: d.participant for d in dms})
        return channels + sorted(d.channel for d in dms)

    async def _dm_with(self, sender: str) -> str | None:
        for channel, participant in self.dms.items():
            if participant == sender:
                return channel
        try:
            dms = await self.client.dm_list()
        except SharkfinError:
            return None
        self.dms.update({d.channel: d.participant for d in dms})
        return next((c for c, p in self.dms.items() if p == sender), None)
