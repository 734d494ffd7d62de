"""The MCP SDK internals this server relies on, in one place.

Each entry names the SDK version it was checked against; ``tests/server/test_compat.py`` fails
loudly if one of them disappears or changes shape, so an SDK upgrade breaks there first and
not in a confusing way somewhere else.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from pydantic import model_validator

__all__ = ["CHECKED_AGAINST", "WholeArguments", "registered_tool"]

CHECKED_AGAINST = "2.3.0"
"""The ``mcp`` version every entry below was read against."""


def registered_tool(mcp: MCPServer[Any], name: str) -> Tool:
    """The SDK's record of a tool added with the public ``add_tool``.

    mcp 2.3.0: ``MCPServer._tool_manager.get_tool(name)``; there is no public getter, and the
    record is where the published ``parameters`` (the inputSchema) and the argument model live.
    """
    tool = mcp._tool_manager.get_tool(name)
    if tool is None:
        raise LookupError(f"tool {name!r} is not registered")
    return tool


class WholeArguments(ArgModelBase):
    """An argument model that hands a tool its arguments object untouched, as ``arguments``.

    mcp 2.3.0: ``Tool.run`` validates arguments with ``fn_metadata.arg_model`` (a public, live
    field) before calling the function, and turns a failure into pydantic's text. Our own
    validation (``_arguments``) runs inside the function instead, so that failures read as one
    plain sentence; this model only carries the object there. ``ArgModelBase`` supplies the
    ``model_dump_one_level`` the SDK calls on it.
    """

    arguments: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, data: Any) -> dict[str, Any]:
        return {"arguments": dict(data) if isinstance(data, dict) else {}}
