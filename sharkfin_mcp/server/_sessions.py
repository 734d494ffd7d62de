"""Who is asking: a stable key for the MCP connection behind a request.

mcp 2.3 builds a new ``ServerSession`` for every request, so the session object cannot key
anything that must outlive one call (event cursors, handshake-era subscriptions). The connection
behind it is stable for handshake-era clients; streamable HTTP also names it with a session id.
Modern-era (2026-07-28) requests carry no connection at all, so for them the key falls back to
the process — right for stdio, where one process serves one client; such clients can always pass
an explicit cursor.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from mcp.server import MCPServer, ServerRequestContext
from mcp.types import NotificationParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ._compat import lowlevel_server, session_connection

__all__ = ["PROCESS", "ConnectionTable", "connection_key", "on_handshake"]

PROCESS = "process"
V = TypeVar("V")


def connection_key(session: Any) -> object:
    connection = session_connection(session)
    if connection is None or getattr(connection, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS:
        return PROCESS
    session_id = getattr(connection, "session_id", None)
    return session_id or id(connection)


def on_handshake(mcp: MCPServer[Any], callback: Callable[[Any, Any], None]) -> None:
    """Call ``callback(lifespan_context, session)`` when a handshake-era client sends
    ``notifications/initialized``: the moment its session begins (modern-era requests have none).

    ``MCPServer`` offers no public hook for client notifications in mcp 2.3, so this registers on
    its low-level server (see ``_compat``).
    """

    async def initialized(ctx: ServerRequestContext[Any], params: NotificationParams) -> None:
        callback(ctx.lifespan_context, ctx.session)

    low = lowlevel_server(mcp)
    low.add_notification_handler("notifications/initialized", NotificationParams, initialized)


class ConnectionTable(Generic[V]):
    """A per-connection value with a bound on how many connections are remembered, so that an
    HTTP server seeing thousands of short sessions does not grow without limit."""

    def __init__(self, limit: int = 1000) -> None:
        self._values: collections.OrderedDict[object, V] = collections.OrderedDict()
        self._limit = limit

    def get(self, session: Any, default: V | None = None) -> V | None:
        return self._values.get(connection_key(session), default)

    def set(self, session: Any, value: V) -> None:
        key = connection_key(session)
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self._limit:
            self._values.popitem(last=False)

    def pop(self, session: Any) -> None:
        self._values.pop(connection_key(session), None)

    def values(self) -> list[V]:
        return list(self._values.values())
