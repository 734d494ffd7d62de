"""People and this identity: users, state, permissions, whoami (PROTOCOL.md §3, §5.8)."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.types import CallToolResult
from pydantic import Field

from .._errors import admin_note
from .._render import clean, lines, user_line
from .._results import CapabilitiesResult, StateResult, UsersResult, WhoamiResult, result
from ._spec import READ, WRITE, Ctx, ToolSpec, runtime

__all__ = ["TOOLS"]


async def user_list(ctx: Ctx) -> Annotated[CallToolResult, UsersResult]:
    """Everyone, and who is online."""
    users = await runtime(ctx).call(lambda c: c.users())
    return result(UsersResult(users=users), lines(users, user_line, "no users"))


async def set_state(
    state: Annotated[Literal["active", "idle"], Field(description="active or idle")], ctx: Ctx
) -> Annotated[CallToolResult, StateResult]:
    """Set your state: active or idle."""
    await runtime(ctx).call(lambda c: c.set_state(state))
    return result(StateResult(state=state), f"state set to {state}")


async def capabilities(ctx: Ctx) -> Annotated[CallToolResult, CapabilitiesResult]:
    """The permissions your role grants."""
    perms = await runtime(ctx).call(lambda c: c.capabilities())
    return result(CapabilitiesResult(permissions=perms), ", ".join(clean(p) for p in perms) or "none")


async def whoami(ctx: Ctx) -> Annotated[CallToolResult, WhoamiResult]:
    """Your identity, role and permissions."""
    rt = runtime(ctx)
    me = await rt.me()
    perms = await rt.call(lambda c: c.capabilities())
    out = WhoamiResult(
        username=me.username,
        type=me.type,
        role=me.role,
        permissions=perms,
        url=rt.client.url,
        connected=rt.client.connected,
        online=bool(rt.presence and rt.presence.online),
        admin_tools=rt.settings.admin_tools,
    )
    text = (
        f"{clean(me.username)} ({clean(me.type)}, role {clean(me.role)}) on {clean(rt.client.url)}; "
        "permissions: " + ", ".join(clean(p) for p in perms) + admin_note(perms, rt.settings.admin_tools)
    )
    return result(out, text)


TOOLS = [
    ToolSpec(user_list, READ, core=True),
    ToolSpec(set_state, WRITE),
    ToolSpec(capabilities, READ),
    ToolSpec(whoami, READ, core=True),
]
