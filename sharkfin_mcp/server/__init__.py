"""The sharkfin-mcp MCP server: Sharkfin's operations as typed tools, resources and prompts,
plus a buffered event stream. ``build_server(settings)`` returns a ready ``MCPServer``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from .._version import __version__
from ._admin_tools import register_admin_tools
from ._config import DEFAULT_URL, ConfigError, Settings
from ._prompts import INSTRUCTIONS, register_prompts
from ._protocol_errors import install_protocol_errors
from ._resources import RuntimeRef, register_resources
from ._runtime import QuietBus, Runtime, open_runtime
from ._sessions import on_handshake
from ._tools import CORE_TOOLS, register_tools

__all__ = ["DEFAULT_URL", "ConfigError", "Runtime", "Settings", "build_server"]


def build_server(settings: Settings) -> MCPServer[Runtime]:
    bus = QuietBus()
    ref = RuntimeRef()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        async with open_runtime(settings, bus) as runtime:
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
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        subscriptions=bus,
        log_level=settings.log_level,
    )

    def include(name: str, annotations: ToolAnnotations) -> bool:
        if settings.read_only and not annotations.read_only_hint:
            return False
        return not settings.core_only or name in CORE_TOOLS

    on_handshake(mcp, lambda runtime, session: runtime.readers.opened(session))
    register_tools(mcp, include)
    if settings.admin_tools:
        register_admin_tools(mcp, read_only=settings.read_only)
    register_resources(mcp, ref)
    register_prompts(mcp)
    install_protocol_errors(mcp)
    return mcp
