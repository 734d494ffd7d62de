"""The MCP SDK internals this server relies on, in one place.

Each entry names the SDK version it was checked against; ``tests/server/test_compat.py`` fails
loudly if one of them disappears or changes shape, so an SDK upgrade breaks there first and
not in a confusing way somewhere else.
"""

from __future__ import annotations

from typing import Any

from mcp.server import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata

__all__ = [
    "CHECKED_AGAINST",
    "ArgumentsAsGiven",
    "lowlevel_server",
    "pass_arguments_as_given",
    "registered_tool",
    "session_connection",
]

CHECKED_AGAINST = "2.3.0"
"""The ``mcp`` version every entry below was read against."""


def lowlevel_server(mcp: MCPServer[Any]) -> Server[Any]:
    """The low-level ``Server`` inside an ``MCPServer``.

    mcp 2.3.0: ``MCPServer._lowlevel_server``. Needed to run it on our own stdio streams (what
    ``MCPServer.run_stdio_async`` does with it) and to serve handshake-era ``resources/subscribe``,
    for which ``MCPServer`` has no public hook.
    """
    return mcp._lowlevel_server


def session_connection(session: Any) -> Any | None:
    """The connection behind a ``ServerSession`` (``None`` for modern-era requests, which have none).

    mcp 2.3.0: ``ServerSession._connection``. The SDK builds a new ``ServerSession`` for every
    request, so only the connection can key what must outlive one call (event readers,
    handshake-era subscriptions); ``ServerSession`` exposes no public accessor for it.
    """
    return getattr(session, "_connection", None)


def registered_tool(mcp: MCPServer[Any], name: str) -> Tool:
    """The SDK's record of a tool added with the public ``add_tool``.

    mcp 2.3.0: ``MCPServer._tool_manager.get_tool(name)``; there is no public getter, and the
    record is where the published ``parameters`` (the inputSchema) and the argument model live.
    """
    tool = mcp._tool_manager.get_tool(name)
    if tool is None:
        raise LookupError(f"tool {name!r} is not registered")
    return tool


class ArgumentsAsGiven(FuncMetadata):
    """Hands a tool its arguments object untouched, as the keyword argument ``arguments``.

    mcp 2.3.0: ``Tool.run`` calls ``fn_metadata.validate_arguments(arguments)`` (a public method
    of the public ``FuncMetadata``; the SDK's docstring: "Validate raw arguments into a one-level
    kwargs dict") before the function, and turns a failure into pydantic's text. Our validation
    (``_arguments``) runs inside the function instead, so that a failure reads as one plain
    sentence; this only carries the object there, with no second pass over it.

    It also keeps the output schema but not the output model: mcp 2.3.0's ``convert_result``
    validates a returned ``CallToolResult`` against the model, and ours are dumped from that very
    model (``_results.result``), so that was a second pass over every result on the hot path.
    A schema without a model is published unchanged ("advertised but not validated here").
    """

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        return {"arguments": arguments_to_validate}


def pass_arguments_as_given(tool: Tool) -> None:
    """Make ``tool`` receive its raw arguments object, and skip re-validating its results (see
    :class:`ArgumentsAsGiven`)."""
    old = tool.fn_metadata
    tool.fn_metadata = ArgumentsAsGiven(
        arg_model=old.arg_model,
        output_schema=old.output_schema,
        output_model=None,
        wrap_output=old.wrap_output,
    )
