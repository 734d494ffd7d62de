"""Fixtures for the client tests: a raw scripted mock daemon and a real sandbox daemon.

``mock_daemon(handler)`` serves one ``websockets`` handler on a free loopback port, for frames the
sandbox never sends (``type:"reply", ok:false``, a DM with ``participants``, a push before a reply,
a server that closes mid-request). The real fake
daemon is the shared ``sandbox`` fixture of tests/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

Handler = Callable[[ServerConnection], Awaitable[None]]


@dataclass
class MockDaemon:
    url: str
    port: int
    headers: list[dict[str, str]] = field(default_factory=list)
    """The upgrade request headers of every connection, in order."""
    connections: int = 0


@asynccontextmanager
async def _serve_mock(handler: Handler) -> AsyncIterator[MockDaemon]:
    daemon: MockDaemon | None = None

    async def wrapped(ws: ServerConnection) -> None:
        assert daemon is not None
        daemon.connections += 1
        assert ws.request is not None
        daemon.headers.append(dict(ws.request.headers.raw_items()))
        await handler(ws)

    async with serve(wrapped, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        daemon = MockDaemon(url=f"ws://127.0.0.1:{port}/ws", port=port)
        yield daemon


@pytest.fixture
def mock_daemon() -> Callable[[Handler], AbstractAsyncContextManager[MockDaemon]]:
    """``async with mock_daemon(handler) as daemon: ... daemon.url``."""
    return _serve_mock


def reply(request: dict[str, Any], d: Any = None, *, type_: str = "reply", ok: bool = True) -> str:
    """A reply frame to ``request`` in the daemon's shape (``d`` omitted when None)."""
    frame: dict[str, Any] = {"type": type_, "ref": request["ref"], "ok": ok}
    if d is not None:
        frame["d"] = d
    return json.dumps(frame)


def scripted(answers: dict[str, Any], log: list[dict[str, Any]] | None = None) -> Handler:
    """A handler answering each op from ``answers``: a ``d`` value, or ``callable(request) -> frames``.

    Every decoded request is appended to ``log`` when given.
    """

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            request = json.loads(raw)
            if log is not None:
                log.append(request)
            answer = answers.get(request["type"])
            if callable(answer):
                for frame in answer(request):
                    await ws.send(frame)
            elif request["type"] == "ping":
                await ws.send(reply(request, type_="pong"))
            else:
                await ws.send(reply(request, answer))

    return handler
