"""The runtime's life: connect in the background, start the event pumps and presence, learn who
we are, and close every daemon socket on the way out (the identity then goes offline)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus

from ..client import ExponentialBackoff, PresenceKeeper, SharkfinClient, SharkfinError
from ._config import Settings
from ._errors import Refusal
from ._runtime import Runtime

__all__ = ["RUNTIME_CLOSED", "open_runtime", "reconnect_backoff"]

log = logging.getLogger("sharkfin_mcp.server")

RUNTIME_CLOSED = threading.Event()
"""Set once a runtime has closed its daemon sockets: a shutting-down process may then exit."""


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
            tasks.start_soon(_start_delivery, runtime)
            try:
                yield runtime
            finally:
                tasks.cancel_scope.cancel()


async def _learn_identity(runtime: Runtime) -> None:
    """Fetch who we are as soon as the daemon is reachable, so own messages can be told apart."""
    while runtime.identity is None:
        if await runtime.client.wait_connected(5.0):
            with contextlib.suppress(Refusal):
                await runtime.me()
        if runtime.identity is None:
            await anyio.sleep(1.0)


IDENTITY_WAIT = 2.0
"""Seconds delivery waits for the identity (to tell own messages apart) before starting anyway."""


async def _start_delivery(runtime: Runtime) -> None:
    """Start the inbox once connected. Delivery does not depend on the identity: if learning it
    fails (its REST call, PROTOCOL.md §6), messages still arrive, only not marked as our own."""
    with anyio.move_on_after(IDENTITY_WAIT):
        await runtime.identified()
    while runtime.inbox.floor is None:
        if not await runtime.client.wait_connected(5.0):
            continue
        try:
            await runtime.inbox.take_floor()
        except SharkfinError as exc:
            log.debug("could not start delivery yet: %s", exc)
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
