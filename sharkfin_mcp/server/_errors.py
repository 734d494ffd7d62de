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

__all__ = ["STORE_ERRORS", "Refusal", "admin_note", "connection_problem", "explain", "permission_fix"]


class Refusal(Exception):
    """A request that could not be carried out; the message says why and what to do."""

STORE_ERRORS = (
    ("UNIQUE constraint failed: channels.name", "that name is taken by a channel or DM (see channel_list)"),
    (
        "UNIQUE constraint failed: mention_groups.slug",
        "that mention group exists already (mention_group_list)",
    ),
    ("mark read: constraint failed: FOREIGN KEY", "no message has that message_id (take ids from history)"),
    ("UNIQUE constraint failed: roles.name", "that role exists already (list_roles)"),
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


def permission_fix(
    permission: str, *, username: str | None, role: str | None, manages_roles: bool, admin_tools: bool
) -> str:
    """How a missing ``permission`` gets granted, as the caller can act on it: with the admin
    profile's ``grant_permission`` when the caller itself holds ``manage_roles``, else by an admin."""
    role_arg, user_arg = role or "<role>", username or "<user>"
    grant = f"grant_permission(role={role_arg!r}, permission={permission!r})"
    if permission == "manage_roles":
        return (
            "Role administration should stay with admins: ask a Sharkfin admin to make this change "
            f"(or to set_role {user_arg!r} to admin if it is meant to administer roles); until then, "
            "do not retry this call."
        )
    if manages_roles and admin_tools:
        return (
            f"This identity holds manage_roles, so it can fix this itself: {grant} (every identity "
            f"with role {role_arg!r} gains it), then retry."
        )
    if manages_roles:
        return (
            "This identity holds manage_roles, but this server's admin tools are off: restart it with "
            f"SHARKFIN_TOOLS=all,admin and call {grant}, or run `sharkfin admin grant {role_arg} "
            f"{permission}`; until then, do not retry this call."
        )
    return (
        f"A Sharkfin admin can grant it ({grant} with sharkfin-mcp's admin tools, `sharkfin admin "
        f"grant {role_arg} {permission}`, or `sharkfin admin set-role {user_arg} <role>`); "
        "until then, do not retry this call."
    )


def admin_note(permissions: list[str], admin_tools: bool) -> str:
    """whoami's hint for an identity that can administer roles ("" for one that cannot)."""
    if "manage_roles" not in permissions:
        return ""
    if admin_tools:
        return "; role tools on (list_roles, set_role, grant_permission, revoke_permission ...)"
    return "; role tools off (SHARKFIN_TOOLS=all,admin adds grant_permission, set_role ...)"


def explain(
    exc: SharkfinError,
    *,
    username: str | None,
    role: str | None,
    manages_roles: bool = False,
    admin_tools: bool = False,
) -> Refusal:
    """``exc`` as a :class:`Refusal` whose text tells the agent (or its operator) what to do.

    ``manages_roles``: the caller's role holds ``manage_roles``; ``admin_tools``: the admin
    profile is on. Both only shape the advice for a missing permission."""
    if isinstance(exc, PermissionDenied) and exc.permission:
        who = f"identity {username!r} (role {role!r})" if username else "this identity"
        fix = permission_fix(
            exc.permission, username=username, role=role, manages_roles=manages_roles, admin_tools=admin_tools
        )
        return Refusal(
            f"{exc.message}: the Sharkfin role of {who} lacks the {exc.permission!r} permission. {fix}"
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
