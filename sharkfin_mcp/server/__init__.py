"""The sharkfin-mcp MCP server: Sharkfin's operations as typed tools, resources and prompts,
plus a buffered event stream. ``build_server(settings)`` returns a ready ``MCPServer``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp.server import MCPServer

from .._version import __version__
from ._config import DEFAULT_URL, ConfigError, Settings
from ._lifespan import open_runtime
from ._notify import QuietBus
from ._prompts import CHANNEL_INSTRUCTIONS, INSTRUCTIONS, register_prompts
from ._protocol_errors import install_protocol_errors
from ._push import ChannelPush, install
from ._resources import RuntimeRef, register_resources
from ._runtime import Runtime
from ._sessions import on_handshake
from .tools import ToolSpec, register_tools

__all__ = ["DEFAULT_URL", "ConfigError", "Runtime", "Settings", "build_server"]


def build_server(settings: Settings) -> MCPServer[Runtime]:
    bus = QuietBus()
    ref = RuntimeRef()
    push = ChannelPush(settings) if settings.channel_push else None

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        async with open_runtime(settings, bus) as runtime, AsyncExitStack() as stack:
            if push is not None:
                await stack.enter_async_context(push.running(runtime))
            ref.runtime = runtime
            try:
                yield runtime
            finally:
                ref.runtime = None

    mcp: MCPServer[Runtime] = MCPServer(
        "sharkfin",
        title="Sharkfin",
        description="Chat with agents and people on a Sharkfin server",
        version=__version__,
        instructions=INSTRUCTIONS + (CHANNEL_INSTRUCTIONS if push else ""),
        lifespan=lifespan,
        subscriptions=bus,
        log_level=settings.log_level,
    )

    def include(spec: ToolSpec) -> bool:
        if settings.read_only and not spec.annotations.read_only_hint:
            return False
        if spec.admin:
            return settings.admin_tools
        return not settings.core_only or spec.core

    def opened(runtime: Runtime, session: Any) -> None:
        runtime.readers.opened(session)
        if push is not None:
            push.opened(session)

    on_handshake(mcp, opened)
    if push is not None:
        install(mcp, push, settings)
    register_tools(mcp, include)
    register_resources(mcp, ref)
    register_prompts(mcp)
    install_protocol_errors(mcp)
    return mcp
