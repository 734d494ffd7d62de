"""Raw-socket helpers for the sandbox tests (no project client involved)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection, connect

from sharkfin_mcp.sandbox import Sandbox

TS = "2026-04-18T09:30:05Z"


def auth(sb: Sandbox, user: str) -> dict[str, str]:
    return {"Authorization": "ApiKey-v1 " + sb.key(user)}


class WS:
    """A raw ``/ws`` connection with request/receive helpers."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.n = 0

    async def send_raw(self, text: str) -> None:
        await self.conn.send(text)

    async def recv(self, wait: float = 2.0) -> dict[str, Any]:
        with anyio.fail_after(wait):
            value: dict[str, Any] = json.loads(await self.conn.recv())
            return value

    async def req(self, type_: str, d: Any = ..., **extra: Any) -> dict[str, Any]:
        """Send a request (ref r<N>; ``d`` omitted unless given) and return the next frame."""
        self.n += 1
        frame: dict[str, Any] = {"type": type_, "ref": f"r{self.n}", **extra}
        if d is not ...:
            frame["d"] = d
        await self.conn.send(json.dumps(frame))
        return await self.recv()

    async def ok(self, type_: str, d: Any = ...) -> Any:
        reply = await self.req(type_, d)
        assert reply["ok"] is True, reply
        return reply.get("d")

    async def silent(self, wait: float = 0.15) -> bool:
        """True if nothing arrives within ``wait`` seconds."""
        with anyio.move_on_after(wait):
            frame = await self.conn.recv()
            raise AssertionError(f"unexpected frame {frame!r}")
        return True


@asynccontextmanager
async def ws(sb: Sandbox, user: str, *, query: str = "", path: str = "/ws") -> AsyncIterator[WS]:
    url = f"ws://{sb.host}:{sb.port}{path}{query}"
    async with connect(url, additional_headers=auth(sb, user)) as conn:
        yield WS(conn)


def fixed_clock(sb: Sandbox) -> None:
    from datetime import UTC, datetime

    sb.clock = lambda: datetime(2026, 4, 18, 9, 30, 5, 123456, tzinfo=UTC)
