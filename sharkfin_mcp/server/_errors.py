"""Failures explained for the agent that has to recover from them.

The inner layers (``Runtime``, the send policy, the inbox) raise :class:`Refusal`, our own error,
and know nothing of MCP's exception types. The edges translate it: the tool wrapper
(``_arguments.add_tool``) into ``ToolError`` (an ``isError`` result), ``_resources`` into
``ResourceError`` (a JSON-RPC error).
"""

from __future__ import annotations

from ..client import (
    AuthenticationError,
    ConnectError,
    InvalidMetadata,
    NotConnected,
    PermissionDenied,
    RequestTimeout,
    ServerError,
    SharkfinError,
    WrongAddress,
)

__all__ = ["STORE_ERRORS", "Refusal", "connection_problem", "explain"]


class Refusal(Exception):
    """A request that could not be carried out; the message says why and what to do."""

STORE_ERRORS = (
    ("UNIQUE constraint failed: channels.name", "that name is taken by a channel or DM (see channel_list)"),
    (
        "UNIQUE constraint failed: mention_groups.slug",
        "that mention group exists already (mention_group_list)",
    ),
    ("mark read: constraint failed: FOREIGN KEY", "no message has that message_id (take ids from history)"),
)
"""The daemon's raw database errors (PROTOCOL.md §4.5) and what they mean for the agent."""


def connection_problem(url: str, last_error: SharkfinError | None, key_source: str) -> str:
    """Why there is no connection, and what a person or agent can do about it."""
    if isinstance(last_error, AuthenticationError):
        return (
            f"Sharkfin at {url} rejected the API key ({key_source}). Ask the operator to fix "
            "SHARKFIN_API_KEY (or SHARKFIN_API_KEY_FILE) in this MCP server's configuration and "
            "restart it; retrying will not help until then."
        )
    if isinstance(last_error, WrongAddress):
        return (
            f"{last_error}. Ask the operator to fix SHARKFIN_URL in this MCP server's configuration "
            "and restart it; retrying will not help until then."
        )
    if isinstance(last_error, ConnectError):
        return (
            f"Sharkfin is not reachable at {url} ({last_error}). Check that the daemon is running "
            "and that SHARKFIN_URL is right; use 127.0.0.1, not localhost (the daemon listens on "
            "IPv4 only). This server keeps reconnecting by itself: call the tool again shortly."
        )
    detail = f" ({last_error})" if last_error else ""
    return (
        f"not connected to Sharkfin at {url} yet{detail}; this server is (re)connecting by itself, "
        "call the tool again in a few seconds."
    )


def explain(exc: SharkfinError, *, username: str | None, role: str | None) -> Refusal:
    """``exc`` as a :class:`Refusal` whose text tells the agent (or its operator) what to do."""
    if isinstance(exc, PermissionDenied) and exc.permission:
        who = f"identity {username!r} (role {role!r})" if username else "this identity"
        return Refusal(
            f"{exc.message}: the Sharkfin role of {who} lacks the {exc.permission!r} permission. "
            f"A Sharkfin admin can grant it (e.g. `sharkfin admin grant {role or '<role>'} "
            f"{exc.permission}`, or `sharkfin admin set-role {username or '<user>'} <role>`); "
            "until then, do not retry this call."
        )
    if isinstance(exc, PermissionDenied):
        return Refusal(f"{exc.message} (join or be invited to the channel first, where that applies)")
    if isinstance(exc, NotConnected):
        return Refusal(f"{exc}. Call the tool again shortly.")
    if isinstance(exc, RequestTimeout):
        return Refusal(f"{exc}. Check with history before retrying a send.")
    if isinstance(exc, InvalidMetadata):
        return Refusal(f'{exc}; pass metadata as a JSON object, e.g. {{"kind": "status"}}')
    if isinstance(exc, ServerError):
        for raw, plain in STORE_ERRORS:
            if raw in exc.message:
                return Refusal(f"Sharkfin refused the request: {plain}")
        return Refusal(f"Sharkfin refused the request: {exc.message}")
    return Refusal(str(exc))
