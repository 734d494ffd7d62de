"""The runtime: what one server process shares, and its connection to the daemon.

``Runtime`` calls the daemon (turning client failures into a :class:`Refusal` that explains
them), knows who we are, and feeds the daemon's pushes and notices to the parts that own the
other jobs: the inbox (``_inbox``: messages into the event buffer), the readers (``_readers``:
whose cursor), the send policy (``_sending``), and notifications (``_notify``). ``_lifespan``
creates and closes it, so nothing touches the network at import time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus

from ..client import (
    CapabilitiesEvent,
    DisconnectEvent,
    Event,
    EventsDropped,
    FeedConnected,
    MessageEvent,
    PermissionDenied,
    PresenceEvent,
    PresenceKeeper,
    ReconnectEvent,
    SharkfinClient,
    SharkfinError,
    notification_feed,
)
from ._buffer import EventBuffer
from ._config import Settings
from ._errors import Refusal, connection_problem, explain
from ._inbox import Inbox
from ._notify import Notifier
from ._readers import Readers
from ._sending import SendPolicy
from ._uris import UNREAD_URI, history_uri

__all__ = ["Identity", "Runtime"]

log = logging.getLogger("sharkfin_mcp.server")
T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    username: str
    role: str
    type: str


class Runtime:
    def __init__(self, settings: Settings, client: SharkfinClient, bus: InMemorySubscriptionBus) -> None:
        self.settings = settings
        self.client = client
        self.buffer = EventBuffer(settings.event_buffer)
        self._identity: Identity | None = None
        self._identified: anyio.Event | None = None
        self.role_changed = False
        """A ``capabilities`` event arrived: ``me`` asks the daemon again (the old identity stays
        in use until it has answered)."""
        self.presence: PresenceKeeper | None = None
        self.notifier = Notifier(bus)
        self.readers = Readers(self.buffer, shared_transport=settings.transport == "http")
        self.refusal = settings.cleartext_refusal()
        self.sending = SendPolicy(settings, self.call, self._my_username)
        self.inbox = Inbox(client, self.buffer, whoami=self._username, changed=self._message_arrived)

    # -- calling the daemon ----------------------------------------------------------------

    async def call(self, operation: Callable[[SharkfinClient], Awaitable[T]]) -> T:
        """Run one client operation; every failure becomes a :class:`Refusal` that explains it."""
        if self.refusal:
            raise Refusal(self.refusal)
        if not self.client.connected:
            raise Refusal(self.connection_problem())
        try:
            return await operation(self.client)
        except SharkfinError as exc:
            who = self.identity
            username, role = (who.username, who.role) if who else (None, None)
            manages = await self._manages_roles(exc)
            admin_tools = self.settings.admin_tools
            raise explain(
                exc, username=username, role=role, manages_roles=manages, admin_tools=admin_tools
            ) from None

    async def _manages_roles(self, exc: SharkfinError) -> bool:
        """Whether a caller refused a permission could grant it itself (asked only then)."""
        if not isinstance(exc, PermissionDenied) or exc.permission in (None, "manage_roles"):
            return False
        try:
            return "manage_roles" in await self.client.capabilities()
        except SharkfinError:
            return False

    def connection_problem(self) -> str:
        return connection_problem(self.client.url, self.client.last_error, self.settings.api_key_source)

    @property
    def identity(self) -> Identity | None:
        """Who this server acts as, once ``me`` has learned it (``None`` until then)."""
        return self._identity

    @identity.setter
    def identity(self, value: Identity | None) -> None:
        self._identity = value
        if value is not None and self._identified is not None:
            self._identified.set()

    async def identified(self) -> Identity:
        """Wait until the identity is known (another task learns it; see ``me``)."""
        if self._identity is None:
            if self._identified is None:
                self._identified = anyio.Event()
            await self._identified.wait()
        assert self._identity is not None
        return self._identity

    async def _my_username(self) -> str:
        return (await self.me()).username

    async def me(self) -> Identity:
        """Who this server acts as, learned from ``POST /auth/register`` once, and again after a
        ``capabilities`` event (the role may have changed, PROTOCOL.md §4.6)."""
        if self.identity is None or self.role_changed:
            self.role_changed = False
            try:
                registered = await self.call(lambda c: c.register())
            except Refusal:
                if self.identity is None:
                    raise
                self.role_changed = True  # ask again next time; the old identity serves meanwhile
                return self.identity
            self.identity = Identity(registered.username, registered.role, registered.type)
            if self.inbox.floor is None:
                # Before anyone is told who we are (whoami, the first tool call): from here on,
                # every message is delivered; the background start-up retries if this fails.
                with contextlib.suppress(SharkfinError):
                    await self.inbox.take_floor()
        return self.identity

    # -- events ------------------------------------------------------------------------------

    async def pump_events(self) -> None:
        async for event in self.client.events():
            try:
                await self.ingest(event)
            except Exception:  # one bad event must not stop the stream
                log.exception("could not buffer a %s event", getattr(event, "type", "?"))

    async def ingest(self, event: Event) -> None:
        if isinstance(event, MessageEvent):
            await self.inbox.pushed(event)
        elif isinstance(event, PresenceEvent | CapabilitiesEvent):
            self.role_changed = self.role_changed or isinstance(event, CapabilitiesEvent)
            self.buffer.append(event.type, event.model_dump(mode="json", exclude={"type"}))
        elif isinstance(event, DisconnectEvent):
            self.buffer.append("connection", {"state": "disconnected", "reason": event.reason})
        elif isinstance(event, ReconnectEvent):
            self.buffer.append("connection", {"state": "reconnected", "attempts": event.attempts})
            await self.inbox.resync()
        elif isinstance(event, EventsDropped):
            self.buffer.append("events.dropped", {"count": event.count})
            await self.inbox.resync()
        else:
            self.buffer.append(event.type, {"data": getattr(event, "data", None)})

    async def pump_notices(self) -> None:
        """Follow ``/notifications/subscribe``, the only feed that carries REST-posted messages."""
        try:
            async for item in notification_feed(self.settings.url, api_key=self.settings.api_key):
                try:
                    if isinstance(item, FeedConnected):
                        if item.attempt:
                            await self.inbox.resync()
                    else:
                        await self.inbox.noticed(item)
                except SharkfinError as exc:
                    log.debug("could not follow a notice: %s", exc)
        except Exception as exc:  # a rejected key ends the feed; /ws reports the key problem itself
            log.debug("notification feed stopped: %s", exc)

    def _username(self) -> str | None:
        return self.identity.username if self.identity else None

    async def _message_arrived(self, channel: str) -> None:
        await self.notifier.resources_updated(UNREAD_URI, history_uri(channel))
