"""Everything one server process shares: the daemon connection, the event buffer, who we are,
and who subscribed to which resource. Created in the MCP server's lifespan, so nothing touches
the network at import time and ``initialize`` never waits for the daemon."""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
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
from ._safety import ChannelPolicy, IdempotencyCache, RateLimiter
from ._sessions import ConnectionTable

__all__ = ["RUNTIME_CLOSED", "UNREAD_URI", "Identity", "QuietBus", "Runtime", "history_uri", "open_runtime"]

log = logging.getLogger("sharkfin_mcp.server")
T = TypeVar("T")

UNREAD_URI = "sharkfin://unread"
SEEN_WINDOW = 4096
"""Recent message ids remembered to drop duplicates where a live push and a catch-up meet; they
meet only at the newest ids, so a fixed window keeps memory flat however many messages pass."""
RUNTIME_CLOSED = threading.Event()
"""Set once a runtime has closed its daemon sockets: a shutting-down process may then exit."""


def history_uri(channel: str) -> str:
    return f"sharkfin://channels/{channel}/history"


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
        self.presence: PresenceKeeper | None = None
        self.legacy_subscribers: dict[str, ConnectionTable[ServerSession]] = {}
        """Handshake-era ``resources/subscribe``: per URI, a session of each subscribed connection
        (a stored session keeps working after its request ends)."""
        self.cursors: ConnectionTable[int] = ConnectionTable()
        """Where each connection's previous poll or wait left off."""
        self.refusal = settings.cleartext_refusal()
        self.policy = ChannelPolicy.parse(settings.send_channels)
        self.rate = RateLimiter(settings.max_sends_per_minute)
        self.idempotency = IdempotencyCache()
        self.high_water: int | None = None
        """The highest message id known to exist when last in touch: where catch-up resumes (ids are
        global). ``None`` until a baseline is taken or a message is seen."""
        self._seen_order: collections.deque[int] = collections.deque()
        self._seen: set[int] = set()

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
            await self.catch_up()
        elif isinstance(event, EventsDropped):
            self.buffer.append("events.dropped", {"count": event.count})
            await self.catch_up()
        else:
            self.buffer.append(event.type, {"data": getattr(event, "data", None)})

    def _first_sighting(self, message_id: int) -> bool:
        """False for a message already buffered (live and caught-up copies meet here)."""
        if message_id in self._seen:
            return False
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > SEEN_WINDOW:
            self._seen.discard(self._seen_order.popleft())
        self.high_water = max(self.high_water or 0, message_id)
        return True

    async def _ingest_message(self, event: MessageEvent, *, caught_up: bool = False) -> None:
        if not self._first_sighting(event.id):
            return
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

    async def establish_baseline(self) -> None:
        """Record the newest message id now, so a later catch-up knows where to start."""
        newest = 0
        channels, dms = await self._member_channels()
        for name in channels + sorted(dms):
            page = await self.client.history(name, limit=1)
            if page and page[-1].id:
                newest = max(newest, page[-1].id)
        self.high_water = max(self.high_water or 0, newest)

    async def _member_channels(self) -> tuple[list[str], set[str]]:
        """The channels and the DMs this identity is in."""
        channels = [c.name for c in await self.client.channels() if c.member]
        return channels, {d.channel for d in await self.client.dm_list()}

    async def catch_up(self) -> None:
        """Buffer, in id order and marked ``caught_up``, the messages posted while events were
        not arriving (a disconnect or an overflow), so an agent polling the buffer loses none.

        Message ids are global and increasing, so everything newer than ``high_water`` in every
        member channel is exactly what was missed. Where that cannot be read, a ``gap`` entry
        says so instead.
        """
        since = self.high_water
        if since is None:
            self.buffer.append("gap", {"reason": "disconnected before the first baseline was taken"})
            return
        missed: list[tuple[str, Any]] = []
        try:
            channels, dms = await self._member_channels()
        except SharkfinError as exc:
            self.buffer.append("gap", {"after_id": since, "reason": f"could not list channels: {exc}"})
            return
        for name in channels + sorted(dms):
            after = since
            while True:
                try:
                    page = await self.client.history(name, after=after, limit=100)
                except SharkfinError as exc:
                    self.buffer.append("gap", {"channel": name, "after_id": after, "reason": str(exc)})
                    break
                missed.extend((name, m) for m in page)
                if len(page) < 100 or not page[-1].id:
                    break
                after = page[-1].id
        for name, message in sorted(missed, key=lambda item: item[1].id or 0):
            event = MessageEvent.model_validate(
                {
                    **message.model_dump(by_alias=True, exclude_none=True),
                    "channel": name,
                    "channel_type": "dm" if name in dms else "channel",
                }
            )
            await self._ingest_message(event, caught_up=True)
        if missed:
            log.info("caught up %d message(s) missed since id %d", len(missed), since)

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
            if self.idempotency.begin(idempotency_key):
                earlier = await self._find_sent(channel, idempotency_key)
                if earlier is not None:
                    self.idempotency.finish(idempotency_key, earlier)
                    return earlier, True
            metadata = {**(metadata or {}), "idempotency_key": idempotency_key}
        new_id = await self.call(
            lambda c: c.send_message(channel, body, thread_id=thread_id, metadata=metadata)
        )
        if idempotency_key:
            self.idempotency.finish(idempotency_key, new_id)
        return new_id, False

    async def _find_sent(self, channel: str, key: str) -> int | None:
        """After a send whose reply was lost: did it land? Look for our message carrying the key."""
        me = (await self.me()).username
        recent = await self.call(lambda c: c.history(channel, limit=100))
        for message in reversed(recent):
            meta = message.metadata
            if message.sender == me and isinstance(meta, dict) and meta.get("idempotency_key") == key:
                return message.id
        return None

    async def resources_updated(self, *uris: str) -> None:
        """Tell subscribers in both protocol eras that these resources changed."""
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
            table = self.legacy_subscribers.get(uri)
            for session in table.values() if table else ():
                with contextlib.suppress(Exception):
                    await session.send_resource_updated(uri)


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
    with contextlib.suppress(SharkfinError):
        await runtime.establish_baseline()


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
