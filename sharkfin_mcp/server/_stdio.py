"""A stdio transport without worker threads, for the latency of every tool call.

The SDK's ``stdio_server`` reads and writes through anyio's file wrappers, so each request costs
three thread hops (read a line, write, flush); profiled, that was a quarter of the server's time
per call. Here stdin and stdout are asyncio pipe transports, handed to the SDK's ``stdio_server``
as its explicit streams (which it supports), so framing and parsing stay the SDK's.

Like the SDK, it keeps stray output off the wire: while serving, fd 0 reads the null device and
fd 1 points at stderr, and the protocol uses private duplicates; both are restored on exit. Where
asyncio cannot drive the descriptors (regular files, Windows), the SDK's transport is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.stdio import stdio_server

__all__ = ["serve_stdio"]

MAX_LINE = 64 * 1024 * 1024


class _Lines:
    """``async for line in stdin`` over an asyncio StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", "replace")


class _Writer:
    """``await stdout.write(text)`` / ``await stdout.flush()`` over an asyncio StreamWriter."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


def _is_pipe_like(fd: int) -> bool:
    """Pipes and sockets only: character devices include /dev/null, which epoll refuses (the
    server would then never see EOF); a terminal works through the SDK's transport."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextlib.asynccontextmanager
async def _claimed_pipes() -> AsyncIterator[tuple[_Lines, _Writer]]:
    loop = asyncio.get_running_loop()
    saved = os.dup(0), os.dup(1)  # to put the wire back on 0 and 1 afterwards
    wire_in, wire_out = os.dup(0), os.dup(1)  # owned (and closed) by the transports
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # a stray print() now lands on stderr, not in the protocol
    transports: list[asyncio.BaseTransport] = []
    try:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
        )
        transports.append(read_transport)
        write_transport, write_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
        )
        transports.append(write_transport)
        yield _Lines(reader), _Writer(asyncio.StreamWriter(write_transport, write_protocol, None, loop))
    finally:
        for transport in transports:
            transport.close()
        for fd, original in zip((0, 1), saved, strict=True):
            os.dup2(original, fd)
            os.close(original)
            with contextlib.suppress(OSError):
                os.set_blocking(fd, True)  # asyncio made the shared file description non-blocking


async def serve_stdio(mcp: Any) -> None:
    """Run ``mcp`` (an MCPServer) on stdin/stdout until stdin closes."""
    low = mcp._lowlevel_server  # the same call MCPServer.run_stdio_async makes
    options = low.create_initialization_options()
    usable = sys.platform != "win32" and all(_is_pipe_like(fd) for fd in (0, 1))
    if not usable:
        await mcp.run_stdio_async()
        return
    async with _claimed_pipes() as (lines, writer):  # noqa: SIM117 - the second needs the first
        async with stdio_server(stdin=lines, stdout=writer) as (read, write):  # type: ignore[arg-type]
            await low.run(read, write, options)
