"""Everything one server process shares: the daemon connection, the event buffer, who we are,
and who subscribed to which resource. Created in the MCP server's lifespan, so nothing touches
the network at import time and ``initialize`` never waits for the daemon."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent

from ..client import (
    CapabilitiesEvent,
    DisconnectEvent,
    Event,
    EventsDropped,
    ExponentialBackoff,
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
from ._errors import connection_problem, tool_error
from ._inbox import Inbox
from ._readers import Readers
from ._safety import ChannelPolicy, IdempotencyCache, RateLimiter
from ._sessions import ConnectionTable
from ._uris import UNREAD_URI, canonical, history_uri, spellings

__all__ = ["RUNTIME_CLOSED", "Identity", "QuietBus", "Runtime", "open_runtime"]

log = logging.getLogger("sharkfin_mcp.server")
T = TypeVar("T")

IDEMPOTENCY_SCAN = 100
"""How many of a channel's newest messages are searched for an idempotency key this process has
not seen (the daemon's largest page, PROTOCOL.md §5.5)."""
RUNTIME_CLOSED = threading.Event()
"""Set once a runtime has closed its daemon sockets: a shutting-down process may then exit."""


class QuietBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, skipping the fan-out (and the event-loop turn that ends it)
    while nobody listens: otherwise every message of a burst pays two loop turns for nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners = 0

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self.listeners += 1
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                self.listeners -= 1
                unsubscribe()

        return once

    async def publish(self, event: ServerEvent) -> None:
        if self.listeners:
            await super().publish(event)


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
        self.role_changed = False
        """A ``capabilities`` event arrived: ``me`` asks the daemon again (the old identity stays
        in use until it has answered)."""
        self.presence: PresenceKeeper | None = None
        self.legacy_subscribers: dict[str, dict[str, ConnectionTable[ServerSession]]] = {}
        """Handshake-era ``resources/subscribe``: per canonical URI, per spelling a client used, a
        session of each subscribed connection (a stored session keeps working after its request)."""
        self.readers = Readers(self.buffer, shared_transport=settings.transport == "http")
        self.refusal = settings.cleartext_refusal()
        self.policy = ChannelPolicy.parse(settings.send_channels)
        self.rate = RateLimiter(settings.max_sends_per_minute)
        self.idempotency = IdempotencyCache()
        self.inbox = Inbox(client, self.buffer, whoami=self._username, changed=self._message_arrived)

    # -- calling the daemon ----------------------------------------------------------------

    async def call(self, operation: Callable[[SharkfinClient], Awaitable[T]]) -> T:
        """Run one client operation, turning every failure into a ToolError that explains it."""
        if self.refusal:
            raise ToolError(self.refusal)
        if not self.client.connected:
            raise ToolError(self.connection_problem())
        try:
            return await operation(self.client)
        except SharkfinError as exc:
            who = self.identity
            username, role = (who.username, who.role) if who else (None, None)
            manages = await self._manages_roles(exc)
            admin_tools = self.settings.admin_tools
            raise tool_error(
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

    async def me(self) -> Identity:
        """Who this server acts as, learned from ``POST /auth/register`` once, and again after a
        ``capabilities`` event (the role may have changed, PROTOCOL.md §4.6)."""
        if self.identity is None or self.role_changed:
            self.role_changed = False
            try:
                registered = await self.call(lambda c: c.register())
            except ToolError:
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
        await self.resources_updated(UNREAD_URI, history_uri(channel))

    async def send(
        self,
        channel: str,
        body: str,
        *,
        thread_id: int | None,
        metadata: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> tuple[int, bool]:
        """Send with the operator's controls applied; returns (id, was_duplicate)."""
        if not self.policy.permits(channel):
            raise ToolError(
                f"sending to #{channel} is not allowed by this server's configuration "
                f"(SHARKFIN_SEND_CHANNELS allows: {self.policy.describe()}); do not retry, "
                "send to an allowed channel or ask the operator"
            )
        if idempotency_key:
            known = self.idempotency.lookup(idempotency_key)
            if known is None:
                # Not sent by this process (or it has restarted since): the daemon's recent
                # history is the only memory that survives, so look there before posting.
                known = await self._find_sent(channel, idempotency_key)
                if known is not None:
                    self.idempotency.finish(idempotency_key, known)
            if known is not None:
                return known, True
        wait = self.rate.try_acquire()
        if wait:
            raise ToolError(
                f"send rate limit reached ({self.rate.limit} messages per minute, set by "
                f"SHARKFIN_MAX_SENDS_PER_MINUTE); the next send is possible in {wait:.0f} s. If you "
                "are repeating yourself in a loop, stop and reconsider."
            )
        if idempotency_key:
            metadata = {**(metadata or {}), "idempotency_key": idempotency_key}
        new_id = await self.call(
            lambda c: c.send_message(channel, body, thread_id=thread_id, metadata=metadata)
        )
        if idempotency_key:
            self.idempotency.finish(idempotency_key, new_id)
        return new_id, False

    async def _find_sent(self, channel: str, key: str) -> int | None:
        """Our own message carrying ``key`` among the channel's newest ``IDEMPOTENCY_SCAN``
        messages and no older than the idempotency window; ``None`` if there is none."""
        me = (await self.me()).username
        recent = await self.call(lambda c: c.history(channel, limit=IDEMPOTENCY_SCAN))
        oldest = datetime.now(UTC) - timedelta(seconds=self.idempotency.window)
        for message in reversed(recent):
            if message.sent_at is not None and message.sent_at < oldest:
                break
            meta = message.metadata
            if message.sender == me and isinstance(meta, dict) and meta.get("idempotency_key") == key:
                return message.id
        return None

    async def resources_updated(self, *uris: str) -> None:
        """Tell subscribers in both protocol eras that these resources changed, each on the
        spelling of the URI it subscribed with (see ``_uris``)."""
        for uri in uris:
            for form in spellings(uri):
                await self.bus.publish(ResourceUpdated(uri=form))
            for original, table in self.legacy_subscribers.get(canonical(uri), {}).items():
                for session in table.values():
                    with contextlib.suppress(Exception):
                        await session.send_resource_updated(original)


def reconnect_backoff() -> ExponentialBackoff:
    """Capped, jittered: a fleet of agents must not reconnect in lock-step after a restart."""
    return ExponentialBackoff(initial=0.25, maximum=5.0)


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, bus: InMemorySubscriptionBus) -> AsyncIterator[Runtime]:
    """Connect in the background, start the event pump and presence, and clean all up on exit."""
    RUNTIME_CLOSED.clear()
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(RUNTIME_CLOSED.set)
        if settings.sandbox:
            settings = await stack.enter_async_context(_embedded_sandbox(settings))
        client = SharkfinClient(
            settings.url,
            api_key=settings.api_key,
            request_timeout=settings.request_timeout,
            reconnect=reconnect_backoff(),
            event_buffer=max(1024, settings.event_buffer),
        )
        stack.push_async_callback(client.close)
        runtime = Runtime(settings, client, bus)
        if runtime.refusal:
            log.error("%s", runtime.refusal)
        else:
            client.open_in_background()
        if settings.presence and not runtime.refusal:
            runtime.presence = PresenceKeeper(settings.url, api_key=settings.api_key)
            runtime.presence.start()
            stack.push_async_callback(runtime.presence.close)
        async with anyio.create_task_group() as tasks:
            runtime.inbox.start(tasks)
            tasks.start_soon(runtime.pump_events)
            if not runtime.refusal:
                tasks.start_soon(runtime.pump_notices)
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
    while runtime.inbox.floor is None:
        try:
            await runtime.inbox.take_floor()
        except SharkfinError as exc:
            log.debug("could not take the message floor yet: %s", exc)
            await anyio.sleep(1.0)


@contextlib.asynccontextmanager
async def _embedded_sandbox(settings: Settings) -> AsyncIterator[Settings]:
    """Run a sandbox daemon in this process and act as one of its demo identities."""
    from ..sandbox import Sandbox

    async with Sandbox() as sandbox:
        await _seed_demo(sandbox, settings.sandbox_identity)
        yield settings.model_copy(
            update={
                "url": sandbox.ws_url,
                "api_key": sandbox.key(settings.sandbox_identity),
                "api_key_source": "sandbox",
            }
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
