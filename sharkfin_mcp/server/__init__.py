"""The sharkfin-mcp MCP server: Sharkfin's operations as typed tools, resources and prompts,
plus a buffered event stream. ``build_server(settings)`` returns a ready ``MCPServer``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from .._version import __version__
from ._config import DEFAULT_URL, ConfigError, Settings
from ._prompts import CHANNEL_INSTRUCTIONS, INSTRUCTIONS, register_prompts
from ._push import ChannelPush, install
from ._resources import RuntimeRef, register_resources
from ._runtime import QuietBus, Runtime, open_runtime
from ._sessions import on_handshake
from ._tools import CORE_TOOLS, register_tools

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
        log_level=settings.log_level,  # type: ignore[arg-type]
    )

    def include(name: str, annotations: ToolAnnotations) -> bool:
        if settings.read_only and not annotations.read_only_hint:
            return False
        return settings.tool_profile == "all" or name in CORE_TOOLS

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
    return mcp
