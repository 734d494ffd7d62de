"""Everything one server process shares: the daemon connection, the event buffer, who we are,
and who subscribed to which resource. Created in the MCP server's lifespan, so nothing touches
the network at import time and ``initialize`` never waits for the daemon."""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated

from ..client import (
    CapabilitiesEvent,
    DisconnectEvent,
    Event,
    EventsDropped,
    ExponentialBackoff,
    MessageEvent,
    PresenceEvent,
    PresenceKeeper,
    ReconnectEvent,
    SharkfinClient,
    SharkfinError,
)
from ._buffer import EventBuffer
from ._config import Settings
from ._errors import connection_problem, tool_error

__all__ = ["UNREAD_URI", "Identity", "Runtime", "history_uri", "open_runtime"]

log = logging.getLogger("sharkfin_mcp.server")
T = TypeVar("T")

UNREAD_URI = "sharkfin://unread"


def history_uri(channel: str) -> str:
    return f"sharkfin://channels/{channel}/history"


@dataclass(frozen=True)
class Identity:
    username: str
    role: str
    type: str


class Runtime:
    def __init__(self, settings: Settings, client: SharkfinClient, bus: InMemorySubscriptionBus) -> None:
        self.settings = settings
        self.client = client
        self.bus = bus
        self.buffer = EventBuffer(settings.event_buffer)
        self.identity: Identity | None = None
        self.presence: PresenceKeeper | None = None
        self.legacy_subscribers: dict[str, weakref.WeakSet[ServerSession]] = {}
        self.session_cursors: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    # -- calling the daemon ----------------------------------------------------------------

    async def call(self, operation: Callable[[SharkfinClient], Awaitable[T]]) -> T:
        """Run one client operation, turning every failure into a ToolError that explains it."""
        if not self.client.connected:
            raise ToolError(self.connection_problem())
        try:
            return await operation(self.client)
        except SharkfinError as exc:
            who = self.identity
            username, role = (who.username, who.role) if who else (None, None)
            raise tool_error(exc, username=username, role=role) from None

    def connection_problem(self) -> str:
        return connection_problem(self.client.url, self.client.last_error, self.settings.api_key_source)

    async def me(self) -> Identity:
        """Who this server acts as, learned once from ``POST /auth/register``."""
        if self.identity is None:
            registered = await self.call(lambda c: c.register())
            self.identity = Identity(registered.username, registered.role, registered.type)
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
            await self._ingest_message(event)
        elif isinstance(event, PresenceEvent | CapabilitiesEvent):
            self.buffer.append(event.type, event.model_dump(mode="json", exclude={"type"}))
        elif isinstance(event, DisconnectEvent):
            self.buffer.append("connection", {"state": "disconnected", "reason": event.reason})
        elif isinstance(event, ReconnectEvent):
            self.buffer.append("connection", {"state": "reconnected", "attempts": event.attempts})
        elif isinstance(event, EventsDropped):
            self.buffer.append("events.dropped", {"count": event.count})
        else:
            self.buffer.append(event.type, {"data": getattr(event, "data", None)})

    async def _ingest_message(self, event: MessageEvent, *, caught_up: bool = False) -> None:
        me = self.identity.username if self.identity else None
        if me is None:
            with contextlib.suppress(ToolError):
                me = (await self.me()).username
        data = event.model_dump(mode="json", by_alias=True, exclude={"type"}, exclude_none=True)
        self.buffer.append(
            "message.new",
            data,
            channel=event.channel,
            from_self=event.sender == me,
            mentions_me=me is not None and me in event.mentions,
            caught_up=caught_up,
        )
        await self.resources_updated(UNREAD_URI, history_uri(event.channel))

    async def resources_updated(self, *uris: str) -> None:
        """Tell subscribers in both protocol eras that these resources changed."""
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
            for session in list(self.legacy_subscribers.get(uri, ())):
                with contextlib.suppress(Exception):
                    await session.send_resource_updated(uri)


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, bus: InMemorySubscriptionBus) -> AsyncIterator[Runtime]:
    """Connect in the background, start the event pump and presence, and clean all up on exit."""
    async with contextlib.AsyncExitStack() as stack:
        if settings.sandbox:
            settings = await stack.enter_async_context(_embedded_sandbox(settings))
        client = SharkfinClient(
            settings.url,
            api_key=settings.api_key,
            request_timeout=settings.request_timeout,
            reconnect=ExponentialBackoff(initial=0.25, maximum=5.0),
            event_buffer=max(1024, settings.event_buffer),
        )
        stack.push_async_callback(client.close)
        runtime = Runtime(settings, client, bus)
        client.open_in_background()
        if settings.presence:
            runtime.presence = PresenceKeeper(settings.url, api_key=settings.api_key)
            runtime.presence.start()
            stack.push_async_callback(runtime.presence.close)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(runtime.pump_events)
            tasks.start_soon(_learn_identity, runtime)
            try:
                yield runtime
            finally:
                tasks.cancel_scope.cancel()


async def _learn_identity(runtime: Runtime) -> None:
    """Fetch who we are as soon as the daemon is reachable, so own messages can be told apart."""
    while runtime.identity is None:
        if await runtime.client.wait_connected(5.0):
            with contextlib.suppress(ToolError):
                await runtime.me()
        if runtime.identity is None:
            await anyio.sleep(1.0)


@contextlib.asynccontextmanager
async def _embedded_sandbox(settings: Settings) -> AsyncIterator[Settings]:
    """Run a sandbox daemon in this process and act as one of its demo identities."""
    from dataclasses import replace

    from ..sandbox import Sandbox

    async with Sandbox() as sandbox:
        await _seed_demo(sandbox, settings.sandbox_identity)
        yield replace(
            settings,
            url=sandbox.ws_url,
            api_key=sandbox.key(settings.sandbox_identity),
            api_key_source="sandbox",
        )


async def _seed_demo(sandbox: Any, identity: str) -> None:
    """A welcome message from alice in #general, so a first ``unread_messages`` shows something."""
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key(identity)) as me:
        await me.join_channel("general")
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice:
        await alice.join_channel("general")
        await alice.send_message(
            "general", f"Welcome to the Sharkfin sandbox, @{identity}! Try replying in this thread."
        )
