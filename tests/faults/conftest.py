"""Fault-injection fixtures: an MCP server (in memory, handshake era) on a sandbox we can break."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import Settings, build_server


def settings_for(sb: Sandbox, username: str = "agent", **overrides: Any) -> Settings:
    base = Settings(url=sb.ws_url, api_key=sb.key(username), api_key_source="test", presence=False)
    return base.model_copy(update=overrides)


async def ready(client: Client, deadline: float = 5.0) -> None:
    """Wait until the server's background connection is up and it knows who it is."""
    with anyio.fail_after(deadline):
        while (await client.call_tool("whoami", {})).is_error:
            await anyio.sleep(0.02)


@pytest.fixture
def slow_reconnect(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Make the server wait a fixed time before each reconnect attempt: a deterministic window
    in which the daemon is up but the server is not connected."""

    def apply(delay: float) -> None:
        monkeypatch.setattr("sharkfin_mcp.server._lifespan.reconnect_backoff", lambda: lambda attempt: delay)

    return apply


@pytest.fixture
async def mcp_on(sandbox: Sandbox) -> AsyncIterator[Callable[..., Any]]:
    """``async with mcp_on(**settings) as client`` — a ready MCP client on the sandbox."""

    @asynccontextmanager
    async def open_client(**overrides: Any) -> AsyncIterator[Client]:
        server = build_server(settings_for(sandbox, **overrides))
        async with Client(server, mode="legacy") as client:
            await ready(client)
            yield client

    yield open_client


@asynccontextmanager
async def tool_target(**overrides: Any) -> AsyncIterator[tuple[Client, dict[str, list[str]]]]:
    """A fresh sandbox (agent and alice in #general) and a ready MCP client on it, with each
    listed tool's parameter names. No rate limit: the fuzzing is about input, not the loop
    breaker. ``overrides`` are further settings (``tool_profile=...``)."""
    async with Sandbox() as sandbox:
        for name in ("agent", "alice"):
            async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key(name)) as c:
                await c.join_channel("general")
        server = build_server(settings_for(sandbox, max_sends_per_minute=0, request_timeout=5.0, **overrides))
        async with Client(server, mode="legacy") as client:
            await ready(client)
            listed = (await client.list_tools()).tools
            yield client, {t.name: list(t.input_schema.get("properties", {})) for t in listed}
