"""Fixtures for the MCP server tests: a sandbox daemon, an in-memory MCP client acting as
``agent`` in either protocol era, and a plain Sharkfin client acting as ``alice``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import Settings, build_server

MODES = ["legacy", "auto"]
"""``legacy`` = handshake era (2025-11-25, what real clients speak); ``auto`` = 2026-07-28."""


def text_of(result: CallToolResult) -> str:
    assert result.content, result
    first = result.content[0]
    assert first.type == "text"
    return first.text


async def call_ok(client: Client, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
    result = await client.call_tool(name, args or {})
    assert not result.is_error, f"{name}({args}) failed: {text_of(result)}"
    assert result.structured_content is not None
    return result


async def structured(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """``call_ok``'s structured content."""
    out = (await call_ok(client, tool, args)).structured_content
    assert out is not None
    return out


def message_ids(out: dict[str, Any]) -> list[int]:
    """The ids of the ``message.new`` events in an event tool's structured result."""
    return [e["data"]["id"] for e in out["events"] if e["type"] == "message.new"]


async def call_err(client: Client, name: str, args: dict[str, Any] | None = None) -> str:
    result = await client.call_tool(name, args or {})
    assert result.is_error, f"{name}({args}) should have failed: {result}"
    return text_of(result)


async def wait_ready(client: Client, deadline: float = 10.0) -> None:
    """Poll whoami until the background connection is up and the identity is known."""
    with anyio.fail_after(deadline):
        while True:
            result = await client.call_tool("whoami", {})
            if not result.is_error:
                return
            await anyio.sleep(0.05)


def agent_settings(sb: Sandbox, identity: str = "agent", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "url": sb.ws_url,
        "api_key": sb.key(identity),
        "api_key_source": "test",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


ConnectMCP = Callable[..., AbstractAsyncContextManager[Client]]


@dataclass
class ToolEnv:
    """A table's shared world: the agent server's MCP client, its sandbox and alice (a plain
    Sharkfin client), both in #general, in protocol era ``mode``. Subclass to add helpers."""

    client: Client
    sb: Sandbox
    alice: SharkfinClient
    mode: str

    async def call(self, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """``structured``: the tool must succeed; its structured content."""
        return await structured(self.client, tool, args)


E = TypeVar("E", bound=ToolEnv)


@asynccontextmanager
async def tool_env(env_type: type[E], mode: str, **overrides: Any) -> AsyncIterator[E]:
    """A fresh sandbox and a ready agent server on it (``overrides`` are its settings), for a
    module-scoped fixture shared by every case of one era."""
    async with Sandbox() as sb:
        server = build_server(agent_settings(sb, **overrides))
        async with (
            Client(server, mode=mode) as client,
            await SharkfinClient.connect(sb.ws_url, api_key=sb.key("alice")) as alice,
        ):
            await wait_ready(client)
            await call_ok(client, "channel_join", {"channel": "general"})
            await alice.join_channel("general")
            yield env_type(client, sb, alice, mode)


@pytest.fixture
def connect_mcp(sandbox: Sandbox) -> ConnectMCP:
    """``async with connect_mcp(mode, identity="agent", ready=True, **settings) as client``."""

    @asynccontextmanager
    async def connect(
        mode: str = "legacy", identity: str = "agent", ready: bool = True, **kwargs: Any
    ) -> AsyncIterator[Client]:
        extra = {k: kwargs.pop(k) for k in ("message_handler", "extensions") if k in kwargs}
        server = build_server(agent_settings(sandbox, identity, **kwargs))
        async with Client(server, mode=mode, **extra) as client:  # type: ignore[arg-type]
            if ready:
                await wait_ready(client)
            yield client

    return connect


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope (overriding the shared one) so module-scoped async fixtures are allowed."""
    return "asyncio"


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def mcp(connect_mcp: ConnectMCP, mode: str) -> AsyncIterator[Client]:
    """The MCP server acting as agent (admin), joined to #general, in the parametrized era."""
    async with connect_mcp(mode) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        yield client


@pytest.fixture
async def alice(sandbox: Sandbox) -> AsyncIterator[SharkfinClient]:
    """The other party: a plain Sharkfin client as alice, joined to #general."""
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as client:
        await client.join_channel("general")
        yield client
