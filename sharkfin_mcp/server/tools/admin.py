"""The ``admin`` tool profile: Sharkfin's six role-administration tools (PROTOCOL.md §3, §10.2);
``get_settings`` and ``set_setting`` (in ``webhooks``) belong to the profile too.

Off by default (``SHARKFIN_TOOLS=all,admin`` or ``core,admin`` adds them), because they change
other identities' rights. Every call needs the caller's role to hold ``manage_roles``; the daemon
serves these only on ``/mcp``, which the client reaches by itself (``client.AdminClient``). A role
change is pushed by the daemon as a ``capabilities`` event to the affected identities' ``/ws``
connections (§4.6), which their servers buffer for ``poll_events``.

Annotations follow the daemon's replies: ``set_role``, ``grant_permission`` and
``revoke_permission`` answer a repeat exactly as the first call (idempotent); ``create_role`` and
``delete_role`` refuse a repeat (role exists / not found), so a retry after a lost reply looks like
a failure: not idempotent. ``set_role`` replaces a role and may take permissions away, so it is
destructive, as are ``delete_role`` and ``revoke_permission``.

One deviation from the daemon: ``set_role`` refuses a role that does not exist (the daemon accepts
any name, silently leaving the user with no permissions at all).
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from ...client import Role
from .._render import clean, lines
from .._results import Out, result
from ._params import _without
from ._spec import APPEND, DESTROY, READ, REMOVE, WRITE, Ctx, ToolSpec, runtime

__all__ = ["TOOLS", "role_line"]

# The admin profile is off by default, so its schemas keep every check: its bytes are paid only by
# the operators who turn it on, and these names change other identities' rights.
Username = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Username, e.g. alice"),
    _without("@"),
]
RoleName = Annotated[
    str, Field(min_length=1, max_length=200, description="Role name, e.g. user (see list_roles)")
]
Permission = Annotated[
    str, Field(min_length=1, max_length=100, description="Permission name, e.g. create_channel")
]


# -- results ---------------------------------------------------------------------------------------


class RoleOut(Out):
    name: str
    built_in: bool
    permissions: list[str] = Field(description="Sorted; empty when the role has none")


class ListRolesResult(Out):
    roles: list[RoleOut]


class SetRoleResult(Out):
    username: str
    role: str


class CreateRoleResult(Out):
    role: str


class DeleteRoleResult(Out):
    role: str


class GrantResult(Out):
    role: str
    permission: str


class RevokeResult(Out):
    role: str
    permission: str


def role_line(role: Role) -> str:
    """``name (built-in): perm, perm`` on one line, every field escaped."""
    kind = " (built-in)" if role.built_in else ""
    perms = ", ".join(clean(p) for p in role.permissions) or "no permissions"
    return f"{clean(role.name)}{kind}: {perms}"


# -- the tools -------------------------------------------------------------------------------------


async def list_roles(ctx: Ctx) -> Annotated[CallToolResult, ListRolesResult]:
    """Every Sharkfin role with its permissions (needs manage_roles)."""
    roles = await runtime(ctx).call(lambda c: c.list_roles())
    out = ListRolesResult(
        roles=[RoleOut(name=r.name, built_in=r.built_in, permissions=list(r.permissions)) for r in roles]
    )
    return result(out, lines(roles, role_line, "no roles"))


async def set_role(username: Username, role: RoleName, ctx: Ctx) -> Annotated[CallToolResult, SetRoleResult]:
    """Give a user an existing role, replacing their current one (needs manage_roles)."""
    rt = runtime(ctx)
    if role not in {r.name for r in await rt.call(lambda c: c.list_roles())}:
        raise ToolError(
            f"role {role!r} does not exist (list_roles shows the roles; create_role makes one); "
            "nothing was changed"
        )
    await rt.call(lambda c: c.set_role(username, role))
    out = SetRoleResult(username=username, role=role)
    return result(out, f"{clean(username)} now has role {clean(role)}")


async def create_role(name: RoleName, ctx: Ctx) -> Annotated[CallToolResult, CreateRoleResult]:
    """Create a custom role with no permissions; add them with grant_permission (needs manage_roles)."""
    await runtime(ctx).call(lambda c: c.create_role(name))
    return result(CreateRoleResult(role=name), f"created role {clean(name)} (no permissions yet)")


async def delete_role(name: RoleName, ctx: Ctx) -> Annotated[CallToolResult, DeleteRoleResult]:
    """Delete a custom role that has no permissions left (needs manage_roles)."""
    await runtime(ctx).call(lambda c: c.delete_role(name))
    return result(DeleteRoleResult(role=name), f"deleted role {clean(name)}")


async def grant_permission(
    role: RoleName, permission: Permission, ctx: Ctx
) -> Annotated[CallToolResult, GrantResult]:
    """Grant a permission to a role, for every identity holding it (needs manage_roles)."""
    await runtime(ctx).call(lambda c: c.grant_permission(role, permission))
    out = GrantResult(role=role, permission=permission)
    return result(out, f"granted {clean(permission)} to role {clean(role)}")


async def revoke_permission(
    role: RoleName, permission: Permission, ctx: Ctx
) -> Annotated[CallToolResult, RevokeResult]:
    """Revoke a permission from a role; revoking one it lacks does nothing (needs manage_roles)."""
    await runtime(ctx).call(lambda c: c.revoke_permission(role, permission))
    out = RevokeResult(role=role, permission=permission)
    return result(out, f"revoked {clean(permission)} from role {clean(role)}")


# -- the profile -----------------------------------------------------------------------------------


TOOLS = [
    ToolSpec(list_roles, READ, admin=True),
    ToolSpec(set_role, REMOVE, admin=True),
    ToolSpec(create_role, APPEND, admin=True),
    ToolSpec(delete_role, DESTROY, admin=True),
    ToolSpec(grant_permission, WRITE, admin=True),
    ToolSpec(revoke_permission, REMOVE, admin=True),
]
