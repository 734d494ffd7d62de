"""The SDK internals ``_compat`` reaches into: this fails loudly, and first, on an SDK upgrade
that moves or reshapes one of them."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
from mcp import Client
from mcp.server import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

from sharkfin_mcp.server import _compat
from sharkfin_mcp.server._arguments import add_tool


async def probe(limit: int = 3) -> str:
    """A probe."""
    return str(limit)


def test_the_checked_sdk_version_is_the_installed_one() -> None:
    installed = importlib.metadata.version("mcp")
    assert installed.split(".")[:2] == _compat.CHECKED_AGAINST.split(".")[:2], (
        f"mcp {installed} is installed: re-read every entry of _compat, then update CHECKED_AGAINST"
    )


def test_registered_tool_and_arguments_as_given() -> None:
    server: MCPServer[Any] = MCPServer("probe")
    spec = add_tool(server, probe, annotations=ToolAnnotations(read_only_hint=True), description="A probe.")
    tool = _compat.registered_tool(server, "probe")
    assert tool.parameters == spec.schema  # what tools/list publishes
    assert isinstance(tool.fn_metadata, _compat.ArgumentsAsGiven)
    assert tool.fn_metadata.output_schema is not None  # the output schema survived the swap
    raw = {"limit": "x", "extra": None}
    assert tool.fn_metadata.validate_arguments(raw) == {"arguments": raw}
    with pytest.raises(LookupError):
        _compat.registered_tool(server, "absent")


def test_lowlevel_server() -> None:
    server: MCPServer[Any] = MCPServer("probe")
    low = _compat.lowlevel_server(server)
    assert isinstance(low, Server)
    assert callable(low.add_request_handler) and callable(low.create_initialization_options)
    assert server.middleware is low.middleware  # the public middleware list is the low-level one


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_session_connection_is_stable_per_handshake_era_client(mode: str) -> None:
    """Handshake-era requests of one client share one connection object; modern-era requests
    have none (what ``_sessions.connection_key`` relies on)."""
    seen: list[Any] = []
    server: MCPServer[Any] = MCPServer("probe")

    @server.tool()
    async def who(ctx: Context) -> str:
        seen.append(_compat.session_connection(ctx.session))
        return "ok"

    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        await client.call_tool("who", {})
        await client.call_tool("who", {})
    if mode == "legacy":
        assert seen[0] is not None and seen[0] is seen[1]
        assert hasattr(seen[0], "protocol_version") and hasattr(seen[0], "session_id")
    else:
        assert all(c is None or c.protocol_version == "2026-07-28" for c in seen)
