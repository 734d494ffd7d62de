"""Small helpers shared by the sandbox-backed client tests."""

from __future__ import annotations

import inspect
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from sharkfin_mcp.client import Event, SharkfinClient


@asynccontextmanager
async def client_as(sandbox: Any, username: str, **options: Any) -> AsyncIterator[SharkfinClient]:
    """A connected client for ``username``, with test-sized timeouts, closed on exit."""
    options.setdefault("request_timeout", 2.0)
    options.setdefault("connect_timeout", 2.0)
    url = options.pop("url", sandbox.ws_url)
    client = await SharkfinClient.connect(url, api_key=sandbox.key(username), **options)
    try:
        yield client
    finally:
        await client.close()


async def next_event(client: SharkfinClient, within: float = 2.0) -> Event:
    with anyio.fail_after(within):
        return await anext(client.events())


async def no_event(client: SharkfinClient, within: float = 0.1) -> None:
    """Assert that nothing is pushed to ``client`` within ``within`` seconds."""
    with anyio.move_on_after(within):
        event = await anext(client.events())
        raise AssertionError(f"unexpected event {event!r}")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]], within: float = 3.0, step: float = 0.01
) -> None:
    """Poll ``predicate`` (sync or async) until it is true, failing after ``within`` seconds."""
    for _ in range(max(1, int(within / step))):
        result = predicate()
        if await result if inspect.isawaitable(result) else result:
            return
        await anyio.sleep(step)
    raise AssertionError(f"condition not met within {within} s")
